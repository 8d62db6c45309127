"""Symbolic statements of the packing chapter (book/mode_collapse.md), checked by tests/test_packing.py.

Each function returns a sympy expression that is zero (or a value to compare) exactly when the step of the
derivation it names is right. ``a`` and ``b`` stand for the densities p^m(x) and q^m(x) of one packed
sample x = (x_1, ..., x_m) under the data and the generator.
"""
from __future__ import annotations

import functools
from itertools import product

import sympy as sp

__all__ = ["optimal_packed_discriminator", "packed_value_pointwise_gap", "packed_value_discrete_gap",
           "js_as_entropy_gap", "js_tv_chord_convexity", "kl_product_gap", "bhattacharyya_product_gap",
           "packed_logit_is_sum", "drop_mode_tv_gap", "binary_entropy", "pair_from_roc_path",
           "most_informative_pair", "least_informative_pair", "collapse_minimal_pair", "free_ceiling_pair",
           "free_thresholds",
           "collapse_upper_boundary", "product_tv_symbolic", "family_tv_gap", "upper_boundary_gap",
           "collapse_region_at_its_edge_gap", "free_ceiling_gap"]

a, b = sp.symbols("a b", positive=True)
D = sp.symbols("D", positive=True)


def binary_entropy(t):
    """h(t) = -t log t - (1 - t) log(1 - t), in nats."""
    return -t * sp.log(t) - (1 - t) * sp.log(1 - t)


def optimal_packed_discriminator():
    """Maximise a log D + b log(1 - D) over D in (0, 1): returns (D*, second derivative at D*).

    The packed discriminator sees x ~ P^m with density a or x ~ Q^m with density b; the value of the
    game is the integral of this pointwise objective, so the pointwise maximiser is the optimum.
    """
    objective = a * sp.log(D) + b * sp.log(1 - D)
    (d_star,) = sp.solve(sp.diff(objective, D), D)
    return sp.simplify(d_star), sp.simplify(sp.diff(objective, D, 2).subs(D, d_star))


def packed_value_pointwise_gap():
    """Integrand of V(D*, G) minus the integrand of -log 4 + 2 JS(P^m || Q^m); zero pointwise.

    With M = (P^m + Q^m)/2, 2 JS = KL(P^m || M) + KL(Q^m || M), whose integrand is
    a log(2a/(a+b)) + b log(2b/(a+b)); -log 4 integrates -(a + b) log 2 since a and b each integrate to 1.
    """
    d_star, _ = optimal_packed_discriminator()
    value = a * sp.log(d_star) + b * sp.log(1 - d_star)
    target = -(a + b) * sp.log(2) + a * sp.log(2 * a / (a + b)) + b * sp.log(2 * b / (a + b))
    return sp.simplify(sp.expand_log(value - target, force=True))


def _bernoulli_product(p, m):
    """Probabilities of the 2^m packed outcomes of m independent Bernoulli(p) draws."""
    return [sp.Mul(*[p if bit else 1 - p for bit in bits]) for bits in product((0, 1), repeat=m)]


def packed_value_discrete_gap(p_val, q_val, m):
    """max_D V for Bernoulli(p)^m against Bernoulli(q)^m, minus (-log 4 + 2 JS), on exact rationals."""
    pa, qb = _bernoulli_product(sp.Rational(p_val), m), _bernoulli_product(sp.Rational(q_val), m)
    value = sum(x * sp.log(x / (x + y)) + y * sp.log(y / (x + y)) for x, y in zip(pa, qb))
    js = sum(x * sp.log(2 * x / (x + y)) + y * sp.log(2 * y / (x + y)) for x, y in zip(pa, qb)) / 2
    return sp.N(value - (-sp.log(4) + 2 * js), 30)


def js_as_entropy_gap():
    """JS integrand minus (a + b)/2 * (log 2 - h(D*)): zero, so JS = log 2 - E_M[h(D*)].

    This is why JS of products tends to log 2: once the packed discriminator is almost always sure
    (D* near 0 or 1), the binary entropy h(D*) vanishes.
    """
    js_integrand = (a * sp.log(2 * a / (a + b)) + b * sp.log(2 * b / (a + b))) / 2
    rhs = (a + b) / 2 * (sp.log(2) - binary_entropy(a / (a + b)))
    return sp.simplify(sp.expand_log(js_integrand - rhs, force=True))


