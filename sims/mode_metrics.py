"""The ring and grid of Gaussians and the mode-collapse metrics of VEEGAN and PacGAN.

Metrics, as in PacGAN's ``MetricLogger`` (fjxmlzn/PacGAN, ``pacgan/extensions.py``): each generated sample
is assigned to its nearest mode in units of the mode's standard deviation; it is *high quality* when that
distance is below 3; a mode is *captured* when at least one high-quality sample lands on it; the reverse KL
divergence compares the histogram of the high-quality samples over the modes with the data's uniform
weights. We add the earth-mover distance to the data (POT, exact), measured against the mode centres.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ot

from sims.checks import check_choice, check_finite, check_int, check_positive, check_probabilities, check_shape
from sims.seeding import as_generator

__all__ = ["Mixture", "mixture", "sample_mixture", "assign_modes", "mode_statistics",
           "earth_movers_distance", "emd_to_modes", "mean_and_se"]


@dataclass(frozen=True)
class Mixture:
    """An equal-weight mixture of isotropic 2-D Gaussians: ``means`` (K, 2), common ``std``."""

    name: str
    means: np.ndarray
    std: float


def mixture(name: str) -> Mixture:
    """PacGAN's data sets: ``"ring"`` (8 modes on the unit circle, std 0.01), ``"grid"`` (25 modes, std 0.05)."""
    check_choice(name, "name", ("ring", "grid"))
    if name == "ring":
        angles = 2 * np.pi * np.arange(8) / 8
        return Mixture("ring", np.stack([np.cos(angles), np.sin(angles)], axis=1), 0.01)
    ticks = np.arange(-4.0, 5.0, 2.0)
    return Mixture("grid", np.array([(a, b) for a in ticks for b in ticks]), 0.05)


def sample_mixture(mix: Mixture, n: int, rng) -> np.ndarray:
    """``n`` draws from ``mix``, shape (n, 2)."""
    n = check_int(n, "n", low=1)
    rng = as_generator(rng)
    modes = rng.integers(len(mix.means), size=n)
    return mix.means[modes] + mix.std * rng.standard_normal((n, 2))


def assign_modes(samples, mix: Mixture) -> tuple[np.ndarray, np.ndarray]:
    """Nearest mode of each sample and its distance in standard deviations; samples (N, 2) -> (N,), (N,)."""
    samples = check_shape(check_finite(samples, "samples"), (None, 2), "samples")
    dist = np.linalg.norm(samples[:, None, :] - mix.means[None, :, :], axis=-1) / mix.std   # (N, K)
    nearest = dist.argmin(axis=1)
    return nearest, dist[np.arange(len(samples)), nearest]


def mode_statistics(samples, mix: Mixture, *, threshold: float = 3.0) -> dict:
    """Modes captured, % of high-quality samples and reverse KL over the modes.

    The reverse KL is sum_k q_k log(q_k K), q the histogram of the high-quality
    samples over the K modes (0 when all modes are hit equally); NaN when no
    sample is of high quality.
    """
    threshold = check_positive(threshold, "threshold")
    nearest, dist = assign_modes(samples, mix)
    good = dist < threshold
    counts = np.bincount(nearest[good], minlength=len(mix.means)).astype(float)
    if counts.sum() == 0:
        reverse_kl = float("nan")
    else:
        q = counts / counts.sum()
        hit = q > 0
        reverse_kl = float(np.sum(q[hit] * np.log(q[hit] * len(q))))
    return {"modes": int(np.count_nonzero(counts)),
            "hq_percent": 100.0 * good.mean(), "reverse_kl": reverse_kl}


def earth_movers_distance(x, y, y_weights=None) -> float:
    """Exact W1 between equal-weight points x (N, 2) and points y (M, 2) with weights (default equal)."""
    x = check_shape(check_finite(x, "x"), (None, 2), "x")
    y = check_shape(check_finite(y, "y"), (None, 2), "y")
    y_weights = ot.unif(len(y)) if y_weights is None else check_probabilities(y_weights, "y_weights")
    cost = ot.dist(x, y, metric="euclidean")        # ot.dist defaults to squared Euclidean: W1 needs this
    return float(ot.emd2(ot.unif(len(x)), y_weights, cost, numItermax=1_000_000))


def emd_to_modes(samples, mix: Mixture) -> float:
    """W1 from the samples to the mode centres weighted 1/K: the data's W1 up to std * sqrt(pi/2).

    Moving each data point to its own centre costs E|N(0, std^2 I_2)| = std sqrt(pi/2), so by the
    triangle inequality this differs from W1(samples, data) by at most that (0.013 ring, 0.063 grid).
    Against the K centres the problem is N x K instead of N x N, and has no sampling noise on the data side.
    """
    return earth_movers_distance(samples, mix.means)


def mean_and_se(values) -> tuple[float, float]:
    """Mean and standard error (sample std / sqrt(n)) of a 1-D array of per-seed results."""
    values = check_finite(values, "values")
    if values.ndim != 1 or values.size < 2:
        raise ValueError(f"values must be 1-D with at least 2 entries, got shape {values.shape}")
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size))
