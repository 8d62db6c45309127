"""The Dirac-GAN: sympy linearisation, numeric fields against sympy, and observed rates against eigenvalues."""
import numpy as np
import pytest
import sympy as sp
from scipy.integrate import quad

from sims import dirac_gan
from sims import saddle_dynamics as sd
from theory import dirac_gan as dt
from theory import nonconvergence as th

lam = sp.Symbol("lambda")
SIGMA, GAMMA = dirac_gan.DEFAULTS["sigma"], dirac_gan.DEFAULTS["gamma"]

EXPECTED_JACOBIANS = {
    "gan": [[0, -sp.Rational(1, 2)], [sp.Rational(1, 2), 0]],
    "nsgan": [[0, -sp.Rational(1, 2)], [sp.Rational(1, 2), 0]],
    "wgan": [[0, -1], [1, 0]],
    "instance_noise": [[0, -sp.Rational(1, 2)], [sp.Rational(1, 2), -dt.sigma**2 / 2]],  # 2 f''(0) sigma^2
    "r1": [[0, -sp.Rational(1, 2)], [sp.Rational(1, 2), -dt.gamma]],
}


@pytest.mark.parametrize("variant", dt.VARIANTS)
def test_jacobian_at_equilibrium(variant):
    assert sp.simplify(dt.jacobian_at_equilibrium(variant) - sp.Matrix(EXPECTED_JACOBIANS[variant])) == sp.zeros(2)


@pytest.mark.parametrize("variant", dt.VARIANTS)
def test_published_eigenvalues_are_the_roots(variant):
    jac = dt.jacobian_at_equilibrium(variant)
    roots = dt.jacobian_eigenvalues(variant)
    assert sp.simplify(sp.expand(jac.charpoly(lam).as_expr() - sp.prod([lam - r for r in roots]))) == 0


@pytest.mark.parametrize("variant", ["gan", "r1"])
def test_a_field_without_f_prime_fails_the_eigenvalue_check(variant, monkeypatch):
    # break the module's own step: the field forgets the factor f'(psi theta) (as if f(t) = t, i.e. WGAN)
    monkeypatch.setattr(dt, "_f_prime", lambda arg, kind="gan": sp.Integer(1))
    jac = dt.jacobian_at_equilibrium.__wrapped__(variant)          # bypass the cache of the right Jacobian
    roots = dt.jacobian_eigenvalues(variant)
    assert sp.simplify(sp.expand(jac.charpoly(lam).as_expr() - sp.prod([lam - r for r in roots]))) != 0


def test_f_derivatives_at_zero():
    s = sp.Symbol("s")
    assert sp.diff(dt.f_gan(s), s).subs(s, 0) == sp.Rational(1, 2)
    assert sp.simplify(sp.diff(dt.f_gan(s), s, 2).subs(s, 0)) == -sp.Rational(1, 4)


def test_unregularised_flow_conserves_the_radius():
    v_theta, v_psi = dt.field("gan")
    assert sp.simplify(dt.theta * v_theta + dt.psi * v_psi) == 0


@pytest.mark.parametrize("variant", ["gan", "nsgan", "wgan", "r1"])
def test_numeric_fields_match_sympy(variant):
    v_sym = sp.lambdify((dt.theta, dt.psi), [e.subs(dt.gamma, GAMMA) for e in dt.field(variant)])
    v_num = dirac_gan.field(variant)
    for z in np.random.default_rng(0).uniform(-3, 3, size=(20, 2)):
        np.testing.assert_allclose(v_num(z), v_sym(*z), rtol=1e-12, atol=1e-15)