def js_tv_chord_convexity():
    """g(t) = log 2 - h(t) is convex with g(0+) = g(1-) = log 2 and g(1/2) = 0: returns (g'', g(0+), g(1/2)).

    Convexity puts g under its chords, g(t) <= log 2 |2t - 1|; integrating against M with t = D* gives
    JS <= log 2 * TV. Concavity of h and Fano's bound give the other side, JS >= log 2 - h((1 - TV)/2).
    """
    t = sp.symbols("t", positive=True)
    g = sp.log(2) - binary_entropy(t)
    return sp.simplify(sp.diff(g, t, 2)), sp.limit(g, t, 0, "+"), sp.simplify(g.subs(t, sp.Rational(1, 2)))


def _symbolic_three_point():
    """Two generic distributions on three points, as sympy symbols with the last weight eliminated."""
    p1, p2, q1, q2 = sp.symbols("p1 p2 q1 q2", positive=True)
    return [p1, p2, 1 - p1 - p2], [q1, q2, 1 - q1 - q2]


def kl_product_gap(m):
    """KL(P^m || Q^m) - m KL(P || Q) for generic three-point P, Q, summed over all 3^m packed samples."""
    p, q = _symbolic_three_point()
    kl_one = sum(pi * sp.log(pi / qi) for pi, qi in zip(p, q))
    kl_m = 0
    for idx in product(range(3), repeat=m):
        pm, qm = sp.Mul(*[p[i] for i in idx]), sp.Mul(*[q[i] for i in idx])
        kl_m += pm * sp.log(pm / qm)
    return sp.simplify(sp.expand(sp.expand_log(kl_m - m * kl_one, force=True)))


def bhattacharyya_product_gap(m):
    """BC(P^m, Q^m) - BC(P, Q)^m for three-point P, Q; BC = sum sqrt(p q).

    The identity needs no normalisation, so the six weights are free positive symbols.
    """
    p, q = sp.symbols("p0:3", positive=True), sp.symbols("q0:3", positive=True)
    bc_one = sum(sp.sqrt(pi * qi) for pi, qi in zip(p, q))
    bc_m = sum(sp.sqrt(sp.Mul(*[p[i] * q[i] for i in idx])) for idx in product(range(3), repeat=m))
    return sp.expand(bc_m - bc_one ** m)


def packed_logit_is_sum(m):
    """logit D*(x_1..x_m) - sum_i log(p(x_i)/q(x_i)); zero: the pack's evidence is the sum of its samples'."""
    ps, qs = sp.symbols(f"p1:{m + 1}", positive=True), sp.symbols(f"q1:{m + 1}", positive=True)
    d_star = sp.Mul(*ps) / (sp.Mul(*ps) + sp.Mul(*qs))
    logit = sp.log(d_star / (1 - d_star))
    return sp.simplify(sp.expand_log(logit - sum(sp.log(pi / qi) for pi, qi in zip(ps, qs)), force=True))


def drop_mode_tv_gap(k, m):
    """TV(P^m, Q^m) - (1 - (1 - 1/k)^m) for P uniform on k modes and Q uniform on k - 1 of them.

    Summed exactly over the types of packed samples: those touching the dropped mode have Q-probability 0.
    """
    total = 0
    for counts in _compositions(m, k):
        mult = sp.factorial(m) / sp.Mul(*[sp.factorial(c) for c in counts])
        pm = sp.Rational(1, k) ** m
        qm = 0 if counts[0] > 0 else sp.Rational(1, k - 1) ** m
        total += mult * sp.Abs(pm - qm)
    return sp.simplify(total / 2 - (1 - (1 - sp.Rational(1, k)) ** m))


def _compositions(m, k):
    """All k-tuples of non-negative integers summing to m."""
    if k == 1:
        yield (m,)
        return
    for first in range(m + 1):
        for rest in _compositions(m - first, k - 1):
            yield (first, *rest)


