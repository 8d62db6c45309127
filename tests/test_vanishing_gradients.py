"""Chapter on diminished gradients: sympy identities, analytic gradients vs autograd, noised JS by two routes,
and the invariants of Simulations 1 and 3 (book/vanishing_gradients.md)."""
import math

import numpy as np
import pytest
import sympy as sp
import torch
from scipy import stats

from sims import vanishing_gradients as vg
from sims import vanishing_gradients_noise as vn
from theory import vanishing_gradients as th


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- sympy -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("check", [
    th.check_logit_derivatives, th.check_limits_as_d_vanishes, th.check_parameter_derivatives,
    th.check_shared_fixed_point, th.check_vanishing_bound_chain, th.check_minus_log_d_decomposition,
    th.check_instance_noise_gradient, th.check_instance_noise_gradient_as_mean_shift, th.check_noised_js_derivative,
    th.check_point_mass_generator_gradient, th.check_tweedie_scores,
])
def test_symbolic_identities_hold(check):
    assert check() is True


def test_limits_have_the_stated_values():
    lims = th.logit_derivative_limits()
    assert lims == {"saturating": 0, "non_saturating": -1, "ratio_ns_over_sat": sp.oo}


def test_instance_noise_form_fails_with_a_wrong_constant():
    # a = 1/(sigma^2 (p_r + p_g)) instead of 1/(2 sigma^2 (...)): the residual must not vanish.
    assert not th.is_exactly_zero(th.instance_noise_gradient_residual(a_scale=1))
    assert th.is_exactly_zero(th.instance_noise_gradient_residual(a_scale=2))


def test_theorem_2_4_inequality_holds_over_the_whole_region():
    gaps = th.vanishing_bound_gap()
    assert gaps["inside"].is_nonnegative is True and gaps["edge"].is_nonnegative is True
    assert gaps["worst_case"] == 0                               # tight at D = |D'| = eps


def test_a_bound_without_the_one_minus_eps_fails_the_check(monkeypatch):
    monkeypatch.setattr(th, "_theorem_bound", lambda eps: eps)   # as if |D'|/(1 - D) <= eps
    assert th.check_vanishing_bound_chain() is False
    assert th.vanishing_bound_gap()["worst_case"] != 0


def test_d_star_is_flat_only_where_the_densities_agree_on_an_open_set(monkeypatch):
    crossing = th.crossing_densities_gradient()
    assert crossing["density_gap"] == 0 and crossing["gradient"] == sp.Rational(-1, 4)
    # equal values at a point, derivatives free: the shared-fixed-point check must then fail
    def pointwise(expr, p_r, p_g):
        dr, dg = sp.symbols("dr dg")
        return expr.subs({sp.Derivative(p_r, th.x): dr, sp.Derivative(p_g, th.x): dg}).subs(p_g, p_r)

    monkeypatch.setattr(th, "_equal_on_open_set", pointwise)
    assert th.check_shared_fixed_point() is False


def test_tweedie_check_fails_with_an_unnormalised_posterior_mean(monkeypatch):
    monkeypatch.setattr(th, "_posterior_mean", lambda atoms, density: sum(w * th._gauss(th.x - y) * y
                                                                          for w, y in atoms))
    assert th.check_tweedie_scores(1, 1) is False


def test_cauchy_mean_is_undefined_not_infinite(monkeypatch):
    parts = th.cauchy_mean_parts()
    assert parts == {"positive_part": sp.oo, "negative_part": -sp.oo, "second_moment": sp.oo}
    # a law with a mean (Student t, 3 degrees of freedom): both parts finite
    monkeypatch.setattr(th, "_cauchy_density", lambda u: 6 * sp.sqrt(3) / (sp.pi * 9 * (1 + u**2 / 3) ** 2))
    parts = th.cauchy_mean_parts()
    assert parts["positive_part"].is_finite and parts["positive_part"] + parts["negative_part"] == 0


def test_fisher_information_of_a_gaussian_location():
    assert sp.simplify(th.gaussian_fisher_information() - 1 / th.sigma**2) == 0


# --- analytic gradients vs autograd --------------------------------------------------------------------------

def test_logit_derivatives_match_autograd():
    logits = torch.linspace(-30, 10, 81, dtype=torch.float64, requires_grad=True)
    for saturating, expected in ((True, -torch.sigmoid(logits)), (False, -(1 - torch.sigmoid(logits)))):
        per_sample = vg.generator_loss(logits.view(1, -1, 1), torch.tensor([saturating])) * logits.numel()
        (grad,) = torch.autograd.grad(per_sample.sum(), logits)
        # rtol 1e-8: torch.softplus returns x itself above x = 20, an approximation of relative size e^-20
        torch.testing.assert_close(grad, expected.detach(), rtol=1e-8, atol=1e-300)


