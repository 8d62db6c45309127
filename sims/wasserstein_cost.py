"""Time and error of four ways to compute a Wasserstein distance from n samples per side.

The test pair is a translation: Q is P shifted by a vector ``t``. Then W1(P, Q) = |t| for every P (Jensen's
inequality gives ``W1 >= |E X - E Y| = |t|`` and the coupling ``Y = X + t`` attains it), so each method's
error against the population value is known exactly:

- ``exact``: ``ot.emd2`` on the n x n Euclidean cost (network simplex), 2-D, target |t|;
- ``sinkhorn``: ``ot.sinkhorn2`` with entropic regularisation ``reg`` and a fixed iteration count, 2-D,
  target |t| -- its error stops falling at the entropic bias;
- ``sliced``: ``ot.sliced_wasserstein_distance`` with ``p=1`` on L equally spaced directions, 2-D; it estimates
  the sliced distance ``mean_k |<omega_k, t>|`` (close to ``(2 / pi) |t|``), a different, smaller quantity;
- ``sort``: the 1-D formula ``mean |x_(i) - y_(i)|`` (a 1-D translation), target |t|.

Time is the minimum over repeats of the wall-clock time of the distance call alone (cost matrix included),
with BLAS and OpenMP held to one thread so that it measures work rather than thread scheduling on a shared
machine; error is the mean absolute error over the same repeats.
"""
from __future__ import annotations

import time

import numpy as np
import ot
from threadpoolctl import threadpool_limits

from sims.checks import check_choice, check_int, check_positive
from sims.seeding import as_generator
from sims.wasserstein import EMD_MAX_ITER, w1_sorted_samples

__all__ = ["METHODS", "EXPECTED_TIME_EXPONENT", "SHIFT", "population_value", "estimate", "time_and_error"]

METHODS = ("exact", "sinkhorn", "sliced", "sort")
# What each should follow as n grows (the log-log slope of time against n).
EXPECTED_TIME_EXPONENT = {"exact": "2 to 3 (O(n^3 log n) worst case)", "sinkhorn": "2 (n^2 per iteration)",
                          "sliced": "1 (L n log n)", "sort": "1 (n log n)"}
SHIFT = np.array([1.0, 0.5])  # the translation t between the 2-D clouds; |t| = 1.118
SINKHORN_REG = 0.05           # entropic regularisation, in units of the cost (distances of order 1)
SINKHORN_ITERS = 100          # fixed, so that time measures the per-iteration O(n^2) cost
N_DIRECTIONS = 32             # directions of the sliced distance


def population_value(method: str) -> float:
    """The population quantity each method estimates (see the module docstring)."""
    check_choice(method, "method", METHODS)
    if method == "sliced":  # a translation moves each projection by <omega, t>
        return float(np.mean(np.abs(SHIFT @ _directions(N_DIRECTIONS))))
    return float(np.linalg.norm(SHIFT))


def _directions(count: int) -> np.ndarray:
    """``count`` unit vectors at equally spaced angles in [0, pi), shape (2, count) as POT expects."""
    angles = np.pi * (np.arange(count) + 0.5) / count
    return np.stack([np.cos(angles), np.sin(angles)])


def draw_pair(method: str, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """n standard-normal points and n shifted ones: shape (n,) for ``sort``, (n, 2) otherwise."""
    rng = as_generator(rng)
    if method == "sort":
        return rng.standard_normal(n), rng.standard_normal(n) + np.linalg.norm(SHIFT)
    return rng.standard_normal((n, 2)), rng.standard_normal((n, 2)) + SHIFT


def estimate(method: str, xs: np.ndarray, ys: np.ndarray) -> float:
    """The method's distance between two equal-size samples."""
    check_choice(method, "method", METHODS)
    if method == "sort":
        return w1_sorted_samples(xs, ys)
    if method == "sliced":
        return float(ot.sliced_wasserstein_distance(xs, ys, p=1, projections=_directions(N_DIRECTIONS)))
    weights = ot.unif(len(xs))
    cost = ot.dist(xs, ys, metric="euclidean")
    if method == "exact":
        return float(ot.emd2(weights, weights, cost, numItermax=EMD_MAX_ITER))
    # stopThr=0: always SINKHORN_ITERS iterations, so the timing reflects the per-iteration cost
    return float(ot.sinkhorn2(weights, weights, cost, SINKHORN_REG, numItermax=SINKHORN_ITERS, stopThr=0.0))


def time_and_error(method: str, sizes, repeats: int, rng) -> dict[str, np.ndarray]:
    """For each n in ``sizes``: min wall time (s) and mean |estimate - population value| over ``repeats``."""
    check_choice(method, "method", METHODS)
    repeats = check_int(repeats, "repeats", low=1)
    rng = as_generator(rng)
    target = population_value(method)
    times, errors = [], []
    with threadpool_limits(limits=1):
        for n in sizes:
            best, err = _time_one(method, check_int(int(n), "sizes", low=2), repeats, rng, target)
            times.append(best)
            errors.append(err)
    return {"n": np.asarray(sizes, float), "time": np.array(times), "error": np.array(errors)}


def _time_one(method, n, repeats, rng, target) -> tuple[float, float]:
    """Min wall time and mean absolute error of ``repeats`` fresh draws at one size."""
    best, errs = np.inf, []
    for _ in range(repeats):
        xs, ys = draw_pair(method, n, rng)
        start = time.perf_counter()
        value = estimate(method, xs, ys)
        best = min(best, time.perf_counter() - start)
        errs.append(abs(value - target))
    return check_positive(best, "elapsed time"), float(np.mean(errs))
