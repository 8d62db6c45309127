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