def test_instance_noise_quadrature_matches_adaptive_integration_and_monte_carlo():
    z = np.array([0.4, -1.3])
    v_theta, v_psi = dt.field("instance_noise")
    density = lambda e: np.exp(-e**2 / (2 * SIGMA**2)) / np.sqrt(2 * np.pi * SIGMA**2)  # noqa: E731
    integrands = [sp.lambdify((dt.eps_fake, dt.eps_real), e.subs({dt.theta: z[0], dt.psi: z[1]}))
                  for e in (v_theta, v_psi)]
    # each component depends on eps_fake and eps_real additively, so a 1-D integral per noise suffices
    reference = [quad(lambda e: density(e) * (f(e, 0.0) + f(0.0, e) - f(0.0, 0.0)), -12 * SIGMA, 12 * SIGMA,
                      epsabs=1e-14, epsrel=1e-12)[0]
                 for f in integrands]
    np.testing.assert_allclose(dirac_gan.field("instance_noise")(z), reference, rtol=1e-10, atol=1e-12)
    n = 200_000
    estimate = dirac_gan.instance_noise_field_mc(z, SIGMA, n, rng=3)
    np.testing.assert_allclose(estimate, reference, atol=5 * 1.5 / np.sqrt(n))


@pytest.mark.parametrize("variant", dt.VARIANTS)
def test_finite_difference_jacobian_matches_sympy(variant):
    v = dirac_gan.field(variant)
    step = 1e-6
    numeric = np.column_stack([(v(step * e) - v(-step * e)) / (2 * step) for e in np.eye(2)])
    exact = np.array(dt.jacobian_at_equilibrium(variant).subs({dt.sigma: SIGMA, dt.gamma: GAMMA}), float)
    np.testing.assert_allclose(numeric, exact, atol=1e-8)


@pytest.mark.parametrize("variant", dt.VARIANTS)
@pytest.mark.parametrize("alternating", [False, True])
def test_observed_rate_matches_linearisation(variant, alternating):
    result = dirac_gan.rate_experiment(variant, alternating=alternating)
    assert result["window_stop"] - result["window_start"] > 400
    assert result["measured_factor"] == pytest.approx(result["predicted_factor"], rel=5e-5)


def test_predicted_factors_follow_the_closed_form_eigenvalues():
    h = dirac_gan.DEFAULTS["h"]
    for variant in dt.VARIANTS:
        roots = [complex(r.subs({dt.sigma: SIGMA, dt.gamma: GAMMA})) for r in dt.jacobian_eigenvalues(variant)]
        assert dirac_gan.predicted_factor(variant) == pytest.approx(max(abs(1 + h * r) for r in roots), rel=1e-14)
    assert dirac_gan.predicted_factor("gan") == pytest.approx(np.sqrt(1 + h**2 / 4), rel=1e-14)


def test_regularised_dirac_gan_is_damped_gda():
    """Linearised R1 and instance noise are the bilinear damped rule with eta = h/2 and damping 2 gamma or sigma^2."""
    h = dirac_gan.DEFAULTS["h"]
    for variant, damping in [("r1", 2 * GAMMA), ("instance_noise", SIGMA**2)]:
        jac = np.array(dt.jacobian_at_equilibrium(variant).subs({dt.sigma: SIGMA, dt.gamma: GAMMA}), float)
        np.testing.assert_allclose(np.eye(2) + h * jac, th.update_matrix_numeric("damped", h / 2, damping),
                                   atol=1e-15)
    unregularised = np.array(dt.jacobian_at_equilibrium("gan"), float)
    np.testing.assert_allclose(np.eye(2) + h * unregularised, th.update_matrix_numeric("gda", h / 2), atol=1e-15)


def test_which_variants_converge_in_the_notebook_setting():
    final = {v: np.linalg.norm(dirac_gan.simulate(v)[-1]) for v in dt.VARIANTS}
    assert final["instance_noise"] < 1e-3 and final["r1"] < 1e-3
    assert min(final["gan"], final["nsgan"], final["wgan"]) > 0.1


def test_wgan_clipping_keeps_psi_in_range_and_alternating_reuses_the_shared_rule():
    path = dirac_gan.simulate("wgan", clip=0.5)
    assert np.abs(path[1:, 1]).max() <= 0.5
    alt = dirac_gan.simulate("gan", alternating=True, n_steps=3)
    manual = sd.run_dynamics(sd.alternating_step, dirac_gan.DEFAULTS["z0"], 0.2, 3, field=dirac_gan.field("gan"))
    np.testing.assert_array_equal(alt, manual)


