"""W1 between discrete and sampled distributions, by independent routes that must agree.

Routes for 1-D discrete laws (support points ``x``, weights ``a``; ``y``, ``b``):

- ``w1_cdf``: ``int |F - G| dx`` over the merged support (the hand computation, in floats);
- ``w1_lp``: the linear programme ``min <P, C>`` over couplings, solved exactly by ``ot.emd2``;
- ``ot.wasserstein_1d`` (sorting, with ``p=1`` it returns W1 itself) and ``scipy.stats.wasserstein_distance``.

For point clouds in the plane: ``ot.emd2``, ``scipy.stats.wasserstein_distance_nd`` (its own LP) and, for two
clouds of ``n`` equally weighted points, the optimal assignment (``scipy.optimize.linear_sum_assignment``):
with uniform weights an optimal plan is a permutation (Birkhoff), so the LP and the assignment coincide.
"""
from __future__ import annotations

import numpy as np
import ot
from scipy.optimize import linear_sum_assignment
from scipy.stats import wasserstein_distance, wasserstein_distance_nd

from sims.checks import check_finite, check_int, check_positive, check_probabilities
from sims.seeding import as_generator

__all__ = ["euclidean_cost", "w1_cdf", "w1_lp", "optimal_plan", "monotone_plan", "w1_routes_1d",
           "w1_routes_cloud", "w1_sorted_samples", "sample_convergence", "parallel_lines", "parallel_lines_sweep", "loglog_slope",
           "lp_dual", "c_transform", "kantorovich_rubinstein_discrete",
           "two_sample_w1_by_dimension"]

EMD_MAX_ITER = 10_000_000  # POT's default (1e5) stops early on clouds of a few hundred points