def _pack_density(density, xs):
    """Density of a pack of independent samples: the product of the per-sample densities."""
    return sp.Mul(*[density(xi) for xi in xs])


def packed_generator_gradient_gap(m):
    """d/dx_1 [-log D*_m(x)] + (1 - D*_m(x)) d/dx_1 log(p(x_1)/q(x_1)), for generic densities p, q; zero.

    With the optimal packed discriminator D*_m = p^m / (p^m + q^m) the non-saturating loss of a generated pack
    sends each of its samples along grad log(p/q) at that sample, times the one scalar 1 - D*_m the whole pack
    shares: packing rescales each sample's gradient, it does not turn it.
    """
    xs = sp.symbols(f"x1:{m + 1}", real=True)
    p, q = sp.Function("p", positive=True), sp.Function("q", positive=True)
    a, b = _pack_density(p, xs), _pack_density(q, xs)
    d_star = a / (a + b)
    lhs = sp.diff(-sp.log(d_star), xs[0])
    rhs = -(1 - d_star) * sp.diff(sp.log(p(xs[0]) / q(xs[0])), xs[0])
    return sp.simplify(lhs - rhs)


def _prob_some_in_set(prob, m):
    """P(at least one of m independent samples lands in a set of probability ``prob``), summed over k >= 1 hits."""
    return sum(sp.binomial(m, k) * prob**k * (1 - prob) ** (m - k) for k in range(1, m + 1))


def mode_collapse_tv_lower_bound(eps, delta, m):
    """A lower bound on TV(P^m, Q^m) under (eps, delta)-mode collapse (P(S) >= delta, Q(S) <= eps).

    The event 'some sample of the pack lies in S' has probability 1 - (1 - P(S))^m >= 1 - (1 - delta)^m under
    P^m and at most 1 - (1 - eps)^m under Q^m, and TV is at least the difference of an event's probabilities:
    TV(P^m, Q^m) >= (1 - eps)^m - (1 - delta)^m. Returns that bound, built from ``_prob_some_in_set``.
    """
    return sp.expand(_prob_some_in_set(delta, m) - _prob_some_in_set(eps, m))


# --- The exact region of Lin et al. (2018): extremal pairs ----------------------------------------------------
#
# A pair (P, Q) is summarised, for every question about tests, by the upper boundary f of its ROC region
# {(Q(S), P(S))}: a concave curve from (0, f(0)) to (1, 1) above the diagonal, with TV(P, Q) = max_x f(x) - x.
# (P, Q) has (eps, delta)-mode collapse iff f(eps) >= delta (a test S with Q(S) <= eps and P(S) >= delta, sets
# being allowed to split atoms, as they can for continuous distributions). By Blackwell (1953), a pair whose
# region contains another's is at least as far apart after any processing, in particular after taking m-fold
# products. So each boundary of the region of (TV(P, Q), TV(P^m, Q^m)) pairs is reached by a pair whose ROC is
# extremal under the constraints: the families below, each given by the vertices of its ROC path.

def pair_from_roc_path(points):
    """Cells (p, q) of the pair whose ROC upper boundary runs (0, 0) -> points... -> (1, 1).

    ``points`` lists the (x, y) = (Q(S), P(S)) vertices in increasing x; each segment is one cell, with
    q = its width and p = its rise. Plain arithmetic, so the entries may be floats or sympy expressions.
    """
    xs = [0, *[x for x, _ in points], 1]
    ys = [0, *[y for _, y in points], 1]
    return [ys[k + 1] - ys[k] for k in range(len(xs) - 1)], [xs[k + 1] - xs[k] for k in range(len(xs) - 1)]


def most_informative_pair(tau):
    """The pair whose ROC is f(x) = min(x + tau, 1): P = [tau, 1 - tau, 0], Q = [0, 1 - tau, tau].

    Every pair at total variation tau has its ROC inside this one: it reaches the largest TV(P^m, Q^m).
    """
    return pair_from_roc_path([(0, tau), (1 - tau, 1)])


def least_informative_pair(tau, x0):
    """The two-cell pair whose ROC is the triangle through (x0, x0 + tau): P = [x0 + tau, ...], Q = [x0, ...].

    Every pair at total variation tau contains one of these (its ROC reaches x0 + tau at some x0 in [0, 1 - tau]).
    """
    return pair_from_roc_path([(x0, x0 + tau)])


