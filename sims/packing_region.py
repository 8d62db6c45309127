"""The exact region of (TV(P, Q), TV(P^m, Q^m)) for pairs with and without (eps, delta)-mode collapse.

Lin, Khetan, Fanti and Oh (2018) characterise, for each pack size m, which packed total variations pairs at a
given unpacked total variation tau can have, separately for pairs with and without (eps, delta)-mode collapse.
:mod:`theory.packing` gives the extremal pairs (by their ROC curves); this module evaluates their packed TV
exactly, vectorised over a grid of the family's free parameter, takes the minimum or maximum, places given
pairs in the regions and checks that each boundary is reached by a pair of the right class.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from sims.checks import check_int, check_positive, check_probabilities
from sims.product_divergences import product_divergences, type_classes
from theory import packing as th

__all__ = ["BOUNDARIES", "boundary_witnesses", "has_mode_collapse", "locate", "product_tv_batch",
           "region_boundaries", "region_curves", "roc_height"]

BOUNDARIES = ("collapse_lower", "collapse_upper", "free_lower", "free_upper")
GRID = 201          # points of the family parameter per boundary value; ``refine`` polishes the best one
TOL = 1e-9          # slack of the containment and class checks (rounding of sums of up to 6435 terms)


def product_tv_batch(p, q, m: int) -> np.ndarray:
    """TV(P^m, Q^m) for each row of p and q, shape (N, K) -> (N,); an exact sum over the types of a pack."""
    p, q = np.atleast_2d(np.asarray(p, float)), np.atleast_2d(np.asarray(q, float))
    counts, log_mult = type_classes(p.shape[1], check_int(m, "m", low=1))  # (T, K), (T,)
    probs = []
    for cells in (p, q):
        logs = np.log(np.where(cells > 0, cells, 1.0))                     # log 1 = 0 stands in for empty cells
        empty_used = (counts > 0).astype(float) @ (cells <= 0).T.astype(float) > 0   # (T, N)
        probs.append(np.where(empty_used, 0.0, np.exp(log_mult[:, None] + counts @ logs.T)))
    return 0.5 * np.abs(probs[0] - probs[1]).sum(axis=0)


def roc_height(p, q, x: float) -> float:
    """max P(S) over tests S (allowed to split cells) with Q(S) <= x: the upper ROC curve at x (Neyman-Pearson).

    The curve is concave, so it is the minimum of the lines through its segments; cells with q = 0 only raise
    its start, f(0) = P(q = 0).
    """
    return _roc_height(check_probabilities(p, "p"), check_probabilities(q, "q"), x)


def _roc_height(p: np.ndarray, q: np.ndarray, x: float) -> float:
    start = p[q == 0].sum()
    order = np.argsort(-(p[q > 0] / q[q > 0]), kind="stable")
    widths, rises = q[q > 0][order], p[q > 0][order]
    left_x, left_y = np.cumsum(widths) - widths, start + np.cumsum(rises) - rises
    return float(min(1.0, np.min(left_y + rises / widths * (x - left_x))))


def has_mode_collapse(p, q, eps: float, delta: float) -> bool:
    """(eps, delta)-mode collapse: some test S has Q(S) <= eps and P(S) >= delta (Lin et al. 2018)."""
    return roc_height(p, q, eps) >= delta - TOL


def _members(kind: str, eps: float, delta: float, tau: float, n_grid: int):
    """(parameters, P, Q) of the valid members of the extremal family behind boundary ``kind``; m does not enter."""
    grid = np.linspace(0.0, 1.0 - tau, n_grid)
    if kind == "collapse_lower":
        pairs = [th.collapse_minimal_pair(eps, delta, tau, x0) for x0 in grid]
    elif kind == "free_lower":     # the triangle's height at eps decides its class
        pairs = [th.least_informative_pair(tau, x0) if _free_triangle(eps, delta, tau, x0) else None for x0 in grid]
    else:
        raise ValueError(f"kind must be 'collapse_lower' or 'free_lower'; got {kind!r}")
    keep = [i for i, pq in enumerate(pairs) if pq is not None]
    if not keep:
        return grid[:0], None, None
    return grid[keep], np.array([pairs[i][0] for i in keep]), np.array([pairs[i][1] for i in keep])


def _free_triangle(eps, delta, tau, x0) -> bool:
    """Whether the least informative pair through (x0, x0 + tau) is free of (eps, delta)-mode collapse."""
    return th._height([(x0, x0 + tau)], eps) < delta - TOL


def _extremum(kind, eps, delta, tau, m, n_grid, refine):
    """(value, witness pair) of the min (lower boundaries) or max (upper) of the family's packed TV."""
    params, p, q = _members(kind, eps, delta, tau, n_grid)
    if p is None:
        return np.nan, None
    sign = 1.0 if kind.endswith("lower") else -1.0
    values = sign * product_tv_batch(p, q, m)
    best = int(np.argmin(values))
    value, witness = values[best], (p[best], q[best])
    if refine and 0 < best < len(params) - 1:
        family = {"collapse_lower": lambda t: th.collapse_minimal_pair(eps, delta, tau, t),
                  "free_lower": lambda t: th.least_informative_pair(tau, t)}[kind]
        def objective(t):
            pq = family(t)
            if pq is None or (kind == "free_lower" and not _free_triangle(eps, delta, tau, t)):
                return np.inf
            return sign * float(product_tv_batch(*pq, m)[0])
        found = minimize_scalar(objective, bounds=(params[best - 1], params[best + 1]), method="bounded",
                                options={"xatol": 1e-10})
        if found.fun < value:
            value, witness = found.fun, tuple(np.asarray(x, float) for x in family(found.x))
    return float(sign * value), witness


