"""Exact divergences between product distributions P^m and Q^m on a finite set of K cells.

The likelihood ratio of a packed sample x = (x_1, ..., x_m) depends only on its *type*: the counts
n = (n_1, ..., n_K) of how many of the m samples fall in each cell. Every f-divergence is therefore a sum
over the C(m + K - 1, K - 1) types instead of the K^m packed samples,

    D_f(P^m || Q^m) = sum_n  multinomial(m; n) * b_n * f(a_n / b_n),   a_n = prod_k p_k^{n_k},  b_n = prod_k q_k^{n_k},

which is exact and cheap (6435 types for K = m = 8, against 16.7 million packed samples).
``product_divergences_bruteforce`` enumerates the K^m packed samples instead; the tests check that both
agree. Sums run in log space so that tiny a_n and b_n do not underflow.
"""
from __future__ import annotations

from itertools import combinations, combinations_with_replacement, product
from math import lgamma

import numpy as np

from sims.checks import check_int, check_probabilities

__all__ = ["type_classes", "product_divergences", "product_divergences_bruteforce", "packing_curves",
           "dropped_and_off_generators", "alternating_weights", "collapse_lower_bound", "best_response_rounds",
           "LOG2"]

LOG2 = float(np.log(2.0))


def type_classes(n_cells: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """All count vectors n >= 0 with sum m over ``n_cells`` cells, shape (T, K), and log multinomial(m; n), (T,)."""
    n_cells = check_int(n_cells, "n_cells", low=1)
    m = check_int(m, "m", low=1)
    counts = np.array([np.bincount(c, minlength=n_cells) for c in combinations_with_replacement(range(n_cells), m)])
    log_mult = lgamma(m + 1) - np.vectorize(lambda k: lgamma(k + 1))(counts).sum(axis=1)
    return counts, log_mult


def _log_prob(counts: np.ndarray, p: np.ndarray) -> np.ndarray:
    """log prod_k p_k^{n_k} for each row of counts; -inf where a cell of zero probability is used."""
    with np.errstate(divide="ignore"):
        log_p = np.log(p)
    terms = counts * np.where(p > 0, log_p, 0.0)
    terms[(counts > 0) & (p == 0)] = -np.inf                  # an unused empty cell is harmless, a used one is not
    return terms.sum(axis=1)


def _divergences(log_w: np.ndarray, log_a: np.ndarray, log_b: np.ndarray) -> dict:
    """Divergences and optimal-discriminator losses from per-class log weights and log-probabilities.

    With D*(x) = a / (a + b) the optimal packed discriminator: ``d_loss`` is its cross-entropy
    log 4 - 2 JS, ``g_loss`` the generator's non-saturating loss E_{Q^m}[-log D*] and ``g_weight`` the mean
    factor E_{Q^m}[1 - D*] that multiplies each generated sample's gradient (see the chapter).
    """
    a, b = np.exp(log_w + log_a), np.exp(log_w + log_b)     # class probabilities under P^m and Q^m
    log_mix = np.logaddexp(log_a, log_b) - LOG2
    with np.errstate(invalid="ignore"):
        js = 0.5 * (np.sum(np.where(a > 0, a * (log_a - log_mix), 0.0))
                    + np.sum(np.where(b > 0, b * (log_b - log_mix), 0.0)))
        kl = np.inf if np.any((a > 0) & (b == 0)) else np.sum(np.where(a > 0, a * (log_a - log_b), 0.0))
        rkl = np.inf if np.any((b > 0) & (a == 0)) else np.sum(np.where(b > 0, b * (log_b - log_a), 0.0))
        g_loss = np.inf if np.any((b > 0) & (a == 0)) else np.sum(np.where(b > 0, b * (log_mix + LOG2 - log_a), 0.0))
    bc = np.sum(np.exp(log_w + 0.5 * (log_a + log_b)))
    with np.errstate(invalid="ignore"):                  # types impossible under both: -inf - -inf
        g_weight = np.sum(np.where(b > 0, b * np.exp(log_b - np.logaddexp(log_a, log_b)), 0.0))
    return {"js": float(js), "kl": float(kl), "reverse_kl": float(rkl), "tv": float(0.5 * np.sum(np.abs(a - b))),
            "bc": float(bc), "d_loss": float(2 * LOG2 - 2 * js), "g_loss": float(g_loss), "g_weight": float(g_weight)}


def product_divergences(p, q, m: int) -> dict:
    """Divergences of the m-fold products of ``p`` and ``q`` (natural log).

    JS, KL(P^m||Q^m), KL(Q^m||P^m), TV, the Bhattacharyya coefficient and the
    losses of the optimal packed discriminator (see ``_divergences``).
    """
    p, q = check_probabilities(p, "p"), check_probabilities(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same length, "
                         f"got {p.size} and {q.size}")
    keep = (p > 0) | (q > 0)               # cells empty under both never matter
    counts, log_w = type_classes(int(keep.sum()), m)
    log_a, log_b = _log_prob(counts, p[keep]), _log_prob(counts, q[keep])
    return _divergences(log_w, log_a, log_b)


def product_divergences_bruteforce(p, q, m: int) -> dict:
    """The same quantities by enumerating all K^m packed samples (slow; an independent check)."""
    p, q = check_probabilities(p, "p"), check_probabilities(q, "q")
    m = check_int(m, "m", low=1, high=8)
    counts = np.array([np.bincount(x, minlength=p.size) for x in product(range(p.size), repeat=m)])
    return _divergences(np.zeros(len(counts)), _log_prob(counts, p), _log_prob(counts, q))


def dropped_and_off_generators(n_modes: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The data P (uniform over ``n_modes``) and two generators at the same total variation 1/n_modes.

    ``q_drop`` misses mode 0 and spreads its mass over the others; ``q_off`` keeps every mode but gets every
    weight wrong, alternately too high and too low by the factor 2/n_modes (a quarter for 8 modes), so that
    TV = (1/2) * n_modes * (2 / n_modes^2) = 1/n_modes as well. ``n_modes`` must be even and at least 4.
    """
    n_modes = check_int(n_modes, "n_modes", low=4)
    if n_modes % 2:
        raise ValueError(f"n_modes must be even, got {n_modes}")
    p = np.full(n_modes, 1.0 / n_modes)
    q_drop = np.r_[0.0, np.full(n_modes - 1, 1.0 / (n_modes - 1))]
    q_off = p * (1 + 2.0 / n_modes * np.tile([1.0, -1.0], n_modes // 2))
    return p, q_drop, q_off


def packing_curves(p, generators: dict, ms) -> dict:
    """``product_divergences`` for each named generator and each m: {name: {quantity: array over ms}}."""
    ms = [check_int(m, "m", low=1) for m in ms]
    curves = {}
    for name, q in generators.items():
        rows = [product_divergences(p, q, m) for m in ms]
        curves[name] = {key: np.array([row[key] for row in rows]) for key in rows[0]}
    return curves


def alternating_weights(n_modes: int, rel: float) -> np.ndarray:
    """Uniform weights over ``n_modes`` made alternately ``1 + rel`` and ``1 - rel`` times too large; TV rel/2.

    Every mode keeps mass (for rel < 1): this generator covers all modes while being off everywhere.
    """
    n_modes = check_int(n_modes, "n_modes", low=2)
    if n_modes % 2 or not 0 <= rel < 1:
        raise ValueError(f"need an even n_modes and 0 <= rel < 1, got {n_modes} and {rel}")
    return np.full(n_modes, 1.0 / n_modes) * (1 + rel * np.tile([1.0, -1.0], n_modes // 2))


def collapse_lower_bound(p, q, m: int) -> tuple[float, tuple]:
    """max over sets S of cells of (1 - Q(S))^m - (1 - P(S))^m, a lower bound on TV(P^m, Q^m), and the best S.

    Each S with P(S) = delta and Q(S) = eps witnesses (eps, delta)-mode collapse (Lin et al. 2018); the bound is
    the gap between the chances that a pack has a sample in S (``theory.packing.mode_collapse_tv_lower_bound``).
    Enumerates all 2^K - 1 non-empty sets, so K should be small.
    """
    p, q = check_probabilities(p, "p"), check_probabilities(q, "q")
    m = check_int(m, "m", low=1)
    best = (-np.inf, ())
    for size in range(1, p.size + 1):
        for cells in combinations(range(p.size), size):
            idx = list(cells)
            best = max(best, ((1 - q[idx].sum()) ** m - (1 - p[idx].sum()) ** m, cells))
    return float(best[0]), best[1]


def best_response_rounds(p, q, rounds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Alternate exact best responses on K cells, starting from the generator ``q``: [(q_t, D_t)] per round.

    The discriminator answers q with D = p / (p + q); the generator answers a fixed D by minimising
    E_Q[log(1 - D)] (or the non-saturating E_Q[-log D]): both put all its mass on a cell where D is largest
    (the first such cell). A generator that best-responds to a fixed discriminator collapses onto one cell.
    """
    p, q = check_probabilities(p, "p"), check_probabilities(q, "q")
    out = []
    for _ in range(check_int(rounds, "rounds", low=1)):
        d = p / (p + q)
        out.append((q, d))
        q = np.eye(p.size)[int(np.argmax(d))]
    return out
