"""Quadrature, Monte Carlo and trained discriminators against the analytic D* (sims/optimal_discriminator*.py).

Invariants and cross-checks by independent routes: V(G, D*) against -log 4 + 2 JS computed from
entropies, our Gauss-Legendre rule against QUADPACK, closed forms where they exist, Monte Carlo against
quadrature within its own standard error, and trained networks against D*.
"""
import numpy as np
import pytest
import torch

from sims.optimal_discriminator import (
    gaussian, integrate_over_pair, js_divergence, js_divergence_kl_form, kl_divergence, mixture,
    monte_carlo_estimates, monte_carlo_sample_std, monte_carlo_value, optimal_discriminator, uniform,
    value_at_optimum, value_on_grid)
from sims.optimal_discriminator_mlp import (
    BIN_WIDTH, BatchedMLP, DiscriminatorTask, bin_centres, binned_weights, central_region,
    discriminator_errors, discriminator_probabilities, train_discriminators, value_estimates)

LOG2, LOG4 = np.log(2.0), np.log(4.0)
BIMODAL = mixture([gaussian(-2, 0.6), gaussian(2, 0.6)], [0.5, 0.5])
PAIRS = {
    "two gaussians": (gaussian(0, 1), gaussian(2, 1.5)),
    "gaussian vs mixture": (BIMODAL, gaussian(0, 1.5)),
    "nearly disjoint gaussians": (gaussian(-3, 0.5), gaussian(3, 0.5)),
    "overlapping uniforms": (uniform(0, 1), uniform(0.9, 1.9)),
    "identical": (gaussian(0, 1), gaussian(0, 1)),
}


@pytest.mark.parametrize("name", PAIRS)
def test_value_at_optimum_equals_minus_log4_plus_twice_js(name):
    p, q = PAIRS[name]
    js = js_divergence(p, q)
    assert abs(value_at_optimum(p, q) - (-LOG4 + 2 * js)) < 1e-10
    assert abs(js - js_divergence_kl_form(p, q)) < 1e-10
    assert -1e-12 <= js <= LOG2 + 1e-12


@pytest.mark.parametrize("name", PAIRS)
def test_gauss_legendre_agrees_with_quadpack(name):
    p, q = PAIRS[name]
    assert abs(value_at_optimum(p, q) - value_at_optimum(p, q, method="adaptive")) < 1e-10
    assert abs(js_divergence(p, q) - js_divergence(p, q, method="adaptive")) < 1e-10


def test_closed_forms():
    # U[0,1] vs U[c, 1+c]: JS = c log 2 (theory.uniform_shift_value); same law: JS = 0; disjoint: log 2
    assert abs(js_divergence(uniform(0, 1), uniform(0.9, 1.9)) - 0.9 * LOG2) < 1e-12
    assert abs(value_at_optimum(gaussian(1, 2), gaussian(1, 2)) + LOG4) < 1e-12
    assert abs(value_at_optimum(uniform(0, 1), uniform(1, 2))) < 1e-12
    # KL between Gaussians has a closed form: log(s2/s1) + (s1^2 + (m1-m2)^2) / (2 s2^2) - 1/2
    exact = np.log(1.5) + (1 + 4) / (2 * 1.5**2) - 0.5
    assert abs(kl_divergence(gaussian(0, 1), gaussian(2, 1.5)) - exact) < 1e-12


def test_nearly_disjoint_supports_do_not_underflow():
    p, q = PAIRS["nearly disjoint gaussians"]
    js = js_divergence(p, q)
    assert 0 < LOG2 - js < 1e-6
    x = np.array([-3.0, 0.0, 3.0])
    assert np.all(np.isfinite(optimal_discriminator(p, q, x)))
    assert optimal_discriminator(p, q, np.array([0.0]))[0] == pytest.approx(0.5)


def test_optimal_discriminator_beats_perturbed_discriminators():
    p, q = PAIRS["gaussian vs mixture"]
    x = np.linspace(-10, 10, 20001)
    d_star = optimal_discriminator(p, q, x)
    best = value_on_grid(p, q, x, d_star)
    assert abs(best - value_at_optimum(p, q)) < 1e-6
    rng = np.random.default_rng(0)
    for _ in range(5):
        bump = 0.05 * np.sin(rng.uniform(0.5, 3) * x + rng.uniform(0, 6))
        d = d_star + bump * d_star * (1 - d_star)
        assert value_on_grid(p, q, x, d) < best


def test_wrong_discriminator_formula_gives_a_lower_value():
    p, q = PAIRS["two gaussians"]
    x = np.linspace(-12, 14, 20001)
    swapped = 1 - optimal_discriminator(p, q, x)  # p_G / (p_data + p_G)
    assert value_on_grid(p, q, x, swapped) < value_at_optimum(p, q) - 0.1


def test_monte_carlo_estimate_within_its_standard_error():
    p, q = PAIRS["gaussian vs mixture"]
    estimate, std_error = monte_carlo_value(p, q, 20000, rng=3)
    assert abs(estimate - value_at_optimum(p, q)) < 4 * std_error
    assert std_error == pytest.approx(monte_carlo_sample_std(p, q) / np.sqrt(20000), rel=0.1)


def test_monte_carlo_error_shrinks_like_one_over_root_n():
    p, q = PAIRS["two gaussians"]
    sizes = [100, 10000]
    estimates = monte_carlo_estimates(p, q, sizes, 40, rng=4)
    assert estimates.shape == (2, 40)
    rmse = np.sqrt(((estimates - value_at_optimum(p, q)) ** 2).mean(axis=1))
    assert 5 < rmse[0] / rmse[1] < 20  # sqrt(100) = 10