def test_arguments_are_validated():
    with pytest.raises(ValueError, match="variant must be one of"):
        dirac_gan.field("lsgan")
    with pytest.raises(ValueError, match="variant must be one of"):
        dt.field("lsgan")
    with pytest.raises(ValueError, match="sigma must be > 0"):
        dirac_gan.field("instance_noise", sigma=-1.0)
    with pytest.raises(ValueError, match="clip must be > 0"):
        dirac_gan.simulate("wgan", clip=0.0)
    with pytest.raises(TypeError, match="a seed"):
        dirac_gan.instance_noise_field_mc((0.0, 0.0), 0.5, 10, rng=None)


@pytest.mark.parametrize("variant", ["gan", "wgan"])
def test_flow_conserves_the_radius_and_simultaneous_steps_add_h2_v2(variant):
    assert dt.radial_rate(variant) == 0
    assert dt.simultaneous_step_growth(variant) == 0


def test_nsgan_and_r1_radial_rates():
    nsgan = dt.radial_rate("nsgan")
    assert sp.simplify((nsgan + dt.theta * dt.psi * sp.tanh(dt.theta * dt.psi / 2)).rewrite(sp.exp)) == 0
    assert sp.simplify(dt.radial_rate("r1") + dt.gamma * dt.psi**2) == 0


def test_a_sign_error_in_the_field_breaks_the_conservation(monkeypatch):
    right = dt.field

    def both_descend(variant):
        v_theta, v_psi = right(variant)
        return v_theta, -v_psi                                    # the discriminator descends too

    monkeypatch.setattr(dt, "field", both_descend)
    assert dt.radial_rate("gan") != 0 and dt.simultaneous_step_growth("gan") != 0


def test_consensus_on_the_dirac_gan_damps_both_players():
    jac = dt.consensus_jacobian("gan")
    j0 = dt.jacobian_at_equilibrium("gan")
    assert sp.simplify(jac - (j0 - dt.gamma * j0.T * j0)) == sp.zeros(2)       # J - gamma J^T J at v = 0
    assert set(jac.eigenvals()) == {-dt.gamma / 4 + sp.I / 2, -dt.gamma / 4 - sp.I / 2}


def test_consensus_jacobian_changes_with_a_wrong_field(monkeypatch):
    right = dt.field
    monkeypatch.setattr(dt, "field", lambda variant: (right(variant)[0], 2 * right(variant)[1]))
    assert set(dt.consensus_jacobian("gan").eigenvals()) != {-dt.gamma / 4 + sp.I / 2, -dt.gamma / 4 - sp.I / 2}


# --- consensus optimisation, simulated ------------------------------------------------------------------------

def _sympy_consensus_gradient():
    v = sp.Matrix(dt.field("gan"))
    loss = (v.T * v)[0] / 2
    return sp.lambdify((dt.theta, dt.psi), [sp.diff(loss, dt.theta), sp.diff(loss, dt.psi)])