def _height(points, x):
    """Height at x of the ROC path (0, 0) -> points -> (1, 1), for floats (piecewise-linear interpolation)."""
    xs, ys = [0.0, *[p[0] for p in points], 1.0], [0.0, *[p[1] for p in points], 1.0]
    for k in range(len(xs) - 1):
        if xs[k] <= x <= xs[k + 1]:
            width = xs[k + 1] - xs[k]
            return ys[k] if width == 0 else ys[k] + (ys[k + 1] - ys[k]) * (x - xs[k]) / width
    raise ValueError(f"x must lie in [0, 1], got {x}")


def collapse_minimal_pair(eps, delta, tau, x0):
    """The least informative pair with (eps, delta)-mode collapse and TV tau that reaches x0 + tau at x0.

    Its ROC is the concave hull of (0, 0), (eps, delta), (x0, x0 + tau) and (1, 1): three cells. Where
    (eps, delta) lies under the triangle through (x0, x0 + tau), the hull is that triangle, and the middle vertex
    is lifted onto it (a cell with the same likelihood ratio as its neighbour changes nothing). Floats only.
    """
    corner = (x0, x0 + tau)
    lifted = (eps, max(delta, _height([corner], eps)))
    return pair_from_roc_path(sorted([lifted, corner]))


def free_ceiling_pair(eps, delta, tau):
    """A pair without (eps, delta)-mode collapse at TV tau whose packed TV is the ceiling 1 - (1 - tau)^m.

    Two least informative pairs reach the ceiling, since each has a cell of mass tau that only one side uses:
    x0 = 0, P = [tau, 1 - tau], Q = [0, 1] (the generator misses data mass tau and spreads over the rest), free of
    collapse while tau < (delta - eps) / (1 - eps); and x0 = 1 - tau, P = [1, 0], Q = [1 - tau, tau] (it matches
    the data but puts mass tau where they have none), free while tau < 1 - eps / delta (``free_thresholds``).
    Returns the first that is free at tau, or None: beyond both thresholds no pair at tau is free of collapse.
    Floats only.
    """
    deficit, excess = free_thresholds(eps, delta)
    if tau < deficit:
        return least_informative_pair(tau, 0.0)
    if tau < excess:
        return least_informative_pair(tau, 1.0 - tau)
    return None


def free_thresholds(eps, delta):
    """(tau_deficit, tau_excess): where the two ceiling pairs of ``free_ceiling_pair`` gain (eps, delta)-collapse.

    Solved with sympy from their ROC heights at eps, f(eps) = tau + (1 - tau) eps and f(eps) = eps / (1 - tau):
    (delta - eps) / (1 - eps) and 1 - eps / delta. Every pair at TV tau contains a triangle through some
    (x0, x0 + tau), whose height at eps is at least the smaller of those two heights, so beyond the larger
    threshold every pair at tau has collapse. Sympy expressions for sympy arguments, floats otherwise.
    """
    roots, symbols = _threshold_roots()
    if isinstance(eps, sp.Basic) or isinstance(delta, sp.Basic):
        return tuple(r.subs(dict(zip(symbols, (eps, delta)))) for r in roots)
    return tuple(float(f(eps, delta)) for f in _threshold_functions())


@functools.lru_cache(maxsize=None)
def _threshold_roots():
    t, e, d = sp.symbols("tau epsilon delta", positive=True)
    roots = []
    for x0 in (0, 1 - t):
        p, q = least_informative_pair(t, x0)
        height = p[0] + e * p[1] / q[1] if q[0] == 0 else e * p[0] / q[0]   # on the first sloped segment
        (root,) = sp.solve(sp.Eq(height, d), t)
        roots.append(root)
    return tuple(roots), (e, d)


@functools.lru_cache(maxsize=None)
def _threshold_functions():
    roots, symbols = _threshold_roots()
    return tuple(sp.lambdify(symbols, r) for r in roots)


