"""The Wasserstein chapter's derivations, checked symbolically (theory/wasserstein.py)."""
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from scipy import integrate, stats

from theory import wasserstein as tw


def test_product_coupling_has_the_right_marginals_discrete():
    residuals = tw.product_coupling_marginal_residuals(3, 4)
    assert len(residuals) == 7
    assert all(sp.expand(r) == 0 for r in residuals)


def test_a_non_normalised_product_fails_the_marginal_check(monkeypatch):
    # break the module's normalisation step: weights no longer sum to one
    monkeypatch.setattr(tw, "_normalised_weights", lambda prefix, n: list(sp.symbols(f"{prefix}0:{n}", positive=True)))
    residuals = tw.product_coupling_marginal_residuals(3, 4)
    assert any(sp.expand(r) != 0 for r in residuals)


def test_product_coupling_has_the_right_marginals_continuous():
    assert sp.simplify(tw.product_coupling_continuous_residual()) == 0


def test_exchange_lemma_uncrossing_never_costs_more_under_abs():
    gaps = tw.exchange_lemma_gaps()
    assert [order for order, _ in gaps] == ["xxyy", "xyxy", "xyyx", "yxxy", "yxyx", "yyxx"]
    for order, expr in gaps:
        poly = sp.Poly(expr, *sorted(expr.free_symbols, key=str)) if expr.free_symbols else None
        assert expr == 0 or all(c >= 0 for c in poly.coeffs()), (order, expr)
    # overlapping supports make crossing strictly worse; separated ones leave a tie (W1's plan is not unique)
    assert {order for order, expr in gaps if expr == 0} == {"xxyy", "yyxx"}


def test_exchange_lemma_fails_for_a_concave_cost():
    # with c(d) = sqrt|d| crossing can be cheaper: the monotone plan is not optimal for concave costs
    gaps = dict(tw.exchange_lemma_gaps(cost=lambda d: sp.sqrt(sp.Abs(d))))
    d0, d1, d2 = sp.symbols("d0:3", positive=True)
    value = gaps["xxyy"].subs({d0: 1, d1: 10, d2: 1})  # x's at 0, 1 and y's at 11, 12: crossed is cheaper
    assert value.is_negative


@pytest.mark.parametrize("pair", [tw.w1_uniform_scale, tw.w1_exponential])
def test_cdf_and_quantile_routes_agree_with_the_closed_form(pair):
    forms = pair()
    assert sp.simplify(forms["by_cdf"] - forms["closed_form"]) == 0
    assert sp.simplify(forms["by_quantile"] - forms["closed_form"]) == 0
    assert sp.simplify(forms["closed_form"]) != 0


def test_gaussian_w1_closed_form():
    assert tw.w1_gaussians_residual() == 0


def test_gaussian_closed_form_without_the_exponential_term_is_wrong():
    mu, sigma = sp.Symbol("mu", real=True), sp.Symbol("sigma", positive=True)
    wrong = mu * sp.erf(mu / (sigma * sp.sqrt(2)))
    residual = (tw.w1_gaussians_integral(mu, sigma) - wrong).rewrite(sp.erf)
    assert sp.simplify(residual) != 0


def test_gaussian_closed_form_matches_quadrature_of_cdf_difference():
    exact = float(tw.folded_normal_mean(1, 1))  # N(0, 1) vs N(1, 2^2)
    by_cdf, _ = integrate.quad(lambda t: abs(stats.norm.cdf(t) - stats.norm.cdf(t, 1, 2)), -np.inf, np.inf)
    assert exact == pytest.approx(by_cdf, abs=1e-9)


def test_kantorovich_rubinstein_critic_attains_w1():
    forms = tw.kr_dual_value_gaussians()
    assert sp.simplify(forms["dual_value"] - forms["w1"]) == 0


def test_w1_discrete_exact_is_rational_and_matches_hand_values():
    assert tw.w1_discrete_exact([0, 1, 2, 3], ["1/4"] * 4, [1, 3, 5], ["1/2", "1/3", "1/6"]) == Fraction(5, 6)
    assert tw.w1_discrete_exact(range(1, 7), ["1/6"] * 6, [1, 6], ["1/2", "1/2"]) == 1
    with pytest.raises(ValueError, match="weights must sum to 1"):
        tw.w1_discrete_exact([0, 1], ["1/2", "1/3"], [0], [1])