def test_field_jacobian_and_consensus_gradient_match_sympy():
    jac_sym = sp.lambdify((dt.theta, dt.psi), sp.Matrix(dt.field("gan")).jacobian([dt.theta, dt.psi]))
    grad_sym = _sympy_consensus_gradient()
    v, jac = dirac_gan.field("gan"), dirac_gan.field_jacobian("gan")
    for z in np.random.default_rng(1).uniform(-3, 3, size=(20, 2)):
        np.testing.assert_allclose(jac(z), jac_sym(*z), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(jac(z).T @ v(z), grad_sym(*z), rtol=1e-12, atol=1e-15)


def test_the_notebooks_halved_third_order_term_fails_the_gradient_check(monkeypatch):
    # break the module's step as the paper's notebook has it: the f'' terms of the gradient get a factor 1/2
    right = dirac_gan.field_jacobian("gan")

    def halved(variant="gan"):
        def jacobian(z):
            fp = dirac_gan._f_prime(z[1] * z[0])
            return (right(z) + np.array([[0.0, -fp], [fp, 0.0]])) / 2   # keeps f', halves the f'' terms
        return jacobian

    monkeypatch.setattr(dirac_gan, "field_jacobian", halved)
    z = np.array([0.8, -1.1])
    assert not np.allclose(dirac_gan.field_jacobian()(z).T @ dirac_gan.field("gan")(z), _sympy_consensus_gradient()(*z))
    # it is of third order in z, so the linearisation (and the rate check) cannot see it
    result = dirac_gan.consensus_rate_experiment(1.0)
    assert result["measured_factor"] == pytest.approx(result["predicted_factor"], rel=1e-9)


def test_consensus_converges_from_the_notebook_start():
    path = dirac_gan.simulate_consensus()
    assert np.linalg.norm(path[-1]) < 1e-8
    assert np.all(np.diff(np.linalg.norm(path[200:], axis=1)) < 0)       # monotone once near the equilibrium


@pytest.mark.parametrize("gamma", [0.05, 0.3, 1.0, 3.0, 10.0, 41.0])
def test_consensus_measured_factor_matches_the_linearisation(gamma):
    result = dirac_gan.consensus_rate_experiment(gamma)
    assert result["window_stop"] - result["window_start"] >= 5
    assert result["measured_factor"] == pytest.approx(result["predicted_factor"], rel=2e-6)


def test_a_transposed_consensus_jacobian_breaks_the_rate_check(monkeypatch):
    # break the module's step: grad(|v|^2 / 2) computed as J v instead of J^T v
    right = dirac_gan.field_jacobian("gan")
    monkeypatch.setattr(dirac_gan, "field_jacobian", lambda variant="gan": (lambda z: right(z).T))
    result = dirac_gan.consensus_rate_experiment(1.0)
    assert abs(result["measured_factor"] / result["predicted_factor"] - 1) > 1e-2


def test_consensus_stability_band_from_the_step_size_condition():
    """rho(I + h J_CO) < 1 exactly for gamma between the roots of h = h_max(gamma) (nc-step-condition)."""
    h = dirac_gan.DEFAULTS["h"]
    g = sp.Symbol("g", positive=True)
    limit = th.step_size_limit(g / 4, sp.Rational(1, 2))                   # eigenvalues -g/4 +- i/2
    edges = sorted(float(r) for r in sp.solve(sp.Eq(limit, sp.Rational(h).limit_denominator()), g))
    np.testing.assert_allclose(edges, [4 / h - np.sqrt(16 / h**2 - 4), 4 / h + np.sqrt(16 / h**2 - 4)])
    for edge in edges:
        assert dirac_gan.consensus_predicted_factor(edge) == pytest.approx(1.0, abs=1e-12)
    factor = dirac_gan.consensus_predicted_factor
    assert factor(0.99 * edges[0]) > 1 > factor(1.01 * edges[0])
    assert factor(0.99 * edges[1]) < 1 < factor(1.01 * edges[1])


# --- WGAN-GP ------------------------------------------------------------------------------------------------

WGAN_GP = dirac_gan.WGAN_GP_DEFAULTS


def test_wgan_gp_penalty_does_not_depend_on_the_interpolate():
    for side in (1, -1):
        assert sp.simplify(dt._on_side(dt.wgan_gp_penalty(), side) - (side * dt.psi - dt.g0) ** 2) == 0


def test_wgan_gp_numeric_field_matches_sympy():
    values = {dt.gamma: WGAN_GP["gamma"], dt.g0: WGAN_GP["g0"]}
    v_sym = sp.lambdify((dt.theta, dt.psi), [sp.sympify(e).subs(values) for e in dt.wgan_gp_field()])
    v_num = dirac_gan.wgan_gp_field()
    for z in np.random.default_rng(2).uniform(-3, 3, size=(20, 2)):
        np.testing.assert_allclose(v_num(z), v_sym(*z), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("side", [1, -1])
def test_wgan_gp_one_sided_jacobian_is_damped_not_imaginary(side):
    jac = dt.wgan_gp_one_sided_jacobian(side)
    assert jac == sp.Matrix([[0, -1], [1, -dt.gamma]])
    roots = list(jac.eigenvals())
    assert all(sp.simplify(sp.re(r.subs(dt.gamma, WGAN_GP["gamma"])) + WGAN_GP["gamma"] / 2) == 0 for r in roots)
    v = dirac_gan.wgan_gp_field()
    z, step = np.array([0.2, side * 0.5]), 1e-6
    numeric = np.column_stack([(v(z + step * e) - v(z - step * e)) / (2 * step) for e in np.eye(2)])
    np.testing.assert_allclose(numeric, np.array(jac.subs(dt.gamma, WGAN_GP["gamma"]), float), atol=1e-8)


def test_wgan_gp_field_jumps_at_the_equilibrium_and_vanishes_nowhere():
    assert sp.simplify(dt.wgan_gp_field_jump() - 2 * dt.gamma * dt.g0) == 0
    assert dt.wgan_gp_virtual_equilibrium(1) == {dt.theta: -dt.gamma * dt.g0, dt.psi: 0}
    assert dt.wgan_gp_virtual_equilibrium(-1) == {dt.theta: dt.gamma * dt.g0, dt.psi: 0}


def test_wgan_gp_without_the_absolute_value_has_no_jump(monkeypatch):
    # break the module's step: the penalty forgets |.|, (psi - g0)^2, as if the slope were never negative
    monkeypatch.setattr(dt, "wgan_gp_penalty", lambda: (dt.psi - dt.g0) ** 2)
    assert sp.simplify(dt.wgan_gp_field_jump() - 2 * dt.gamma * dt.g0) != 0
    assert sp.expand(dt.wgan_gp_crossing_step() - ((1 - dt.h * dt.gamma) * dt.psi
                                                   + dt.h * (dt.theta + dt.gamma * dt.g0))) == 0  # psi > 0 agrees
    assert dt.wgan_gp_virtual_equilibrium(-1) != {dt.theta: dt.gamma * dt.g0, dt.psi: 0}           # psi < 0 does not


def test_wgan_gp_changes_sign_of_psi_only_beyond_gamma_g0():
    step = dt.wgan_gp_crossing_step()
    assert sp.expand(step - ((1 - dt.h * dt.gamma) * dt.psi + dt.h * (dt.theta + dt.gamma * dt.g0))) == 0
    path = dirac_gan.simulate_wgan_gp(n_steps=2000)
    signs = np.sign(path[:, 1])
    flips = np.flatnonzero(signs[1:] != signs[:-1])
    assert len(flips) > 50 and flips[-1] > 1900                           # psi keeps changing sign
    assert np.abs(path[flips, 0]).min() > WGAN_GP["gamma"] * WGAN_GP["g0"]


def test_wgan_gp_ends_on_the_same_cycle_from_near_and_far_and_g0_zero_converges():
    far, near = dirac_gan.simulate_wgan_gp(n_steps=2000), dirac_gan.simulate_wgan_gp(z0=(1e-6, 1e-6), n_steps=2000)
    r_far, r_near = (np.linalg.norm(p[-300:], axis=1) for p in (far, near))
    assert r_far.min() > WGAN_GP["gamma"] * WGAN_GP["g0"] and r_near.min() > WGAN_GP["gamma"] * WGAN_GP["g0"]
    assert r_far.max() == pytest.approx(r_near.max(), rel=1e-6) and r_far.min() == pytest.approx(r_near.min(), rel=1e-6)
    assert np.linalg.norm(dirac_gan.simulate_wgan_gp(g0=0.0)[-1]) < 1e-9


def test_wgan_gp_cycle_scales_with_g0():
    """v(c z; c g0) = c v(z; g0), so the trajectory from c z0 with target c g0 is c times the original."""
    base = dirac_gan.simulate_wgan_gp()
    scaled = dirac_gan.simulate_wgan_gp(g0=0.1 * WGAN_GP["g0"], z0=(0.1, 0.1))
    np.testing.assert_allclose(scaled, 0.1 * base, rtol=1e-9, atol=1e-12)


def test_zero_centred_wgan_gp_contracts_at_the_one_sided_rate():
    """With g0 = 0 the field is linear: the measured factor is rho(I + h J), J = [[0, -1], [1, -gamma]]."""
    path = dirac_gan.simulate_wgan_gp(g0=0.0, z0=(7e-7, 7e-7), n_steps=2000)
    measured, start, stop = dirac_gan.measured_factor(path)
    assert stop - start > 200
    h, gamma = dirac_gan.DEFAULTS["h"], WGAN_GP["gamma"]
    assert dirac_gan.wgan_gp_predicted_factor() == pytest.approx(np.sqrt(1 - h * gamma + h**2), rel=1e-14)  # det
    assert measured == pytest.approx(dirac_gan.wgan_gp_predicted_factor(), rel=1e-4)
