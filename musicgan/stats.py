"""Intervals for measures of a set of clips, by resampling pieces (a cluster bootstrap).

Clips cut from one piece share its key, tempo and voicing, so they are not independent draws: resampling clips
would give intervals that are too narrow. Every interval here resamples whole groups -- the pieces of a real
set, the 30-s pieces of a generated set, or single clips where each clip was drawn independently (a generator
sampled with fresh noise per clip) -- with replacement, and recomputes the statistic on the clips of the
groups drawn (Davison & Hinkley 1997, section 3.8; Field & Welsh 2007 on cluster bootstraps).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sims.checks import check_int, check_positive
from sims.seeding import as_generator

__all__ = ["Interval", "group_bootstrap", "two_sample_bootstrap", "mean_interval", "set_interval"]

N_BOOT = 1000
LEVEL = 0.95


class Interval(dict):
    """``{"mean": estimate on all clips, "lo": ..., "hi": ..., "n": clips, "groups": groups}``, JSON-ready."""

    def __str__(self) -> str:
        return f"{self['mean']:.3g} [{self['lo']:.3g}, {self['hi']:.3g}]"


def _group_index(groups, n: int) -> list[np.ndarray]:
    if groups is None:
        return [np.array([i]) for i in range(n)]
    labels = np.asarray(groups)
    if labels.shape != (n,):
        raise ValueError(f"groups must have one label per clip, shape ({n},), got {labels.shape}")
    _, inverse = np.unique(labels, return_inverse=True)
    return [np.flatnonzero(inverse == g) for g in range(inverse.max() + 1)]


def group_bootstrap(statistic: Callable[[np.ndarray], float], n: int, groups=None, *, n_boot: int = N_BOOT,
                    level: float = LEVEL, rng=0) -> Interval:
    """Percentile interval of ``statistic(clip_indices)`` when whole groups of clips are resampled.

    ``statistic`` maps an int array of clip indices (with repeats) to a float; ``groups``: a label per clip
    (None: every clip its own group). Returns an :class:`Interval`; NaN bounds if fewer than 2 groups.
    """
    check_int(n, "n", low=1)
    check_int(n_boot, "n_boot", low=1)
    check_positive(level, "level")
    members = _group_index(groups, n)
    estimate = float(statistic(np.arange(n)))
    if len(members) < 2:
        return Interval(mean=estimate, lo=np.nan, hi=np.nan, n=n, groups=len(members))
    gen = as_generator(rng)
    draws = np.array([statistic(_resample(members, gen)) for _ in range(n_boot)], dtype=np.float64)
    lo, hi = np.nanpercentile(draws, [50 * (1 - level), 50 * (1 + level)])
    return Interval(mean=estimate, lo=float(lo), hi=float(hi), n=n, groups=len(members))


def _resample(members: list[np.ndarray], gen: np.random.Generator) -> np.ndarray:
    return np.concatenate([members[g] for g in gen.integers(len(members), size=len(members))])


def two_sample_bootstrap(statistic: Callable[[np.ndarray, np.ndarray], float], n_a: int, n_b: int, groups_a=None,
                         groups_b=None, *, n_boot: int = 200, level: float = LEVEL, rng=0) -> Interval:
    """Percentile interval of ``statistic(indices_a, indices_b)`` -- a comparison of two sets, such as a
    Frechet distance or NDB between generated and held-out clips -- when the groups of *both* sets are
    resampled, so the interval also carries the sampling error of the reference set."""
    check_int(n_boot, "n_boot", low=1)
    members_a, members_b = _group_index(groups_a, n_a), _group_index(groups_b, n_b)
    estimate = float(statistic(np.arange(n_a), np.arange(n_b)))
    if min(len(members_a), len(members_b)) < 2:
        return Interval(mean=estimate, lo=np.nan, hi=np.nan, n=n_a, groups=len(members_a))
    gen = as_generator(rng)
    draws = np.array([statistic(_resample(members_a, gen), _resample(members_b, gen)) for _ in range(n_boot)])
    lo, hi = np.nanpercentile(draws, [50 * (1 - level), 50 * (1 + level)])
    return Interval(mean=estimate, lo=float(lo), hi=float(hi), n=n_a, groups=len(members_a))


def mean_interval(values, groups=None, **kwargs) -> Interval:
    """Mean of per-clip ``values`` ``(n,)`` (NaNs ignored) with its group-bootstrap interval."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"values must be a non-empty 1-D array, got shape {v.shape}")
    with np.errstate(invalid="ignore"):
        return group_bootstrap(lambda idx: np.nanmean(v[idx]) if np.any(np.isfinite(v[idx])) else np.nan,
                               v.size, groups, **kwargs)


def set_interval(statistic: Callable[[np.ndarray], float], n: int, groups=None, *, n_boot: int = 200,
                 **kwargs) -> Interval:
    """A statistic of the whole set (a Frechet distance, NDB) with its group-bootstrap interval; fewer
    resamples by default because each one recomputes the statistic."""
    return group_bootstrap(statistic, n, groups, n_boot=n_boot, **kwargs)
