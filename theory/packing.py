"""Symbolic statements of the packing chapter (book/mode_collapse.md), checked by tests/test_packing.py.

Each function returns a sympy expression that is zero (or a value to compare) exactly when the step of the
derivation it names is right. ``a`` and ``b`` stand for the densities p^m(x) and q^m(x) of one packed
sample x = (x_1, ..., x_m) under the data and the generator.
"""
from __future__ import annotations

from itertools import product

import sympy as sp

__all__ = ["optimal_packed_discriminator", "packed_value_pointwise_gap", "packed_value_discrete_gap",
           "js_as_entropy_gap", "js_tv_chord_convexity", "kl_product_gap", "bhattacharyya_product_gap",
           "packed_logit_is_sum", "drop_mode_tv_gap", "binary_entropy"]

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
