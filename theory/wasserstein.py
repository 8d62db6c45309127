"""Sympy statements of the Wasserstein chapter's identities (checked by tests/test_wasserstein_theory.py).

Each function returns sympy expressions; the tests assert that residuals simplify to zero and that a
deliberately wrong variant does not.

- couplings: the product coupling has the right marginals (discrete and continuous);
- the exchange lemma behind the 1-D monotone plan: uncrossing two transport paths never costs more under
  ``|x - y|`` (all six interleavings of ``x1 < x2`` and ``y1 < y2``);
- closed forms of W1 for worked 1-D pairs, each computed two ways: ``int |F - G| dx`` and
  ``int_0^1 |F^-1(u) - G^-1(u)| du``;
- Kantorovich-Rubinstein in 1-D: the 1-Lipschitz ``f(x) = -|x + 1|`` attains W1 between N(0, 1) and N(1, 4);
- the parallel-lines example of Arjovsky et al. (2017): W1, JS, KL and TV as functions of theta.
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from itertools import combinations

import sympy as sp

x, y, u, z = sp.symbols("x y u z", real=True)


# --- couplings -------------------------------------------------------------------------------------------
def product_coupling_marginal_residuals(n: int = 3, m: int = 4) -> list[sp.Expr]:
    """Row sums of ``a b^T`` minus ``a`` and column sums minus ``b``, for symbolic weights summing to one.

    The last weight of each vector is eliminated as ``1 - sum(others)``, so the residuals are exactly zero.
    """
    a_free = sp.symbols(f"a0:{n - 1}", nonnegative=True)
    b_free = sp.symbols(f"b0:{m - 1}", nonnegative=True)
    a = list(a_free) + [1 - sum(a_free)]
    b = list(b_free) + [1 - sum(b_free)]
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
def parallel_lines_closed_forms() -> dict[str, sp.Expr]:
    """W1, JS, KL and TV between P_0 = law of (0, Z) and P_theta = law of (theta, Z), Z ~ U[0, 1].

    W1: every coupling moves mass at least ``|theta|`` horizontally, and ``(0, z) -> (theta, z)`` moves exactly
    that, so ``W1 = int_0^1 |theta| dz``. For theta != 0 the supports are disjoint: the mixture M = (P + Q)/2 has
    dP/dM = 2 on P's support, so JS = (1/2) log 2 + (1/2) log 2; KL integrates log(p / 0); TV = (1 + 1) / 2.
    """
    theta = sp.Symbol("theta", real=True)
    ratio_to_mixture = 2  # dP/dM on P's support when the supports are disjoint
    w1 = sp.integrate(sp.Abs(theta), (z, 0, 1))
    js = sp.Rational(1, 2) * sp.log(ratio_to_mixture) + sp.Rational(1, 2) * sp.log(ratio_to_mixture)
    eps = sp.Symbol("epsilon", positive=True)  # KL against a Q that puts density eps on P's support, eps -> 0
    kl = sp.limit(sp.integrate(sp.log(1 / eps), (z, 0, 1)), eps, 0, "+")
    tv = sp.Rational(1, 2) * (1 + 1)
    zero = sp.Eq(theta, 0)
    return {"theta": theta, "W1": w1,
            "JS": sp.Piecewise((0, zero), (js, True)),
            "KL": sp.Piecewise((0, zero), (kl, True)),
            "TV": sp.Piecewise((0, zero), (tv, True))}