def _nets(n_models=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return vg.BatchedMLP(n_models, (1, 16, 16, 2), gen), vg.BatchedMLP(n_models, (2, 16, 16, 1), gen), gen


def test_generator_gradients_match_the_chain_rule():
    """d/dtheta of each loss = J^T (coefficient * grad_x logit) with coefficient -D or -(1 - D)."""
    net_G, net_D, gen = _nets()
    z = vg.sample_latent(3, 32, gen)
    norms = vg.generator_gradient_norms(net_G, net_D, z)
    fake = net_G(z)
    x = fake.detach().requires_grad_(True)
    logits = net_D(x)
    (grad_logit,) = torch.autograd.grad(logits.sum(), x)
    prob = torch.sigmoid(logits).detach()
    for name, coef in (("saturating", -prob), ("non_saturating", -(1 - prob))):
        grads = torch.autograd.grad(fake, list(net_G.parameters()), grad_outputs=coef * grad_logit / z.shape[1],
                                    retain_graph=True)
        np.testing.assert_allclose(vg._per_model_norm(grads).numpy(), norms[name], rtol=1e-5)


def test_single_sample_gradient_ratio_is_one_minus_d_over_d():
    net_G, net_D, gen = _nets()
    z = vg.sample_latent(3, 1, gen)
    norms = vg.generator_gradient_norms(net_G, net_D, z)
    with torch.no_grad():
        prob = torch.sigmoid(net_D(net_G(z))).view(-1).numpy()
    np.testing.assert_allclose(norms["non_saturating"] / norms["saturating"], (1 - prob) / prob, rtol=1e-4)


def test_instance_noise_gradient_form_matches_autograd_in_2d():
    """Theorem 3.2 pointwise: grad_x log(1 - D*) for kernel-smoothed point clouds, autograd vs the a/b form."""
    rng = np.random.default_rng(3)
    real, fake_pts = (torch.tensor(rng.normal(size=(7, 2)) + shift) for shift in (0.0, 1.5))
    sigma = 0.7

    def density(x, pts):  # Corollary 3.1 up to the common constant 1/Z
        return torch.exp(-((x - pts) ** 2).sum(-1) / (2 * sigma**2)).mean()

    for point in rng.normal(size=(5, 2)):
        x = torch.tensor(point, requires_grad=True)
        p_r, p_g = density(x, real), density(x, fake_pts)
        (lhs,) = torch.autograd.grad(torch.log(p_g / (p_r + p_g)), x)
        a = 1 / (2 * sigma**2 * (p_r + p_g))
        b = a * p_r / p_g
        kernel = lambda pts: (torch.exp(-((x - pts) ** 2).sum(-1, keepdim=True) / (2 * sigma**2))  # noqa: E731
                              * 2 * (x - pts)).mean(0)
        torch.testing.assert_close(lhs, (a * kernel(real) - b * kernel(fake_pts)).detach())
        # the same gradient as a mean shift: D* (m_g - m_r) / sigma^2, kernel-weighted means of each cloud
        weights = lambda pts: torch.exp(-((x - pts) ** 2).sum(-1, keepdim=True) / (2 * sigma**2))  # noqa: E731
        mean = lambda pts: (weights(pts) * pts).sum(0) / weights(pts).sum()  # noqa: E731
        torch.testing.assert_close(lhs, (p_r / (p_r + p_g) * (mean(fake_pts) - mean(real)) / sigma**2).detach())


def test_point_mass_gradient_formula_matches_autograd():
    theta, sigma = 0.8, 0.5
    x = torch.linspace(-2, 3, 41, dtype=torch.float64, requires_grad=True)
    log_p = -x**2 / (2 * sigma**2)
    log_q = -(x - theta) ** 2 / (2 * sigma**2)
    log_one_minus_d = log_q - torch.logaddexp(log_p, log_q)
    (grad,) = torch.autograd.grad(log_one_minus_d.sum(), x)
    expected = theta * vn.optimal_discriminator_points(x.detach().numpy(), theta, sigma) / sigma**2
    np.testing.assert_allclose(grad.numpy(), expected, rtol=1e-10)


# --- noised JS: quadrature vs Monte Carlo ------------------------------------------------------------------

@pytest.mark.parametrize("theta,sigma", [(0.3, 0.2), (0.5, 0.5), (1.5, 1.0), (-0.8, 0.4)])
def test_noised_js_quadrature_matches_segment_monte_carlo(theta, sigma):
    exact = vn.noised_js_points(theta, sigma)[0]
    estimate, std_error = vn.noised_js_segments_mc(theta, sigma, n_samples=3000, n_kernel=800, rng=11)
    assert abs(estimate - exact) < 4 * std_error + 1e-9


def test_noised_js_limits_and_small_theta_expansion():
    sigma = 0.5
    assert vn.noised_js_points(0.0, sigma)[0] == pytest.approx(0.0, abs=1e-12)
    assert vn.noised_js_points(20 * sigma, sigma)[0] == pytest.approx(math.log(2), abs=1e-9)
    small = 0.02 * sigma
    assert vn.noised_js_points(small, sigma)[0] == pytest.approx(small**2 / (8 * sigma**2), rel=1e-3)


def test_noised_js_derivative_matches_finite_differences_and_the_generator_gradient():
    theta, sigma, h = 0.6, 0.4, 1e-5
    derivative = vn.noised_js_derivative_points(theta, sigma)[0]
    finite = (vn.noised_js_points(theta + h, sigma)[0] - vn.noised_js_points(theta - h, sigma)[0]) / (2 * h)
    assert derivative == pytest.approx(finite, rel=1e-6)
    mean, std_error = vn.generator_gradient_points_mc(theta, sigma, n_samples=40000, rng=5)
    assert abs(mean - 2 * derivative) < 4 * std_error   # Corollary 3.2: the generator sees 2 dJS/dtheta


def test_noise_functions_validate_arguments():
    with pytest.raises(ValueError, match="sigma must be > 0"):
        vn.noised_js_points(1.0, 0.0)
    with pytest.raises(ValueError, match="n_samples must lie in"):
        vn.noised_js_segments_mc(1.0, 0.5, n_samples=1)
    with pytest.raises(TypeError, match="seed"):
        vn.generator_gradient_points_mc(1.0, 0.5, rng=None)


# --- batched networks, Simulation 1 and Simulation 3 ---------------------------------------------------------

def test_batched_models_are_independent():
    net_G, _, gen = _nets(n_models=3)
    z = vg.sample_latent(3, 8, gen)
    out = net_G(z)
    out[1].sum().backward()
    assert net_G.weights[0].grad[0].abs().sum() == 0 and net_G.weights[0].grad[2].abs().sum() == 0
    assert net_G.weights[0].grad[1].abs().sum() > 0


def test_discriminator_sweep_respects_theorem_2_4_and_saturates():
    net_G, _, _ = _nets(n_models=2, seed=1)
    sweep = vg.discriminator_sweep(net_G, n_steps=300, eval_every=100, batch_size=64, n_eval=16, hidden=16)
    assert sweep["saturating"].shape == (4, 2) and sweep["steps"].tolist() == [0, 100, 200, 300]
    assert np.all(sweep["saturating"] <= sweep["bound"])              # inf where the bound is vacuous
    assert np.all(sweep["d_fake"][-1] < 0.1 * sweep["d_fake"][0])     # untrained G sits far from the data
    ratio = sweep["non_saturating"] / sweep["saturating"]
    assert np.all(ratio[-1] > 10 * ratio[0])


def test_emd_matches_scipy_on_a_line_and_flags_divergence():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=50), rng.normal(1.0, 2.0, size=70)
    on_line = lambda v: np.column_stack([v, np.zeros_like(v)])  # noqa: E731
    assert vg.emd_to_data(on_line(a), on_line(b)) == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9)
    assert vg.emd_to_data(np.full((3, 2), np.nan), on_line(b)) == float("inf")


