"""W1 routes agree, plans are couplings, the monotone plan is optimal, sample estimates converge."""
from fractions import Fraction

import numpy as np
import pytest

from sims import wasserstein as sw
from sims import wasserstein_cost as wc
from theory.wasserstein import folded_normal_mean, w1_discrete_exact

# The chapter's discrete examples, as (points, weights, points, weights) with exact fractions
PAIRS = {
    "four points vs three": ([0, 1, 2, 3], ["1/4"] * 4, [1, 3, 5], ["1/2", "1/3", "1/6"]),
    "fair die vs 1-or-6 die": (list(range(1, 7)), ["1/6"] * 6, [1, 6], ["1/2", "1/2"]),
    "uneven weights": ([-2, 0.5, 4], ["1/5", "1/2", "3/10"], [-1, 0, 1, 2, 7], ["1/10"] * 4 + ["3/5"]),
}


def _floats(pair):
    x, a, y, b = pair
    return (np.array(x, float), np.array([float(Fraction(w)) for w in a]),
            np.array(y, float), np.array([float(Fraction(w)) for w in b]))


@pytest.mark.parametrize("name", PAIRS)
def test_all_routes_agree_with_the_hand_computation(name):
    exact = float(w1_discrete_exact(*PAIRS[name]))
    routes = sw.w1_routes_1d(*_floats(PAIRS[name]))
    assert len(routes) == 4
    for route, value in routes.items():
        assert value == pytest.approx(exact, abs=1e-9), route


@pytest.mark.parametrize("name", PAIRS)
def test_plans_are_couplings_and_the_monotone_plan_is_optimal(name):
    x, a, y, b = _floats(PAIRS[name])
    cost = sw.euclidean_cost(x, y)
    for plan in (sw.optimal_plan(x, a, y, b), sw.monotone_plan(a, b)):
        assert np.all(plan >= 0)
        np.testing.assert_allclose(plan.sum(axis=1), a, atol=1e-12)
        np.testing.assert_allclose(plan.sum(axis=0), b, atol=1e-12)
        assert np.sum(plan * cost) == pytest.approx(sw.w1_lp(x, a, y, b), abs=1e-12)


def test_the_product_coupling_is_valid_but_not_optimal():
    x, a, y, b = _floats(PAIRS["four points vs three"])
    product = np.outer(a, b)
    np.testing.assert_allclose(product.sum(axis=1), a)
    np.testing.assert_allclose(product.sum(axis=0), b)
    assert np.sum(product * sw.euclidean_cost(x, y)) > sw.w1_lp(x, a, y, b) + 0.1


def test_monotone_plan_is_a_staircase():
    # non-zero entries move right or down only: the north-west corner rule never goes back
    plan = sw.monotone_plan(np.full(5, 0.2), np.array([0.1, 0.45, 0.45]))
    rows, cols = np.nonzero(plan)
    assert np.all(np.diff(rows) >= 0) and np.all(np.diff(cols) >= 0)


def test_monotone_plan_is_not_optimal_when_the_support_is_not_sorted():
    # the north-west corner rule assumes sorted supports; on shuffled ones it pays more
    x, a, y, b = np.array([3.0, 0.0]), np.array([0.5, 0.5]), np.array([0.0, 3.0]), np.array([0.5, 0.5])
    assert np.sum(sw.monotone_plan(a, b) * sw.euclidean_cost(x, y)) > sw.w1_lp(x, a, y, b) + 1


def test_point_cloud_routes_agree():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(9, 2)), rng.normal(size=(9, 2)) + [2.0, -1.0]
    values = list(sw.w1_routes_cloud(x, y).values())
    assert max(values) - min(values) < 1e-9
    assert values[0] >= np.linalg.norm(x.mean(0) - y.mean(0)) - 1e-12  # Jensen's lower bound


def test_sample_estimate_converges_to_the_closed_form():
    exact = float(folded_normal_mean(1, 1))  # W1(N(0, 1), N(1, 2^2))
    estimates = sw.sample_convergence(lambda r, n: r.normal(0, 1, n), lambda r, n: r.normal(1, 2, n),
                                      [100, 10_000], repeats=20, rng=0)
    errors = np.abs(estimates.mean(axis=1) - exact)
    assert errors[1] < 0.02 and errors[1] < errors[0]
    assert estimates[1].std() < estimates[0].std() / 5  # spread falls like n^-1/2: 10x here


def test_sorted_samples_match_scipy():
    rng = np.random.default_rng(1)
    xs, ys = rng.exponential(size=500), rng.exponential(scale=2.0, size=500)
    from scipy.stats import wasserstein_distance
    assert sw.w1_sorted_samples(xs, ys) == pytest.approx(wasserstein_distance(xs, ys), abs=1e-12)


def test_parallel_lines_values():
    assert sw.parallel_lines(0.0, 20) == {"W1": 0.0, "JS": 0.0, "KL": 0.0, "TV": 0.0}
    out = sw.parallel_lines(-0.3, 20)
    assert out["W1"] == pytest.approx(0.3, abs=1e-12)
    assert out["JS"] == pytest.approx(np.log(2), abs=1e-12)
    assert out["KL"] == np.inf
    assert out["TV"] == pytest.approx(1.0, abs=1e-12)


def test_loglog_slope_recovers_a_power():
    n = np.array([10.0, 100.0, 1000.0])
    assert sw.loglog_slope(n, 3 * n**2.5) == pytest.approx(2.5)


