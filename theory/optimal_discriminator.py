"""Symbolic statements of the optimal-discriminator chapter (book/optimal_discriminator.md).

At a fixed point x write a = p_data(x) >= 0, b = p_G(x) >= 0 and y = D(x) in [0, 1]. The value function
V(G, D) is the integral over x of the pointwise objective f(y) = a log y + b log(1 - y), so the best
discriminator maximises f separately at every x. Each function below returns the sympy expressions of
one step of that argument; ``tests/test_theory_optimal_discriminator.py`` asserts that they simplify
as the chapter claims, and that deliberately wrong variants do not.
"""
from __future__ import annotations

import sympy as sp

__all__ = [
    "a", "b", "s", "t", "y",
    "split_logs",
    "pointwise_objective",
    "stationary_points",
    "second_derivative",
    "curvature_at_optimum",
    "second_derivative_inside_unit_interval",
    "edge_case_objectives",
    "optimal_value",
    "kl_form_of_optimal_value",
    "discrete_value_minus_js_identity",
    "kl_upper_bound_gap",
    "gibbs_function",
    "optimal_value_curvature_in_b",
    "uniform_shift_value",
]

# Densities at one point are positive where the argument needs logs of them; the zero cases are
# handled separately by edge_case_objectives.
a, b = sp.symbols("a b", positive=True)
y = sp.symbols("y", positive=True)
s = sp.symbols("s", positive=True)  # y = s / (1 + s) maps s in (0, inf) onto y in (0, 1)
t = sp.symbols("t", positive=True)  # a likelihood ratio, t = a / m


def split_logs(expr: sp.Expr) -> sp.Expr:
    """Rewrite every log(u) as a sum of logs of u's factors (valid here: all symbols are positive)."""
    return sp.expand(expr.replace(sp.log, lambda u: sp.expand_log(sp.log(sp.factor(u)), force=True)))


def pointwise_objective(a_=a, b_=b, y_=y) -> sp.Expr:
    """f(y) = a log y + b log(1 - y): the integrand of V(G, D) at one x."""
    return a_ * sp.log(y_) + b_ * sp.log(1 - y_)


def stationary_points() -> list[sp.Expr]:
    """Solutions of df/dy = a / y - b / (1 - y) = 0; the chapter's optimum is the only one, a / (a + b)."""
    return sp.solve(sp.diff(pointwise_objective(), y), y)


def second_derivative() -> sp.Expr:
    """d^2 f / dy^2, which the chapter writes as -a / y^2 - b / (1 - y)^2."""
    return sp.diff(pointwise_objective(), y, 2)


def curvature_at_optimum() -> sp.Expr:
    """d^2 f / dy^2 at y* = a / (a + b), simplified; the chapter states -(a + b)^3 / (a b)."""
    return sp.simplify(second_derivative().subs(y, a / (a + b)))


def second_derivative_inside_unit_interval() -> sp.Expr:
    """d^2 f / dy^2 with y = s / (1 + s), s > 0, so that sympy knows 0 < y < 1 and can decide its sign."""
    return sp.simplify(second_derivative().subs(y, s / (1 + s)))


def edge_case_objectives() -> dict[str, sp.Expr]:
    """The objective when one density vanishes at x: the optimum moves to an end of [0, 1].

    Returns f and df/dy for a = 0 (only generated samples reach x) and for b = 0 (only real ones).
    """
    f_no_data = pointwise_objective(0, b, y)
    f_no_fake = pointwise_objective(a, 0, y)
    return {
        "f_a0": f_no_data, "df_a0": sp.diff(f_no_data, y),
        "f_b0": f_no_fake, "df_b0": sp.diff(f_no_fake, y),
    }


def optimal_value() -> sp.Expr:
    """f(y*) = a log(a / (a + b)) + b log(b / (a + b)): the integrand of C(G) = V(G, D*)."""
    return pointwise_objective(a, b, a / (a + b))


def kl_form_of_optimal_value() -> sp.Expr:
    """-(a + b) log 2 + a log(a / m) + b log(b / m) with m = (a + b) / 2: the KL form of f(y*).

    Integrated over x, the first term gives -log 4 because p_data and p_G each integrate to one, and
    the other two give KL(P_data || M) + KL(P_G || M) = 2 JS(P_data || P_G).
    """
    m = (a + b) / 2
    return -(a + b) * sp.log(2) + a * sp.log(a / m) + b * sp.log(b / m)


def discrete_value_minus_js_identity(n_atoms: int = 3) -> sp.Expr:
    """C(G) - (-log 4 + 2 JS) for two symbolic distributions on ``n_atoms`` points, as one expression.

    The logs are expanded while every probability is a positive symbol; only then is the last
    probability of each distribution replaced by 1 minus the others. So the normalisation step of the
    argument (p and q each sum to one, hence -log 2 times their total is -log 4) is checked by sympy,
    not assumed.
    """
    p = list(sp.symbols(f"p1:{n_atoms + 1}", positive=True))
    q = list(sp.symbols(f"q1:{n_atoms + 1}", positive=True))
    value = sum(pointwise_objective(pi, qi, pi / (pi + qi)) for pi, qi in zip(p, q))
    mids = [(pi + qi) / 2 for pi, qi in zip(p, q)]
    kl_p = sum(pi * sp.log(pi / mi) for pi, mi in zip(p, mids))
    kl_q = sum(qi * sp.log(qi / mi) for qi, mi in zip(q, mids))
    gap = split_logs(value - (-sp.log(4) + kl_p + kl_q))
    return gap.subs({p[-1]: 1 - sum(p[:-1]), q[-1]: 1 - sum(q[:-1])})


def kl_upper_bound_gap() -> sp.Expr:
    """a log 2 - a log(a / m): nonnegative, so KL(P || M) <= log 2 and JS <= log 2.

    It equals a log(1 + b / a), zero exactly where b = 0: JS reaches log 2 only for disjoint supports.
    """
    m = (a + b) / 2
    return sp.expand_log(a * sp.log(2) - a * sp.log(a / m), force=True)


def gibbs_function() -> sp.Expr:
    """g(t) = t log t - t + 1 >= 0, with equality only at t = 1.

    With t = a / m, m g(t) = a log(a / m) - a + m; the last two terms integrate to zero, so
    KL(P || M) = integral of m g(a / m) >= 0, and JS = 0 only when p_data = p_G almost everywhere.
    """
    return t * sp.log(t) - t + 1


def optimal_value_curvature_in_b() -> sp.Expr:
    """d^2 f(y*) / db^2: positive, so C(G) is convex in the density p_G (not in a generator's parameters)."""
    return sp.simplify(sp.diff(optimal_value(), b, 2))


def uniform_shift_value(shift: sp.Expr) -> sp.Expr:
    """C(G) for p_data = U[0, 1] and p_G = U[c, 1 + c], 0 <= c <= 1, integrated piecewise by sympy.

    Where only one density is positive f(y*) = 0 (the edge cases); on the overlap [c, 1] both equal 1.
    The chapter reads off JS = c log 2.
    """
    x = sp.symbols("x", real=True)
    only_data = sp.limit(optimal_value().subs(a, 1), b, 0, "+")  # x in [0, c): p_G = 0
    only_fake = sp.limit(optimal_value().subs(b, 1), a, 0, "+")  # x in (1, 1 + c]: p_data = 0
    both = optimal_value().subs({a: 1, b: 1})  # x in [c, 1]: both densities equal 1
    return (sp.integrate(only_data, (x, 0, shift)) + sp.integrate(both, (x, shift, 1))
            + sp.integrate(only_fake, (x, 1, 1 + shift)))
