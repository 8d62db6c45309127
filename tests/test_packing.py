"""The theory of packing: sympy identities and the exact divergences of product distributions."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from sims.product_divergences import (LOG2, alternating_weights, best_response_rounds, collapse_lower_bound,
                                      dropped_and_off_generators, product_divergences,
                                      product_divergences_bruteforce, type_classes)
from theory import packing as th


# --- sympy: each derivation step -------------------------------------------------------------------------

def test_optimal_packed_discriminator_is_a_maximum():
    d_star, curvature = th.optimal_packed_discriminator()
    assert sp.simplify(d_star - th.a / (th.a + th.b)) == 0
    assert sp.simplify(d_star - th.b / (th.a + th.b)) != 0          # the swapped ratio is not the optimum
    assert curvature.subs({th.a: 2, th.b: 3}) < 0 and curvature.subs({th.a: sp.Rational(1, 7), th.b: 5}) < 0


def test_packed_value_is_minus_log4_plus_2js():
    assert th.packed_value_pointwise_gap() == 0
    for p, q, m in [("1/3", "3/4", 2), ("1/10", "1/2", 3)]:
        assert abs(th.packed_value_discrete_gap(p, q, m)) < 1e-25


def test_packed_value_gap_detects_a_wrong_discriminator(monkeypatch):
    # break the module's own step: evaluate the value at the swapped ratio b / (a + b) instead of D*
    monkeypatch.setattr(th, "optimal_packed_discriminator", lambda: (th.b / (th.a + th.b), sp.Integer(-1)))
    assert th.packed_value_pointwise_gap() != 0


def test_js_is_log2_minus_expected_entropy_and_chord_bound():
    assert th.js_as_entropy_gap() == 0
    second, at_zero, at_half = th.js_tv_chord_convexity()
    t = sp.symbols("t", positive=True)
    assert all(second.subs(t, v) > 0 for v in (sp.Rational(1, 100), sp.Rational(1, 2), sp.Rational(99, 100)))
    assert at_zero == sp.log(2) and at_half == 0


@pytest.mark.parametrize("m", [2, 3])
def test_kl_of_products_is_m_times_kl(m):
    assert th.kl_product_gap(m) == 0


def test_kl_identity_check_is_not_vacuous(monkeypatch):
    # break the module's step: weights that do not sum to one (the last one no longer 1 - the others)
    p1, p2, q1, q2 = sp.symbols("p1 p2 q1 q2", positive=True)
    monkeypatch.setattr(th, "_symbolic_three_point", lambda: ([p1, p2, sp.Rational(1, 2)], [q1, q2, sp.Rational(1, 3)]))
    gap = th.kl_product_gap(2)
    values = {p1: 0.1, p2: 0.3, q1: 0.5, q2: 0.1}   # p sums to 0.9
    assert abs(float(gap.subs(values))) > 1e-3


def test_packed_gradient_is_the_single_sample_direction_times_a_shared_scalar():
    assert th.packed_generator_gradient_gap(2) == 0 and th.packed_generator_gradient_gap(3) == 0


def test_packed_gradient_check_fails_if_packs_were_not_products(monkeypatch):
    monkeypatch.setattr(th, "_pack_density", lambda density, xs: sum(density(xi) for xi in xs))
    assert th.packed_generator_gradient_gap(2) != 0


@pytest.mark.parametrize("m", [1, 2, 5])
def test_mode_collapse_lower_bound(m):
    eps, delta = sp.symbols("epsilon delta", positive=True)
    assert sp.expand(th.mode_collapse_tv_lower_bound(eps, delta, m) - ((1 - eps) ** m - (1 - delta) ** m)) == 0


def test_mode_collapse_bound_fails_if_a_pack_with_no_sample_in_s_is_counted(monkeypatch):
    monkeypatch.setattr(th, "_prob_some_in_set", lambda prob, m: sum(sp.binomial(m, k) * prob**k * (1 - prob) ** (m - k)
                                                                      for k in range(0, m + 1)))
    eps, delta = sp.symbols("epsilon delta", positive=True)
    assert sp.expand(th.mode_collapse_tv_lower_bound(eps, delta, 3) - ((1 - eps) ** 3 - (1 - delta) ** 3)) != 0


@pytest.mark.parametrize("m", [2, 3])
def test_bhattacharyya_of_products_is_power(m):
    assert th.bhattacharyya_product_gap(m) == 0


def test_packed_logit_is_a_sum_of_log_ratios():
    assert th.packed_logit_is_sum(3) == 0


@pytest.mark.parametrize("k, m", [(4, 3), (8, 2), (3, 4)])
def test_dropping_a_mode_reaches_the_tv_upper_bound(k, m):
    assert th.drop_mode_tv_gap(k, m) == 0


# --- exact product divergences: two routes, identities and bounds ----------------------------------------

def test_type_classes_count_and_weights():
    counts, log_w = type_classes(4, 3)
    assert len(counts) == 20 and np.all(counts.sum(1) == 3)           # C(3 + 4 - 1, 3)
    assert np.isclose(np.exp(log_w).sum(), 4 ** 3)                    # every packed sample counted once


@pytest.mark.parametrize("m", [1, 2, 4])
def test_type_classes_agree_with_enumeration(m):
    rng = np.random.default_rng(m)
    p, q = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5))
    fast, slow = product_divergences(p, q, m), product_divergences_bruteforce(p, q, m)
    for key in fast:
        assert np.isclose(fast[key], slow[key], rtol=1e-10, atol=1e-12), key


def test_product_identities_hold_numerically():
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(4)), rng.dirichlet(np.ones(4))
    one = product_divergences(p, q, 1)
    for m in range(2, 7):
        d = product_divergences(p, q, m)
        assert np.isclose(d["kl"], m * one["kl"]) and np.isclose(d["reverse_kl"], m * one["reverse_kl"])
        assert np.isclose(d["bc"], one["bc"] ** m)
        assert np.isclose(d["d_loss"], 2 * LOG2 - 2 * d["js"])


@pytest.mark.parametrize("seed", range(5))
def test_tv_and_js_bounds_for_products(seed):
    rng = np.random.default_rng(seed)
    p, q = rng.dirichlet(np.ones(4)), rng.dirichlet(np.ones(4))
    one = product_divergences(p, q, 1)
    for m in range(1, 7):
        d = product_divergences(p, q, m)
        assert 1 - one["bc"] ** m <= d["tv"] + 1e-12
        assert d["tv"] <= min(1 - (1 - one["tv"]) ** m, np.sqrt(1 - one["bc"] ** (2 * m))) + 1e-12
        pe = (1 - d["tv"]) / 2
        h = 0.0 if pe == 0 else -pe * np.log(pe) - (1 - pe) * np.log(1 - pe)
        assert LOG2 - h - 1e-12 <= d["js"] <= LOG2 * d["tv"] + 1e-12


def test_js_of_products_tends_to_log2():
    p, q = np.array([0.5, 0.5]), np.array([0.7, 0.3])
    js = [product_divergences(p, q, m)["js"] for m in (1, 10, 50, 200)]
    assert np.all(np.diff(js) > 0) and LOG2 - js[-1] < 0.1 * (LOG2 - js[0])


def test_the_two_generators_sit_at_the_same_tv_and_part_with_packing():
    p, q_drop, q_off = dropped_and_off_generators(8)
    d1, o1 = product_divergences(p, q_drop, 1), product_divergences(p, q_off, 1)
    assert np.isclose(d1["tv"], 1 / 8) and np.isclose(o1["tv"], 1 / 8)
    d8, o8 = product_divergences(p, q_drop, 8), product_divergences(p, q_off, 8)
    assert np.isclose(d8["tv"], 1 - (7 / 8) ** 8)                      # the largest growth possible
    assert d8["tv"] > 2 * o8["tv"]
    assert d1["kl"] == np.inf and np.isfinite(o1["kl"])                # forward KL: a dropped mode costs infinity


def test_packing_reverses_the_preference_between_a_dropper_and_a_spreader():
    """The dropper (TV 1/8) is closer than the spreader (weights off by 60 %, TV 0.3); JS prefers it at m = 1 and
    the spreader by m = 8; the packed total variations cross too."""
    p, q_drop, _ = dropped_and_off_generators(8)
    q_spread = alternating_weights(8, 0.6)
    d = {m: product_divergences(p, q_drop, m) for m in range(1, 9)}
    s = {m: product_divergences(p, q_spread, m) for m in range(1, 9)}
    assert np.isclose(d[1]["tv"], 1 / 8) and np.isclose(s[1]["tv"], 0.3)
    assert d[1]["js"] < s[1]["js"] and d[8]["js"] > s[8]["js"]
    assert d[1]["tv"] < s[1]["tv"] and d[8]["tv"] > s[8]["tv"]
    crossing = min(m for m in range(1, 9) if d[m]["js"] > s[m]["js"])
    assert crossing == 6
    assert np.all(q_spread > 0)                                         # the spreader covers every mode


def test_collapse_lower_bound_holds_and_is_tight_for_the_dropper():
    p, q_drop, _ = dropped_and_off_generators(8)
    q_spread = alternating_weights(8, 0.6)
    for m in range(1, 7):
        bound, cells = collapse_lower_bound(p, q_drop, m)
        assert np.isclose(bound, product_divergences(p, q_drop, m)["tv"]) and cells == (0,)
        assert collapse_lower_bound(p, q_spread, m)[0] <= product_divergences(p, q_spread, m)["tv"] + 1e-12


def test_best_responses_collapse_and_hop():
    p, q_drop, _ = dropped_and_off_generators(8)
    rounds = best_response_rounds(p, q_drop, 4)
    d0 = rounds[0][1]
    assert np.isclose(d0[0], 1) and np.allclose(d0[1:], 7 / 15)        # D* < 1/2 on the over-weighted modes
    supports = [np.flatnonzero(q) for q, _ in rounds[1:]]
    assert all(len(s) == 1 for s in supports)                           # the generator is always on one mode
    assert len({int(s[0]) for s in supports}) > 1                       # and it keeps moving


def test_validation_messages():
    with pytest.raises(ValueError, match="p must sum to 1"):
        product_divergences([0.5, 0.6], [0.5, 0.5], 2)
    with pytest.raises(ValueError, match="same length"):
        product_divergences([0.5, 0.5], [1 / 3] * 3, 2)
    with pytest.raises(ValueError, match="n_modes must be even"):
        dropped_and_off_generators(7)
    with pytest.raises(ValueError, match=r"m must lie in \[1, inf\]"):
        type_classes(3, 0)


def test_g_weight_is_finite_when_some_packs_are_impossible_under_both():
    """A cell only P has and a cell only Q has: packs holding both have probability 0 under P^m and Q^m."""
    p, q = np.array([0.3, 0.7, 0.0]), np.array([0.0, 0.7, 0.3])
    d = product_divergences(p, q, 3)
    assert np.isfinite(d["g_weight"]) and np.isclose(d["tv"], 1 - 0.7**3)
    assert np.isclose(d["g_weight"], (1 - 0.7**3) + 0.7**3 / 2)   # 1 - D* is 1 on packs Q gives away, else 1/2
