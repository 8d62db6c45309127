"""Sympy statements of the Wasserstein chapter's identities (checked by tests/test_wasserstein_theory.py).

Each function returns sympy expressions; the tests assert that residuals simplify to zero and that a
deliberately wrong variant does not.

- couplings: the product coupling has the right marginals (discrete and continuous);
- the exchange lemma behind the 1-D monotone plan: uncrossing two transport paths never costs more under
  ``|x - y|`` (all six interleavings of ``x1 < x2`` and ``y1 < y2``);
- closed forms of W1 for worked 1-D pairs, each computed two ways: ``int |F - G| dx`` and
  ``int_0^1 |F^-1(u) - G^-1(u)| du``;
- Kantorovich-Rubinstein in 1-D: the 1-Lipschitz ``f(x) = -|x + 1|`` attains W1 between N(0, 1) and N(1, 4);
- the parallel-lines example of Arjovsky et al. (2017): W1, JS, KL and TV as functions of theta, JS, KL and TV
  derived from the densities of P_0 and P_theta with respect to their mixture;
- the monotone plan as a push-forward: the quantile coupling (F^-1, G^-1)#U[0, 1] of two discrete laws, in
  rationals, which is a measure on the product with no density;
- why W1 needs bounded supports (or converging first moments) to follow weak convergence: the law
  (1 - 1/n) delta_0 + (1/n) delta_n tends weakly to delta_0 while its W1 to delta_0 stays 1;
- W1 <= diam * TV, by the plan that leaves the common mass min(p, q) in place.
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from itertools import combinations

import sympy as sp

x, y, u, z = sp.symbols("x y u z", real=True)


# --- couplings -------------------------------------------------------------------------------------------
def _normalised_weights(prefix: str, n: int) -> list[sp.Expr]:
    """n symbolic non-negative weights summing to one: the last one is 1 - sum(others)."""
    free = sp.symbols(f"{prefix}0:{n - 1}", nonnegative=True)
    return list(free) + [1 - sum(free)]


def product_coupling_marginal_residuals(n: int = 3, m: int = 4) -> list[sp.Expr]:
    """Row sums of ``a b^T`` minus ``a`` and column sums minus ``b``, for symbolic weights summing to one.

    The last weight of each vector is eliminated as ``1 - sum(others)``, so the residuals are exactly zero.
    """
    a, b = _normalised_weights("a", n), _normalised_weights("b", m)
    rows = [sum(a[i] * b[j] for j in range(m)) - a[i] for i in range(n)]
    cols = [sum(a[i] * b[j] for i in range(n)) - b[j] for j in range(m)]
    return rows + cols


def product_coupling_continuous_residual() -> sp.Expr:
    """``int p(x) q(y) dy - p(x)`` for an exponential ``p`` and a Gaussian ``q`` (symbolic rate, mean, scale)."""
    lam, s = sp.symbols("lambda sigma", positive=True)
    mu = sp.Symbol("mu", real=True)
    p = lam * sp.exp(-lam * x)
    q = sp.exp(-(y - mu) ** 2 / (2 * s**2)) / (s * sp.sqrt(2 * sp.pi))
    return sp.integrate(p * q, (y, -sp.oo, sp.oo)) - p


# --- the exchange lemma ----------------------------------------------------------------------------------
def exchange_lemma_gaps(cost=sp.Abs) -> list[tuple[str, sp.Expr]]:
    """For ``x1 < x2`` and ``y1 < y2``: ``[c(x1-y2) + c(x2-y1)] - [c(x1-y1) + c(x2-y2)]`` in each interleaving.

    The four points are placed at partial sums of three positive gaps ``d0, d1, d2``; with ``c = |.|`` every
    returned expression is a sum of gaps with non-negative coefficients, i.e. the crossed plan never beats
    the monotone one. Returns ``[(ordering, expression)]``.
    """
    gaps = sp.symbols("d0:3", positive=True)
    positions = [sp.Integer(0), gaps[0], gaps[0] + gaps[1], gaps[0] + gaps[1] + gaps[2]]
    out = []
    for x_slots in combinations(range(4), 2):  # which of the 4 sorted slots hold x1 < x2
        y_slots = [k for k in range(4) if k not in x_slots]
        x1, x2 = (positions[k] for k in x_slots)
        y1, y2 = (positions[k] for k in y_slots)
        crossed = cost(x1 - y2) + cost(x2 - y1)
        monotone = cost(x1 - y1) + cost(x2 - y2)
        order = "".join("x" if k in x_slots else "y" for k in range(4))
        out.append((order, sp.simplify(crossed - monotone)))
    return out


# --- closed forms of W1 in 1-D ---------------------------------------------------------------------------
def w1_uniform_scale() -> dict[str, sp.Expr]:
    """W1(U[0, 1], U[0, s]) for s >= 1: by the CDFs and by the quantiles; both equal (s - 1) / 2."""
    s = sp.Symbol("s", positive=True)
    sub = {s: 1 + sp.Symbol("t", positive=True)}  # s > 1
    by_cdf = sp.integrate(x - x / s, (x, 0, 1)) + sp.integrate(1 - x / s, (x, 1, s))
    by_quantile = sp.integrate((s - 1) * u, (u, 0, 1))  # F^-1(u) = u, G^-1(u) = s u
    return {"by_cdf": sp.simplify(by_cdf.subs(sub)), "by_quantile": sp.simplify(by_quantile.subs(sub)),
            "closed_form": sp.simplify(((s - 1) / 2).subs(sub))}


def w1_exponential() -> dict[str, sp.Expr]:
    """W1(Exp(rate l), Exp(rate k)) with l > k: ``1/k - 1/l`` by the CDFs and by the quantiles."""
    k, t = sp.symbols("k t", positive=True)
    lam = k + t  # l > k: the faster-decaying law is stochastically smaller, so F >= G everywhere
    by_cdf = sp.integrate(sp.exp(-k * x) - sp.exp(-lam * x), (x, 0, sp.oo))  # (1 - G) - (1 - F)
    by_quantile = sp.integrate((1 / k - 1 / lam) * -sp.log(1 - u), (u, 0, 1))  # F^-1(u) = -log(1-u)/l
    return {"by_cdf": sp.simplify(by_cdf), "by_quantile": sp.simplify(by_quantile),
            "closed_form": sp.simplify(1 / k - 1 / lam)}


def folded_normal_mean(mu, sigma) -> sp.Expr:
    """E|mu + sigma Z| for Z ~ N(0, 1) and sigma > 0, in closed form."""
    mu, sigma = sp.sympify(mu), sp.sympify(sigma)
    return (sigma * sp.sqrt(2 / sp.pi) * sp.exp(-mu**2 / (2 * sigma**2))
            + mu * sp.erf(mu / (sigma * sp.sqrt(2))))


@lru_cache(maxsize=None)
def _abs_linear_gaussian_integral() -> sp.Expr:
    """``int |mu + sigma z| phi(z) dz`` for symbolic mu (real) and sigma > 0, split at ``z0 = -mu / sigma``."""
    mu, sigma = sp.Symbol("mu", real=True), sp.Symbol("sigma", positive=True)
    phi = sp.exp(-z**2 / 2) / sp.sqrt(2 * sp.pi)
    z0 = -mu / sigma
    upper = sp.integrate((mu + sigma * z) * phi, (z, z0, sp.oo))
    lower = sp.integrate((mu + sigma * z) * phi, (z, -sp.oo, z0))
    return upper - lower


def w1_gaussians_integral(mu, sigma) -> sp.Expr:
    """``int |mu + sigma z| phi(z) dz``: W1(N(m1, s1^2), N(m2, s2^2)) under the quantile coupling, with
    ``mu = m2 - m1`` and ``sigma = s2 - s1 > 0`` (the symbolic integral, with the values substituted)."""
    generic = _abs_linear_gaussian_integral()
    return generic.subs({sp.Symbol("mu", real=True): mu, sp.Symbol("sigma", positive=True): sigma})


def w1_gaussians_residual(mu=None, sigma=None) -> sp.Expr:
    """Quadrature-free check: the split integral minus the folded-normal closed form (symbolic by default)."""
    mu = sp.Symbol("mu", real=True) if mu is None else sp.sympify(mu)
    sigma = sp.Symbol("sigma", positive=True) if sigma is None else sp.sympify(sigma)
    residual = w1_gaussians_integral(mu, sigma) - folded_normal_mean(mu, sigma)
    return sp.simplify(residual.rewrite(sp.erf))


def kr_dual_value_gaussians() -> dict[str, sp.Expr]:
    """Kantorovich-Rubinstein for P = N(0, 1), Q = N(1, 4): ``f(x) = -|x + 1|`` gives ``E_P f - E_Q f``.

    F - G changes sign once, at x = -1 (where x = (x - 1) / 2), and the 1-D optimal critic has slope
    ``sign(G - F)``: +1 left of -1, -1 right of it. Under P, f(X) = -|1 + Z|; under Q, Y = 1 + 2Z and
    f(Y) = -|2 + 2Z|. The value must equal the folded-normal closed form of W1, E|1 + Z|.
    """
    e_p_f = -w1_gaussians_integral(sp.Integer(1), sp.Integer(1))
    e_q_f = -w1_gaussians_integral(sp.Integer(2), sp.Integer(2))
    return {"dual_value": sp.simplify((e_p_f - e_q_f).rewrite(sp.erf)), "w1": folded_normal_mean(1, 1)}


def evaluate(expr: sp.Expr, **values) -> float:
    """``expr`` as a float after substituting its free symbols by name (``evaluate(e, k=1, t=1)``)."""
    missing = {s.name for s in expr.free_symbols} - set(values)
    if missing:
        raise ValueError(f"values missing for symbols {sorted(missing)}")
    return float(expr.subs({s: values[s.name] for s in expr.free_symbols}))


# --- discrete 1-D: the hand computation ------------------------------------------------------------------
def w1_discrete_exact(xs, a, ys, b) -> Fraction:
    """Exact W1 of two discrete 1-D laws as ``sum |F - G| dx`` over the merged support, in rationals.

    ``xs, ys`` are support points and ``a, b`` their weights, given as ints, Fractions or decimal strings.
    """
    xs, a, ys, b = ([Fraction(v) for v in seq] for seq in (xs, a, ys, b))
    if sum(a) != 1 or sum(b) != 1:
        raise ValueError(f"weights must sum to 1, got {sum(a)} and {sum(b)}")
    grid = sorted(set(xs) | set(ys))
    total = Fraction(0)
    for left, right in zip(grid[:-1], grid[1:]):
        cdf_p = sum(w for v, w in zip(xs, a) if v <= left)
        cdf_q = sum(w for v, w in zip(ys, b) if v <= left)
        total += abs(cdf_p - cdf_q) * (right - left)
    return total


# --- parallel lines --------------------------------------------------------------------------------------
def _segment_densities(disjoint: bool) -> list[tuple[sp.Expr, sp.Expr]]:
    """Densities (p0, p_theta) of P_0 and P_theta on each segment, against length on the union of the segments.

    Each law is uniform on its own segment of length 1. Disjoint segments (theta != 0): P_0 has density 1 on
    the segment x = 0 and 0 on x = theta, and the other way round; one segment (theta = 0): both have density 1.
    """
    return [(sp.Integer(1), sp.Integer(0)), (sp.Integer(0), sp.Integer(1))] if disjoint else [(sp.Integer(1),) * 2]


def _mixture_ratios(disjoint: bool) -> list[tuple[sp.Expr, sp.Expr, sp.Expr]]:
    """(m, dP_0/dM, dP_theta/dM) on each segment, with M = (P_0 + P_theta)/2 and m its density."""
    out = []
    for p0, pt in _segment_densities(disjoint):
        m = (p0 + pt) / 2
        out.append((m, p0 / m, pt / m))
    return out


def _xlogx(r: sp.Expr) -> sp.Expr:
    """r log r with its limit 0 at r = 0."""
    return sp.limit(z * sp.log(z), z, 0, "+") if r == 0 else r * sp.log(r)


def _divergences_from_ratios(disjoint: bool) -> dict[str, sp.Expr]:
    """JS, TV and KL(P_0 || P_theta) as integrals over M of functions of the densities r = dP/dM.

    Each segment has length 1, so the integral over M of g(r0, rt) is sum over segments of m * g(r0, rt).
    JS = (KL(P_0 || M) + KL(P_theta || M)) / 2 with KL(P || M) = int r log r dM; TV = (1/2) int |r0 - rt| dM;
    KL(P_0 || P_theta) = int r0 log(r0 / rt) dM, +oo as soon as rt = 0 where r0 > 0 (limit rt = eps -> 0).
    """
    eps = sp.Symbol("epsilon", positive=True)
    pieces = _mixture_ratios(disjoint)
    js = sum(m * (_xlogx(r0) + _xlogx(rt)) / 2 for m, r0, rt in pieces)
    tv = sum(m * sp.Abs(r0 - rt) / 2 for m, r0, rt in pieces)
    kl = sum(m * (0 if r0 == 0 else sp.limit(r0 * sp.log(r0 / (rt + eps)), eps, 0, "+")) for m, r0, rt in pieces)
    return {"JS": sp.simplify(js), "TV": sp.simplify(tv), "KL": kl}


def parallel_lines_closed_forms() -> dict[str, sp.Expr]:
    """W1, JS, KL and TV between P_0 = law of (0, Z) and P_theta = law of (theta, Z), Z ~ U[0, 1].

    W1: every coupling moves mass at least ``|theta|`` horizontally, and the Monge map ``(0, z) -> (theta, z)``
    moves exactly that, so ``W1 = int_0^1 |theta| dz``. JS, TV and KL come from ``_divergences_from_ratios``:
    the densities of both laws with respect to their mixture, on disjoint segments (theta != 0) or on one.
    """
    theta = sp.Symbol("theta", real=True)
    w1 = sp.integrate(sp.Abs(theta), (z, 0, 1))
    apart, same = _divergences_from_ratios(True), _divergences_from_ratios(False)
    zero = sp.Eq(theta, 0)
    return {"theta": theta, "W1": w1, **{k: sp.Piecewise((same[k], zero), (apart[k], True)) for k in apart}}


# --- plans as measures: the quantile coupling ------------------------------------------------------------
def _cumulative(weights) -> list[Fraction]:
    """Partial sums 0, w_0, w_0 + w_1, ..., 1: the CDF at the support points, as the ends of quantile cells."""
    ends = [Fraction(0)]
    for w in weights:
        ends.append(ends[-1] + Fraction(w))
    return ends


def quantile_coupling_exact(a, b) -> list[list[Fraction]]:
    """The plan (F^-1, G^-1)#U[0, 1] of two discrete laws on sorted supports, in rationals, shape (n, m).

    F^-1(u) is the i-th point of p exactly for u in [F_{i-1}, F_i), so the push-forward of U[0, 1] puts on the
    pair (x_i, y_j) the length of the overlap of [F_{i-1}, F_i) and [G_{j-1}, G_j). Raises ``ValueError`` if
    a weight vector does not sum to 1.
    """
    fa, gb = _cumulative(a), _cumulative(b)
    if fa[-1] != 1 or gb[-1] != 1:
        raise ValueError(f"weights must sum to 1, got {fa[-1]} and {gb[-1]}")
    return [[max(Fraction(0), min(fa[i + 1], gb[j + 1]) - max(fa[i], gb[j])) for j in range(len(gb) - 1)]
            for i in range(len(fa) - 1)]


# --- W1 and weak convergence; W1 <= diam * TV ------------------------------------------------------------
def escaping_mass_w1(n) -> Fraction:
    """W1((1 - 1/n) delta_0 + (1/n) delta_n, delta_0), exactly: 1 for every n >= 1.

    The law tends weakly to delta_0 (any bounded continuous f has E f -> f(0)), but its first moment is 1 for
    every n: without bounded supports or converging first moments, weak convergence does not imply W1 -> 0.
    """
    n = Fraction(n)
    return w1_discrete_exact([0, n], [1 - 1 / n, 1 / n], [0], [1])


def tv_discrete_exact(xs, a, ys, b) -> Fraction:
    """TV = (1/2) sum |p - q| over the merged support of two discrete laws, in rationals."""
    p, q = {}, {}
    for v, w in zip(xs, a):
        p[Fraction(v)] = p.get(Fraction(v), 0) + Fraction(w)
    for v, w in zip(ys, b):
        q[Fraction(v)] = q.get(Fraction(v), 0) + Fraction(w)
    return sum(abs(p.get(k, 0) - q.get(k, 0)) for k in set(p) | set(q)) / 2


def diameter_tv_bound(xs, a, ys, b) -> dict[str, Fraction]:
    """W1, TV and the diameter of the joint support of two 1-D discrete laws: W1 <= diam * TV.

    The plan that keeps min(p, q) in place and sends the rest, of total mass TV, anywhere costs at most
    diam * TV, and W1 is the cheapest plan.
    """
    support = [Fraction(v) for v in (*xs, *ys)]
    return {"w1": w1_discrete_exact(xs, a, ys, b), "tv": tv_discrete_exact(xs, a, ys, b),
            "diam": max(support) - min(support)}