def test_train_gan_is_reproducible_and_shaped():
    arms = [vg.Arm("saturating"), vg.Arm("non_saturating", 0.5)]
    config = vg.GanConfig(n_replicates=2, n_steps=20, d_steps=1, anneal_steps=10, eval_every=10, n_eval=32,
                          hidden=8)
    first = vg.train_gan(arms, config, snapshot_steps=(0, 20))
    second = vg.train_gan(arms, config)
    assert first["emd"].shape == (3, 2, 2) and first["samples"].shape == (2, 2, 32, 2)
    np.testing.assert_array_equal(first["emd"], second["emd"])
    assert sorted(first["snapshots"]) == [0, 20]
    stacked = vg.stack_generators([first["snapshots"][0]], [np.array([1, 3])], config)
    assert stacked.weights[0].shape[0] == 2


def test_noise_is_annealed_linearly_to_zero():
    arms = [vg.Arm("saturating", 1.0), vg.Arm("saturating", 0.0)]
    stds = [vg._noise_std(arms, 1, step, 100).view(-1).tolist() for step in (0, 50, 100, 150)]
    assert stds == [[1.0, 0.0], [0.5, 0.0], [0.0, 0.0], [0.0, 0.0]]


def test_train_gan_validates_arms():
    with pytest.raises(ValueError, match="arm.loss must be one of"):
        vg.train_gan([vg.Arm("hinge")])
    with pytest.raises(ValueError, match="arm.noise_std must be >= 0"):
        vg.train_gan([vg.Arm("saturating", -1.0)])