def test_parallel_lines_closed_forms():
    forms = tw.parallel_lines_closed_forms()
    theta = forms["theta"]
    for value in (sp.Rational(-1, 2), sp.Rational(1, 10), 3):
        assert forms["W1"].subs(theta, value) == abs(value)
        assert forms["JS"].subs(theta, value) == sp.log(2)
        assert forms["KL"].subs(theta, value) == sp.oo
        assert forms["TV"].subs(theta, value) == 1
    assert all(forms[k].subs(theta, 0) == 0 for k in ("W1", "JS", "KL", "TV"))


def test_parallel_lines_divergences_come_from_the_mixture_densities(monkeypatch):
    # the mixture M = (P_0 + P_theta)/2: forgetting the 1/2 (densities against P_0 + P_theta) must break JS
    def no_half(disjoint):
        return [(p0 + pt, p0 / (p0 + pt), pt / (p0 + pt)) for p0, pt in tw._segment_densities(disjoint)]

    monkeypatch.setattr(tw, "_mixture_ratios", no_half)
    forms = tw.parallel_lines_closed_forms()
    assert forms["JS"].subs(forms["theta"], 1) != sp.log(2)


def test_parallel_lines_need_disjoint_segments_for_log2(monkeypatch):
    monkeypatch.setattr(tw, "_segment_densities", lambda disjoint: [(sp.Integer(1),) * 2])  # never disjoint
    forms = tw.parallel_lines_closed_forms()
    assert forms["JS"].subs(forms["theta"], 1) == 0 and forms["TV"].subs(forms["theta"], 1) == 0


def test_quantile_coupling_is_the_north_west_corner_plan():
    from sims.wasserstein import monotone_plan
    for a, b in [(["1/4"] * 4, ["1/2", "1/3", "1/6"]), (["1/6"] * 6, ["1/2", "1/2"]),
                 (["1/5", "1/2", "3/10"], ["1/10"] * 4 + ["3/5"])]:
        plan = tw.quantile_coupling_exact(a, b)
        assert [sum(row) for row in plan] == [Fraction(w) for w in a]
        assert [sum(col) for col in zip(*plan)] == [Fraction(w) for w in b]
        np.testing.assert_allclose(np.array(plan, float),
                                   monotone_plan([float(Fraction(w)) for w in a], [float(Fraction(w)) for w in b]),
                                   atol=1e-15)
    with pytest.raises(ValueError, match="weights must sum to 1"):
        tw.quantile_coupling_exact(["1/2"], [1])


def test_a_wrong_quantile_cell_breaks_the_coupling(monkeypatch):
    right = tw._cumulative
    monkeypatch.setattr(tw, "_cumulative", lambda w: right(list(reversed(w))))  # cells in the wrong order
    a, b = ["1/5", "1/2", "3/10"], ["1/10"] * 4 + ["3/5"]
    plan = tw.quantile_coupling_exact(a, b)
    assert [sum(row) for row in plan] != [Fraction(w) for w in a]


def test_escaping_mass_keeps_w1_at_one_while_converging_weakly():
    assert all(tw.escaping_mass_w1(n) == 1 for n in (1, 2, 10, 10**6))
    # weakly: E f -> f(0) for a bounded continuous f, e.g. f = arctan shifted, while E|X| = 1 for every n
    f = np.arctan
    gaps = [abs((1 - 1 / n) * f(0) + f(n) / n - f(0)) for n in (10, 1000, 100000)]
    assert gaps[-1] < 1e-4 and np.all(np.diff(gaps) < 0)


def test_w1_is_at_most_diameter_times_tv():
    pairs = [([0, 1, 2, 3], ["1/4"] * 4, [1, 3, 5], ["1/2", "1/3", "1/6"]),
             (range(1, 7), ["1/6"] * 6, [1, 6], ["1/2", "1/2"]),
             ([0, 1], ["1/2", "1/2"], [0, 1], ["1/2", "1/2"]),
             ([0], [1], [7], [1])]                                     # a point mass moved: equality
    for xs, a, ys, b in pairs:
        r = tw.diameter_tv_bound(xs, a, ys, b)
        assert r["w1"] <= r["diam"] * r["tv"]
    assert tw.diameter_tv_bound([0], [1], [7], [1]) == {"w1": 7, "tv": 1, "diam": 7}