def _check_law(values, weights, name: str, *, one_d: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Validate a discrete law: points of shape (n,) or (n, d), weights of shape (n,) summing to one.

    ``one_d``: the routes that only exist on the line; points (n, 1) become (n,), and (n, d > 1) is refused.
    """
    values = check_finite(values, f"{name} points")
    if values.ndim not in (1, 2) or len(values) == 0:
        raise ValueError(f"{name} points must have shape (n,) or (n, d), got {values.shape}")
    if one_d and values.ndim == 2:
        if values.shape[1] != 1:
            raise ValueError(f"{name} points must be 1-D, shape (n,) or (n, 1), got {values.shape}")
        values = values[:, 0]
    weights = np.full(len(values), 1.0 / len(values)) if weights is None else weights
    weights = check_probabilities(weights, f"{name} weights")
    if len(weights) != len(values):
        raise ValueError(f"{name} weights must have length {len(values)}, got {len(weights)}")
    return values, weights


def euclidean_cost(x, y) -> np.ndarray:
    """The (n, m) matrix of ``|x_i - y_j|`` for points of shape (n,) or (n, d) (ot.dist's default is squared)."""
    x2, y2 = np.asarray(x, float), np.asarray(y, float)
    x2, y2 = (x2[:, None] if x2.ndim == 1 else x2), (y2[:, None] if y2.ndim == 1 else y2)
    return ot.dist(x2, y2, metric="euclidean")


def w1_cdf(x, a, y, b) -> float:
    """W1 of two 1-D discrete laws as ``sum |F - G| dx`` between consecutive points of the merged support."""
    x, a = _check_law(x, a, "p", one_d=True)
    y, b = _check_law(y, b, "q", one_d=True)
    grid = np.union1d(x, y)  # sorted
    cdf_p = np.array([a[x <= g].sum() for g in grid[:-1]])
    cdf_q = np.array([b[y <= g].sum() for g in grid[:-1]])
    return float(np.sum(np.abs(cdf_p - cdf_q) * np.diff(grid)))


def optimal_plan(x, a, y, b) -> np.ndarray:
    """An optimal coupling (n, m) for the cost ``|x - y|`` (exact network simplex, ``ot.emd``)."""
    x, a = _check_law(x, a, "p")
    y, b = _check_law(y, b, "q")
    return ot.emd(a, b, euclidean_cost(x, y), numItermax=EMD_MAX_ITER)


def w1_lp(x, a, y, b) -> float:
    """W1 as the optimal value of the transport linear programme (``ot.emd2`` on the Euclidean cost)."""
    x, a = _check_law(x, a, "p")
    y, b = _check_law(y, b, "q")
    return float(ot.emd2(a, b, euclidean_cost(x, y), numItermax=EMD_MAX_ITER))


def lp_dual(x, a, y, b) -> tuple[np.ndarray, np.ndarray, float]:
    """Optimal variables (f, g) of the dual of the transport LP and its value, from ``ot.emd``'s log.

    The dual reads: maximise ``a . f + b . g`` subject to ``f_i + g_j <= |x_i - y_j|``; f has shape (n,), g
    shape (m,). By LP duality its value is W1.
    """
    x, a = _check_law(x, a, "p")
    y, b = _check_law(y, b, "q")
    _, log = ot.emd(a, b, euclidean_cost(x, y), numItermax=EMD_MAX_ITER, log=True)
    return np.asarray(log["u"]), np.asarray(log["v"]), float(log["cost"])


def c_transform(points, y, g) -> np.ndarray:
    """``h(z) = min_j (|z - y_j| - g_j)`` at each of ``points``: 1-Lipschitz, a minimum of 1-Lipschitz maps."""
    return np.min(euclidean_cost(points, y) - np.asarray(g)[None, :], axis=1)


def kantorovich_rubinstein_discrete(x, a, y, b) -> dict[str, float]:
    """Kantorovich-Rubinstein from the LP dual: the c-transform h of the optimal g is a 1-Lipschitz critic.

    h(x_i) >= f_i by the dual constraint and h(y_j) <= -g_j (take j itself), so ``a . h(x) - b . h(y)`` is at
    least the dual value; being 1-Lipschitz, (h, -h) is dual-feasible, so it is also at most W1. Returns the
    LP value ``w1``, the dual value ``dual``, the critic's value ``critic`` and its Lipschitz constant over all
    pairs of support points, ``lipschitz``.
    """
    x, a = _check_law(x, a, "p")
    y, b = _check_law(y, b, "q")
    f, g, _ = lp_dual(x, a, y, b)
    h_x, h_y = c_transform(x, y, g), c_transform(y, y, g)
    points, h = np.concatenate([x, y]), np.concatenate([h_x, h_y])
    dist = euclidean_cost(points, points)
    off = dist > 1e-12
    return {"w1": w1_lp(x, a, y, b), "dual": float(a @ f + b @ g), "critic": float(a @ h_x - b @ h_y),
            "lipschitz": float(np.max(np.abs(h[:, None] - h[None, :])[off] / dist[off]))}


def monotone_plan(a, b) -> np.ndarray:
    """The north-west-corner plan (n, m) for weights on sorted supports.

    Walk both weight vectors from the left, always moving as much mass
    as the current source and target still hold: the result couples
    F^-1(U) with G^-1(U) for one uniform U (the quantile coupling).
    """
    a = check_probabilities(a, "a")
    b = check_probabilities(b, "b")
    plan = np.zeros((len(a), len(b)))
    left_a, left_b = a.copy(), b.copy()  # mass still to ship / receive
    i = j = 0
    while i < len(a) and j < len(b):
        mass = min(left_a[i], left_b[j])
        plan[i, j] += mass
        left_a[i] -= mass
        left_b[j] -= mass
        # step past the side that is used up (to rounding); both if tied
        done_i, done_j = left_a[i] <= 1e-15, left_b[j] <= 1e-15
        i, j = i + done_i, j + done_j
    return plan


def w1_routes_1d(x, a, y, b) -> dict[str, float]:
    """W1 of two 1-D discrete laws by four routes, keyed by route name.

    The CDF sum (the hand computation in floats), the LP (``ot.emd2``), POT's sorting solver
    (``ot.wasserstein_1d``, which returns W_p^p: W1 itself for p = 1) and scipy's.
    """
    x, a = _check_law(x, a, "p", one_d=True)
    y, b = _check_law(y, b, "q", one_d=True)
    return {"CDF sum": w1_cdf(x, a, y, b),
            "ot.emd2": w1_lp(x, a, y, b),
            "ot.wasserstein_1d": float(ot.wasserstein_1d(x, y, a, b, p=1)),
            "scipy": float(wasserstein_distance(x, y, a, b))}


def w1_routes_cloud(x, y) -> dict[str, float]:
    """W1 between two clouds of ``n`` equally weighted points in the plane (shape (n, 2)), three routes."""
    x = check_finite(x, "x")
    y = check_finite(y, "y")
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"x and y must be (n, d) arrays of one shape, got {x.shape} and {y.shape}")
    cost = euclidean_cost(x, y)
    rows, cols = linear_sum_assignment(cost)
    return {"assignment (linear_sum_assignment)": float(cost[rows, cols].mean()),
            "LP (ot.emd2)": w1_lp(x, None, y, None),
            "LP (scipy wasserstein_distance_nd)": float(wasserstein_distance_nd(x, y))}


def w1_sorted_samples(xs, ys) -> float:
    """W1 between two equal-size 1-D samples: ``mean |x_(i) - y_(i)|`` (the quantile coupling)."""
    xs = check_finite(xs, "xs")
    ys = check_finite(ys, "ys")
    if xs.ndim != 1 or xs.shape != ys.shape:
        raise ValueError(f"xs and ys must be 1-D of one length, got {xs.shape} and {ys.shape}")
    return float(np.mean(np.abs(np.sort(xs) - np.sort(ys))))


def sample_convergence(draw_p, draw_q, sizes, repeats: int, rng) -> np.ndarray:
    """Estimates of W1 from ``n`` draws per side, ``repeats`` times per size; returns (len(sizes), repeats).

    ``draw_p(rng, n)`` and ``draw_q(rng, n)`` return 1-D samples.
    """
    repeats = check_int(repeats, "repeats", low=1)
    rng = as_generator(rng)
    sizes = [check_int(int(n), "sizes", low=1) for n in sizes]
    return np.array([[w1_sorted_samples(draw_p(rng, n), draw_q(rng, n)) for _ in range(repeats)]
                     for n in sizes])


def two_sample_w1_by_dimension(dims, sizes, repeats: int, rng) -> np.ndarray:
    """Mean exact W1 between two independent n-samples of U[0, 1]^d, shape (len(dims), len(sizes)).

    Both laws are the same, so the mean is pure sampling error; for d >= 3 it falls like n^(-1/d)
    (Dudley 1969; Fournier and Guillin 2015), for d = 1 like n^(-1/2) and for d = 2 like n^(-1/2) log n.
    """
    rng = as_generator(rng)
    repeats = check_int(repeats, "repeats", low=1)
    out = np.empty((len(dims), len(sizes)))
    for i, d in enumerate(dims):
        d = check_int(d, "d", low=1)
        for j, n in enumerate(sizes):
            n = check_int(n, "n", low=1)
            out[i, j] = np.mean([w1_lp(rng.random((n, d)), None, rng.random((n, d)), None) for _ in range(repeats)])
    return out


def parallel_lines(theta: float, n_points: int = 200) -> dict[str, float]:
    """W1, JS, KL(P_0 || P_theta) and TV between the parallel lines, computed on discretised supports.

    P_0 and P_theta put mass 1/n on the points (0, z_k) and (theta, z_k), z_k the midpoints of n cells of
    [0, 1]. W1 comes from the LP (``ot.emd2``); the divergences from the two probability vectors over the
    union of the supports, so a disjoint support shows up as it would for the continuous laws.
    """
    theta = float(check_finite(theta, "theta"))
    n_points = check_int(n_points, "n_points", low=1)
    z = (np.arange(n_points) + 0.5) / n_points
    p_pts = np.column_stack([np.zeros(n_points), z])
    q_pts = np.column_stack([np.full(n_points, theta), z])
    w1 = w1_lp(p_pts, None, q_pts, None)
    union, inverse = np.unique(np.vstack([p_pts, q_pts]), axis=0, return_inverse=True)
    p = np.bincount(inverse[:n_points], minlength=len(union)) / n_points
    q = np.bincount(inverse[n_points:], minlength=len(union)) / n_points
    mix = 0.5 * (p + q)
    with np.errstate(divide="ignore"):
        kl = float(np.sum(p[p > 0] * np.log(p[p > 0] / q[p > 0])))  # +inf where q = 0 < p
        js = 0.5 * float(np.sum(p[p > 0] * np.log(p[p > 0] / mix[p > 0])))
        js += 0.5 * float(np.sum(q[q > 0] * np.log(q[q > 0] / mix[q > 0])))
    return {"W1": w1, "JS": js, "KL": kl, "TV": 0.5 * float(np.abs(p - q).sum())}


def parallel_lines_sweep(thetas, n_points: int = 200) -> dict[str, np.ndarray]:
    """``parallel_lines`` at each offset in ``thetas``: arrays of W1, JS, KL and TV, shape (len(thetas),)."""
    values = [parallel_lines(theta, n_points) for theta in np.asarray(thetas, float)]
    return {key: np.array([v[key] for v in values]) for key in ("W1", "JS", "KL", "TV")}


def loglog_slope(sizes, values) -> float:
    """Least-squares slope of ``log(values)`` against ``log(sizes)``: the measured exponent."""
    sizes = check_finite(sizes, "sizes")
    values = check_finite(values, "values")
    for v in np.concatenate([sizes, values]):
        check_positive(v, "sizes and values")
    return float(np.polyfit(np.log(sizes), np.log(values), 1)[0])
