"""The optimal-discriminator derivation, step by step, checked symbolically (theory/optimal_discriminator.py).

Each identity is asserted to hold, and where cheap a deliberately wrong variant (a flipped sign, a lost
factor) is asserted NOT to hold, so the checks would catch the mistakes they are meant to catch.
"""
import sympy as sp

from theory import optimal_discriminator as od
from theory.optimal_discriminator import (
    a, b, curvature_at_optimum, discrete_value_minus_js_identity, edge_case_objectives, gibbs_function,
    kl_form_of_optimal_value, kl_upper_bound_gap, optimal_value, optimal_value_curvature_in_b,
    pointwise_objective, s, second_derivative, second_derivative_inside_unit_interval, split_logs,
    stationary_points, t, uniform_shift_value, y)


def is_zero(expr) -> bool:
    return sp.simplify(split_logs(expr)) == 0


def test_the_only_stationary_point_is_a_over_a_plus_b():
    assert stationary_points() == [a / (a + b)]


def test_first_derivative_vanishes_at_the_optimum_and_not_at_the_swapped_ratio():
    derivative = sp.diff(pointwise_objective(), y)
    assert sp.simplify(derivative.subs(y, a / (a + b))) == 0
    assert sp.simplify(derivative.subs(y, b / (a + b))) != 0


def test_second_derivative_has_the_stated_form():
    assert sp.simplify(second_derivative() - (-a / y**2 - b / (1 - y) ** 2)) == 0
    assert sp.simplify(second_derivative() - (a / y**2 + b / (1 - y) ** 2)) != 0


def test_curvature_at_the_optimum():
    assert sp.simplify(curvature_at_optimum() + (a + b) ** 3 / (a * b)) == 0
    assert sp.simplify(curvature_at_optimum() - (a + b) ** 3 / (a * b)) != 0


def test_objective_is_strictly_concave_on_the_open_unit_interval():
    expr = second_derivative_inside_unit_interval()
    assert expr.free_symbols == {a, b, s}
    assert expr.is_negative is True


def test_edge_cases_push_the_optimum_to_the_ends_of_the_interval():
    cases = edge_case_objectives()
    # a = 0: strictly decreasing in y, so the supremum is the limit at y = 0, where f = 0 = b log 1
    assert (cases["df_a0"]).subs(y, s / (1 + s)).is_negative is True
    assert sp.limit(cases["f_a0"], y, 0, "+") == 0
    # b = 0: strictly increasing, supremum at y = 1
    assert (cases["df_b0"]).subs(y, s / (1 + s)).is_positive is True
    assert sp.limit(cases["f_b0"], y, 1, "-") == 0
    # and a / (a + b) gives those end points
    assert (a / (a + b)).subs(a, 0) == 0 and (a / (a + b)).subs(b, 0) == 1


def test_optimal_value_equals_its_kl_form():
    assert is_zero(optimal_value() - kl_form_of_optimal_value())


def test_kl_form_fails_if_the_optimum_is_wrong(monkeypatch):
    # break the module's own step: the pointwise objective with a sign error in its second term
    monkeypatch.setattr(od, "pointwise_objective", lambda a_=a, b_=b, y_=y: a_ * sp.log(y_) - b_ * sp.log(1 - y_))
    assert not is_zero(od.optimal_value() - od.kl_form_of_optimal_value())


def test_value_at_optimum_is_minus_log4_plus_twice_js_including_normalisation():
    assert sp.simplify(discrete_value_minus_js_identity(3)) == 0


def test_js_identity_fails_without_the_normalisation_step(monkeypatch):
    gap = discrete_value_minus_js_identity(2)
    assert sp.simplify(gap) == 0
    # break the module's own step: the objective evaluated at the swapped ratio q / (p + q) instead of D*
    right = od.pointwise_objective
    monkeypatch.setattr(od, "pointwise_objective", lambda a_=a, b_=b, y_=y: right(a_, b_, 1 - y_))
    assert sp.simplify(od.discrete_value_minus_js_identity(2)) != 0


def test_identical_densities_give_one_half_and_minus_log4():
    assert (a / (a + b)).subs(b, a) == sp.Rational(1, 2)
    # per unit of density: the integrand of C(G) is -(a + b) log 2, which integrates to -log 4
    assert is_zero(optimal_value().subs(b, a) + 2 * a * sp.log(2))


def test_kl_to_midpoint_is_at_most_log2():
    gap = kl_upper_bound_gap()
    assert sp.simplify(gap - a * sp.log(1 + b / a)) == 0
    assert (a * sp.log(1 + b / a)).is_positive is True
    assert sp.limit(gap, b, 0) == 0  # equality exactly where p_G vanishes: disjoint supports


def test_gibbs_function_is_nonnegative_with_its_only_zero_at_one():
    g = gibbs_function()
    assert g.subs(t, 1) == 0
    assert sp.diff(g, t).subs(t, 1) == 0
    assert sp.simplify(sp.diff(g, t, 2) - 1 / t) == 0
    assert sp.diff(g, t, 2).is_positive is True
    assert sp.solve(sp.diff(g, t), t) == [1]


def test_criterion_is_convex_in_the_generator_density():
    curvature = optimal_value_curvature_in_b()
    assert sp.simplify(curvature - a / (b * (a + b))) == 0
    assert curvature.is_positive is True


def test_uniform_shift_has_js_equal_to_shift_times_log2():
    c = sp.symbols("c", positive=True)
    value = uniform_shift_value(c)
    assert sp.simplify(value - (-sp.log(4) + 2 * c * sp.log(2))) == 0
    assert sp.simplify(value.subs(c, 1)) == 0  # disjoint: C = 0, JS = log 2
    assert sp.simplify(value.subs(c, 0) + sp.log(4)) == 0  # identical: C = -log 4