def test_time_and_error_shapes_and_sliced_target():
    out = wc.time_and_error("sliced", [50, 100], repeats=2, rng=0)
    assert out["time"].shape == out["error"].shape == (2,)
    assert np.all(out["time"] > 0)
    assert wc.population_value("sliced") < wc.population_value("exact")  # SW1 < W1 for a translation
    x, y = wc.draw_pair("exact", 60, np.random.default_rng(0))
    assert wc.estimate("sinkhorn", x, y) >= wc.estimate("exact", x, y) - 1e-9  # <P_eps, C> >= optimum


@pytest.mark.parametrize("call, message", [
    (lambda: sw.w1_lp([0, 1], [0.5, 0.6], [0], None), "p weights must sum to 1"),
    (lambda: sw.w1_lp([0, 1], [1.0], [0], None), "p weights must have length 2"),
    (lambda: sw.w1_cdf([0, np.nan], None, [0], None), "p points must be finite"),
    (lambda: sw.w1_routes_cloud(np.zeros((3, 2)), np.zeros((4, 2))), "x and y must be"),
    (lambda: sw.w1_sorted_samples([0, 1], [0]), "xs and ys must be 1-D of one length"),
    (lambda: sw.parallel_lines(0.1, 0), r"n_points must lie in \[1, inf\], got 0"),
    (lambda: wc.time_and_error("fast", [10], 1, 0), "method must be one of"),
    (lambda: sw.loglog_slope([1, 2], [1, 0]), "sizes and values must be > 0"),
])
def test_validation_errors_name_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_parallel_lines_sweep_matches_single_calls():
    sweep = sw.parallel_lines_sweep([-0.2, 0.0, 0.4], n_points=10)
    assert sweep["W1"] == pytest.approx([0.2, 0.0, 0.4], abs=1e-12)
    assert list(np.isinf(sweep["KL"])) == [True, False, True]


def test_float32_weights_are_accepted_and_renormalised():
    """Issue 16, item 10: ten float32 weights of 0.1 sum to 1.0000000149; POT accepts them, so must we."""
    a32 = np.full(10, 0.1, np.float32)
    x, y = np.arange(10.0), np.arange(10.0) + 0.5
    assert float(a32.sum(dtype=np.float64)) != 1.0
    routes = sw.w1_routes_1d(x, a32, y, a32)
    assert routes == pytest.approx({key: 0.5 for key in routes}, abs=1e-12)
    assert sw.w1_lp(x, a32, y, None) == pytest.approx(0.5, abs=1e-12)
    with pytest.raises(ValueError, match="p weights must sum to 1"):      # a real error is still one
        sw.w1_lp(x, np.full(10, 0.11, np.float32), y, None)


def test_points_of_shape_n_by_1_are_one_dimensional():
    """Issue 16, item 10: (n, 1) points gave an IndexError inside the CDF route."""
    x, y = np.array([0.0, 1.0, 3.0]), np.array([0.5, 2.0, 2.5])
    assert sw.w1_routes_1d(x[:, None], None, y[:, None], None) == pytest.approx(sw.w1_routes_1d(x, None, y, None))
    assert sw.w1_cdf(x[:, None], None, y, None) == pytest.approx(sw.w1_cdf(x, None, y, None))
    with pytest.raises(ValueError, match=r"p points must be 1-D, shape \(n,\) or \(n, 1\), got \(3, 2\)"):
        sw.w1_cdf(np.zeros((3, 2)), None, y, None)


@pytest.mark.parametrize("name", ["1d", "cloud"])
def test_kantorovich_rubinstein_critic_from_the_lp_dual(name):
    rng = np.random.default_rng(3)
    if name == "1d":
        x, a, y, b = np.array([0, 1, 2, 3.0]), None, np.array([1, 3, 5.0]), np.array([0.5, 1 / 3, 1 / 6])
    else:
        x, a, y, b = rng.normal(size=(15, 2)), None, rng.normal(size=(10, 2)) + 1.5, None
    r = sw.kantorovich_rubinstein_discrete(x, a, y, b)
    assert r["dual"] == pytest.approx(r["w1"], abs=1e-10)          # LP strong duality
    assert r["critic"] == pytest.approx(r["w1"], abs=1e-10)        # the c-transform attains it ...
    assert r["lipschitz"] <= 1 + 1e-12                             # ... and is 1-Lipschitz


def test_a_wrong_c_transform_is_not_a_critic(monkeypatch):
    # max instead of min: no longer 1-Lipschitz, or no longer attaining W1
    monkeypatch.setattr(sw, "c_transform", lambda pts, y, g: np.max(sw.euclidean_cost(pts, y) - g[None, :], axis=1))
    rng = np.random.default_rng(4)
    r = sw.kantorovich_rubinstein_discrete(rng.normal(size=(8, 2)), None, rng.normal(size=(8, 2)) + 1, None)
    assert r["lipschitz"] > 1 + 1e-6 or abs(r["critic"] - r["w1"]) > 1e-6


def test_two_sample_w1_falls_more_slowly_in_higher_dimension():
    sizes = [50, 200, 800]
    w = sw.two_sample_w1_by_dimension([1, 10], sizes, repeats=2, rng=0)
    slopes = [sw.loglog_slope(sizes, row) for row in w]
    assert slopes[0] < -0.3 and -0.2 < slopes[1] < -0.05