def test_sampling_is_reproducible_and_matches_the_mixture():
    a, b = BIMODAL.sample(5000, 7), BIMODAL.sample(5000, 7)
    assert np.array_equal(a, b)
    assert abs(np.mean(a > 0) - 0.5) < 0.03
    assert abs(np.var(a) - (0.36 + 4)) < 0.3


def test_argument_validation():
    with pytest.raises(ValueError, match="std must be > 0"):
        gaussian(0, -1)
    with pytest.raises(ValueError, match="weights must sum to 1"):
        mixture([gaussian(0, 1), gaussian(1, 1)], [0.5, 0.6])
    with pytest.raises(ValueError, match="method must be one of"):
        integrate_over_pair(np.exp, *PAIRS["two gaussians"], method="simpson")
    with pytest.raises(ValueError, match=r"d must lie in \[0, 1\]"):
        value_on_grid(*PAIRS["two gaussians"], np.zeros(3), np.array([0.2, 1.1, 0.3]))
    with pytest.raises(ValueError, match="n_samples must lie in"):
        DiscriminatorTask(*PAIRS["two gaussians"], n_samples=0, width=4, seed=0)
    with pytest.raises(TypeError, match="a seed"):
        BIMODAL.sample(3, None)


def test_binning_keeps_every_sample_and_moves_it_at_most_half_a_bin():
    samples = np.random.default_rng(0).normal(size=1000)
    weights = binned_weights(samples)
    assert weights.shape == bin_centres().shape and weights.sum() == pytest.approx(1.0)
    assert abs(weights @ bin_centres() - samples.mean()) <= BIN_WIDTH / 2


def test_masked_width_equals_a_narrow_network():
    model = BatchedMLP([3, 8], [11, 12])
    narrow = BatchedMLP([3], [11])
    x = torch.linspace(-5, 5, 50)
    with torch.no_grad():
        assert torch.allclose(model(x)[0], narrow(x)[0], atol=1e-6)


def test_a_model_trains_the_same_alone_or_in_a_batch():
    p, q = PAIRS["two gaussians"]
    alone = DiscriminatorTask(p, q, 500, 4, seed=5)
    other = DiscriminatorTask(*PAIRS["gaussian vs mixture"], 2000, 8, seed=6)
    x = np.linspace(-4, 6, 101)
    d_alone = discriminator_probabilities(train_discriminators([alone], steps=60)[0], x)[0]
    d_batch = discriminator_probabilities(train_discriminators([other, alone], steps=60)[0], x)[1]
    assert np.max(np.abs(d_alone - d_batch)) < 1e-4


def test_trained_discriminator_approaches_d_star_and_more_data_helps():
    # one-hidden-layer tanh MLPs; for two Gaussians of different spread the logit of D* is quadratic
    p, q = PAIRS["two gaussians"]
    tasks = [DiscriminatorTask(p, q, n, 8, seed) for n in (30, 30000) for seed in (0, 1)]
    model, training = train_discriminators(tasks, steps=300)
    x = np.linspace(-6, 8, 1401)
    errors = [discriminator_errors(p, q, x, d, mass=0.95) for d in discriminator_probabilities(model, x)]
    small, large = errors[:2], errors[2:]
    assert max(e["bulk_max"] for e in large) < 0.05
    assert np.mean([e["weighted_mean"] for e in large]) < np.mean([e["weighted_mean"] for e in small])
    # 30 samples: the fitted objective overshoots C(G) (over-fitting); 30000: close to it
    assert abs(training[2:] - value_at_optimum(p, q)).max() < 0.02


def test_one_unit_cannot_follow_a_non_monotone_d_star_but_a_wider_net_can():
    p, q = PAIRS["gaussian vs mixture"]  # D* rises, falls and rises again
    tasks = [DiscriminatorTask(p, q, 10000, width, 0) for width in (1, 16)]
    model, _ = train_discriminators(tasks, steps=400)
    x = np.linspace(-6, 6, 1201)
    narrow, wide = (discriminator_errors(p, q, x, d) for d in discriminator_probabilities(model, x))
    assert narrow["bulk_max"] > 0.3
    assert wide["bulk_max"] < 0.1
    assert wide["weighted_mean"] < narrow["weighted_mean"] / 5


def test_value_estimates_bound_the_criterion_from_below():
    p = gaussian(0, 1)
    tasks = [DiscriminatorTask(p, gaussian(theta, 1), 5000, 8, seed=int(10 * theta)) for theta in (0.5, 2.0)]
    est = value_estimates(tasks, n_heldout=5000, rng=0, steps=200)
    exact = np.array([value_at_optimum(t.p_data, t.p_g) for t in tasks])
    assert np.all(est["quadrature"] <= exact + 1e-6)
    assert np.all(np.abs(est["heldout"] - exact) < 4 * est["heldout_se"] + 0.02)


def test_central_region_holds_the_requested_mass():
    p, q = PAIRS["two gaussians"]
    x = np.linspace(-10, 12, 22001)
    inside = central_region(p, q, x, mass=0.9)
    m = 0.5 * (p.pdf(x) + q.pdf(x))
    assert np.trapezoid(np.where(inside, m, 0), x) == pytest.approx(0.9, abs=2e-3)