def collapse_upper_boundary(tau, m):
    """The largest TV(P^m, Q^m) at TV(P, Q) = tau, reached by ``most_informative_pair``: 1 - (1 - tau)^m.

    That pair has (eps, delta)-mode collapse whenever tau >= delta - eps, so this is also the upper boundary of
    the pairs with mode collapse.
    """
    return 1 - (1 - tau) ** m


def product_tv_symbolic(p, q, m):
    """TV(P^m, Q^m) for cells p, q (sympy), summed exactly over the types of a pack.

    Each |a - b| is expanded first, so that sympy can decide its sign when the cells are built from positive
    symbols.
    """
    total = 0
    for counts in _compositions(m, len(p)):
        mult = sp.factorial(m) / sp.Mul(*[sp.factorial(c) for c in counts])
        a = sp.Mul(*[pi**c for pi, c in zip(p, counts)])
        b = sp.Mul(*[qi**c for qi, c in zip(q, counts)])
        total += mult * sp.Abs(sp.factor(sp.expand(a - b)))
    return total / 2


def family_tv_gap(kind):
    """TV(P, Q) - tau for the extremal pair ``kind``, with symbols placed in a regime where each sign is known.

    ``kind``: "most", "least" or "collapse" (eps < x0, (eps, delta) a vertex). Zero when the family really sits
    at total variation tau.
    """
    eps, d, e, c, x0 = sp.symbols("epsilon d e c x_0", positive=True)
    delta, tau = eps + d, d + e                                         # tau >= delta - eps
    if kind == "most":
        p, q = most_informative_pair(tau)
    elif kind == "least":
        p, q = least_informative_pair(tau, x0)
    elif kind == "collapse":
        p, q = pair_from_roc_path([(eps, delta), (eps + c, eps + c + tau)])
    else:
        raise ValueError(f"kind must be 'most', 'least' or 'collapse', got {kind!r}")
    return sp.simplify(product_tv_symbolic(p, q, 1) - tau)


def _ceiling_gap(pair, m):
    """Packed TV of ``pair(tau)`` minus ``collapse_upper_boundary(tau, m)``, with tau symbolic.

    tau and 1 - tau are separate positive symbols while sympy decides the signs of |a - b|, then tied together.
    """
    tau, rest = sp.symbols("tau r", positive=True)
    cells = [[sp.expand(x).subs(1 - tau, rest).subs(-tau + 1, rest) for x in side] for side in pair(tau)]
    tv = product_tv_symbolic(*cells, m).subs(rest, 1 - tau)
    return sp.simplify(sp.expand(tv - collapse_upper_boundary(tau, m)))


def upper_boundary_gap(m):
    """TV of the m-fold products of ``most_informative_pair`` minus ``collapse_upper_boundary``; zero."""
    return _ceiling_gap(most_informative_pair, m)


def collapse_region_at_its_edge_gap(m):
    """At eps = 0 and tau = delta every pair with (0, delta)-mode collapse has TV(P^m, Q^m) = 1 - (1 - delta)^m.

    The collapse-minimal pair there is P = [delta, x0, 1 - x0 - delta], Q = [0, x0, 1 - x0] for any x0; returns
    its packed TV minus ``collapse_upper_boundary(delta, m)``, with 1 - x0 - delta a positive symbol c. Zero:
    the region of collapsing pairs starts at tau = delta - eps as a single point, where the dropping generator of
    the chapter sits.
    """
    delta, x0, c = sp.symbols("delta x_0 c", positive=True)
    p, q = [delta, x0, c], [0, x0, c + delta]                         # 1 - x0 = c + delta
    tv = product_tv_symbolic(p, q, m).subs(c, 1 - x0 - delta)
    return sp.simplify(sp.expand(tv - collapse_upper_boundary(delta, m)))


def free_ceiling_gap(m):
    """Packed TV of both ceiling pairs of ``free_ceiling_pair`` minus ``collapse_upper_boundary``: (0, 0).

    Pairs without mode collapse reach the same ceiling 1 - (1 - tau)^m as pairs with it.
    """
    return (_ceiling_gap(lambda tau: least_informative_pair(tau, 0), m),
            _ceiling_gap(lambda tau: least_informative_pair(tau, 1 - tau), m))