def region_boundaries(tau: float, m: int, eps: float, delta: float, *, n_grid: int = GRID,
                      refine: bool = False) -> dict:
    """The four boundaries at unpacked TV ``tau``: {name: (value, witness pair or None)}; nan where empty.

    Pairs with collapse exist for tau >= delta - eps, between ``collapse_lower`` (a minimum over
    ``theory.packing.collapse_minimal_pair``) and the ceiling 1 - (1 - tau)^m. Pairs without it exist below
    the larger of ``theory.packing.free_thresholds``, between ``free_lower`` (a minimum over the least
    informative pairs that are free of collapse) and the same ceiling, reached by ``free_ceiling_pair``.
    """
    tau = check_positive(tau, "tau", allow_zero=True)
    if not 0 <= eps < delta <= 1:
        raise ValueError(f"need 0 <= eps < delta <= 1, got eps = {eps} and delta = {delta}")
    if abs(tau - (delta - eps)) < TOL:           # a pair's tau is a rounded sum: delta - eps may come out below
        tau = delta - eps
    out = {name: (np.nan, None) for name in BOUNDARIES}
    ceiling = float(th.collapse_upper_boundary(tau, m))
    if tau >= delta - eps:
        out["collapse_lower"] = _extremum("collapse_lower", eps, delta, tau, m, n_grid, refine)
        out["collapse_upper"] = (ceiling, tuple(np.asarray(x, float) for x in th.most_informative_pair(tau)))
    free = th.free_ceiling_pair(eps, delta, tau)
    if free is not None:
        out["free_lower"] = _extremum("free_lower", eps, delta, tau, m, n_grid, refine)
        out["free_upper"] = (ceiling, tuple(np.asarray(x, float) for x in free))
    return out


def region_curves(taus, ms, eps: float, delta: float, *, n_grid: int = 101) -> dict:
    """The four boundaries on a grid: {name: array of shape (len(ms), len(taus))}, nan where a class is empty.

    Grid extrema without refinement (for plotting); each family is built once per tau and serves every m.
    """
    taus, ms = np.asarray(taus, float), [check_int(m, "m", low=1) for m in ms]
    curves = {name: np.full((len(ms), taus.size), np.nan) for name in BOUNDARIES}
    for j, tau in enumerate(taus):
        ceilings = [float(th.collapse_upper_boundary(tau, m)) for m in ms]
        kinds = [("collapse", tau >= delta - eps), ("free", th.free_ceiling_pair(eps, delta, tau) is not None)]
        for cls, exists in kinds:
            if not exists:
                continue
            _, p, q = _members(f"{cls}_lower", eps, delta, tau, n_grid)
            for i, m in enumerate(ms):
                curves[f"{cls}_lower"][i, j] = product_tv_batch(p, q, m).min() if p is not None else np.nan
                curves[f"{cls}_upper"][i, j] = ceilings[i]
    return curves


def locate(p, q, m: int, eps: float, delta: float) -> dict:
    """Where the pair (p, q) sits: its tau, packed TV, class, and the boundaries of its class at its tau."""
    p, q = check_probabilities(p, "p"), check_probabilities(q, "q")
    tau, packed = product_divergences(p, q, 1)["tv"], product_divergences(p, q, m)["tv"]
    collapse = has_mode_collapse(p, q, eps, delta)
    bounds = region_boundaries(tau, m, eps, delta, refine=True)
    lower, upper = (bounds[f"{'collapse' if collapse else 'free'}_{side}"][0] for side in ("lower", "upper"))
    return {"tau": tau, "packed_tv": packed, "collapse": collapse, "lower": lower, "upper": upper,
            "inside": bool(lower - TOL <= packed <= upper + TOL)}


def boundary_witnesses(tau: float, m: int, eps: float, delta: float) -> dict:
    """For each boundary at tau, whether its witness pair is of the right class, at TV tau, and reaches it.

    The witness's packed TV is recomputed with :func:`sims.product_divergences.product_divergences`, a second
    implementation; the class is read off its ROC (``has_mode_collapse``). {name: bool}, skipping empty
    boundaries.
    """
    checks = {}
    for name, (value, witness) in region_boundaries(tau, m, eps, delta, refine=True).items():
        if witness is None:
            continue
        p, q = (np.clip(x, 0.0, None) / np.clip(x, 0.0, None).sum() for x in witness)
        right_class = has_mode_collapse(p, q, eps, delta) == name.startswith("collapse")
        at_tau = abs(product_divergences(p, q, 1)["tv"] - tau) < 1e-9
        reaches = abs(product_divergences(p, q, m)["tv"] - value) < 1e-9
        checks[name] = bool(right_class and at_tau and reaches)
    return checks
