"""min_x max_y xy: the flow's closed form, each update rule's matrix and eigenvalues, and simulation vs theory.

The central check (``test_predicted_distance_matches_simulation``) compares the distance after many steps,
predicted from the closed-form eigenvalues alone, with the simulated one to 1e-9 relative; an eigenvalue
that is wrong by one part in a million fails it (``test_a_wrong_eigenvalue_breaks_the_prediction``).
"""
import numpy as np
import pytest
import sympy as sp
from scipy.integrate import solve_ivp

from sims import saddle_dynamics as sd
from theory import nonconvergence as th

ETA, GAMMA = th.eta, th.gamma


# --- continuous time ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def flow_solution():
    return th.gradient_flow()


def test_flow_solution_solves_the_ode_and_initial_conditions(flow_solution):
    x_t, y_t = flow_solution
    assert sp.simplify(sp.diff(x_t, th.t) + th.alpha * y_t) == 0
    assert sp.simplify(sp.diff(y_t, th.t) - th.beta * x_t) == 0
    assert x_t.subs(th.t, 0) == th.x0 and sp.simplify(y_t.subs(th.t, 0)) == th.y0


def test_flow_conserves_its_quadratic_and_not_the_wrong_one(flow_solution):
    x_t, y_t = flow_solution
    assert sp.simplify(sp.diff(th.flow_conserved_quantity(u=x_t, w=y_t), th.t)) == 0
    swapped = th.alpha * x_t**2 + th.beta * y_t**2  # rates on the wrong axes: conserved only if alpha = beta
    assert sp.simplify(sp.diff(swapped, th.t)) != 0
    assert sp.simplify(sp.diff(swapped, th.t).subs(th.beta, th.alpha)) == 0


def test_flow_is_a_centre_while_f_is_a_saddle():
    eigs = th.flow_jacobian().eigenvals()
    assert set(eigs) == {sp.I * sp.sqrt(th.alpha * th.beta), -sp.I * sp.sqrt(th.alpha * th.beta)}
    assert all(sp.re(e) == 0 for e in eigs)
    assert th.flow_jacobian().trace() == 0  # zero divergence: the flow preserves area
    assert set(sp.hessian(th.F_XY, (th.x, th.y)).eigenvals()) == {-1, 1}


def test_flow_closed_form_matches_numerical_integration(flow_solution):
    closed = sp.lambdify((th.t, th.x0, th.y0, th.alpha, th.beta), list(flow_solution))
    rates, start = (2.0, 0.5), (0.3, -1.1)
    ode = solve_ivp(lambda _, z: [-rates[0] * z[1], rates[1] * z[0]], (0, 25.0), start,
                    rtol=1e-12, atol=1e-12, dense_output=True)
    grid = np.linspace(0, 25.0, 50)
    np.testing.assert_allclose(ode.sol(grid), closed(grid, *start, *rates), atol=1e-8)


# --- discrete time: matrices, eigenvalues, invariants, thresholds -------------------------------------------

EXPECTED_MATRICES = {
    "gda": [[1, -ETA], [ETA, 1]],
    "alternating": [[1, -ETA], [ETA, 1 - ETA**2]],
    "extragradient": [[1 - ETA**2, -ETA], [ETA, 1 - ETA**2]],
    "optimistic": [[1, -2 * ETA, 0, ETA], [2 * ETA, 1, -ETA, 0], [1, 0, 0, 0], [0, 1, 0, 0]],
    "consensus": [[1 - ETA * GAMMA, -ETA], [ETA, 1 - ETA * GAMMA]],
    "damped": [[1, -ETA], [ETA, 1 - ETA * GAMMA]],
}


@pytest.mark.parametrize("method", th.METHODS)
def test_update_matrix_derived_from_the_rule(method):
    assert sp.simplify(th.update_matrix(method) - sp.Matrix(EXPECTED_MATRICES[method])) == sp.zeros(
        *th.update_matrix(method).shape)


@pytest.mark.parametrize("method", th.METHODS)
def test_eigenvalue_formulas_are_the_roots_of_the_characteristic_polynomial(method):
    assert th.characteristic_gap(method) == 0


@pytest.mark.parametrize("method", th.METHODS)
def test_a_wrong_eigenvalue_formula_fails_the_symbolic_check(method, monkeypatch):
    right = th.eigenvalues

    def skewed(m, step=ETA, reg=GAMMA):
        roots = right(m, step, reg)
        return [roots[0] * (1 + step / 7)] + roots[1:]

    monkeypatch.setattr(th, "eigenvalues", skewed)
    assert th.characteristic_gap(method) != 0


@pytest.mark.parametrize("method", th.METHODS)
def test_sims_rules_realise_the_theory_matrices(method):
    """Apply each sims update rule to basis vectors: the columns must be update_matrix's."""
    eta, gamma = 0.37, 0.8
    matrix = th.update_matrix_numeric(method, eta, gamma)
    params = {"gamma": gamma} if method in ("consensus", "damped") else {}
    if method == "consensus":
        params["field_jacobian"] = sd.bilinear_field_jacobian
    step = sd.UPDATE_RULES[method]
    for k, basis in enumerate(np.eye(matrix.shape[0])):
        z, z_prev = basis[:2], basis[2:] if method == "optimistic" else basis[:2]
        np.testing.assert_allclose(step(z, z_prev, sd.bilinear_field, eta, **params), matrix[:2, k], atol=1e-15)


def test_alternating_invariant_is_conserved_and_a_wrong_one_is_not():
    x_next, y_next = th.update_matrix("alternating") @ sp.Matrix([th.x, th.y])
    change = th.alternating_invariant(u=x_next, w=y_next) - th.alternating_invariant()
    assert sp.expand(change) == 0
    wrong = (x_next**2 + ETA * x_next * y_next + y_next**2) - (th.x**2 + ETA * th.x * th.y + th.y**2)
    assert sp.expand(wrong) != 0


def test_the_invariant_is_specific_to_alternating_steps(monkeypatch):
    # break the module's own step: y responds to the OLD x (simultaneous GDA) -- Q_eta is then not conserved
    right = th._next_state
    monkeypatch.setattr(th, "_next_state", lambda method, step, reg: right("gda", step, reg))
    x_next, y_next = th.update_matrix("alternating") @ sp.Matrix([th.x, th.y])
    assert sp.expand(th.alternating_invariant(u=x_next, w=y_next) - th.alternating_invariant()) != 0


def test_the_conserved_quantity_fails_for_a_wrong_flow(monkeypatch):
    # break the module's own step: both players descend, so the flow is no longer a rotation
    right = th.field
    monkeypatch.setattr(th, "field", lambda u, w: sp.Matrix([right(u, w)[0], -right(u, w)[1]]))
    x_t, y_t = th.gradient_flow()
    assert sp.simplify(sp.diff(th.flow_conserved_quantity(u=x_t, w=y_t), th.t)) != 0


def test_alternating_invariant_is_positive_definite_exactly_below_two():
    form = sp.hessian(th.alternating_invariant(), (th.x, th.y)) / 2
    assert set(form.eigenvals()) == {1 - ETA / 2, 1 + ETA / 2}
    assert sp.solve(sp.Eq(form.det(), 0), ETA) == [2]


def test_alternating_is_bounded_below_two_linear_at_two_and_geometric_above():
    path = sd.run_dynamics(sd.alternating_step, (1.0, 0.0), 1.9, 400)
    radii = np.linalg.norm(path, axis=1)
    assert radii.max() <= np.sqrt((1 + 0.95) / (1 - 0.95)) + 1e-12
    assert radii.min() >= np.sqrt((1 - 0.95) / (1 + 0.95)) - 1e-12
    at_two = np.linalg.norm(sd.run_dynamics(sd.alternating_step, (1.0, 0.0), 2.0, 400), axis=1)
    assert 100 < at_two[-1] < 2000  # grows like t, not like a power of t
    above = np.linalg.norm(sd.run_dynamics(sd.alternating_step, (1.0, 0.0), 2.1, 400), axis=1)
    assert above[-1] > 1e20


EXPECTED_THRESHOLDS = {
    "gda": None, "alternating": 2, "extragradient": 1, "optimistic": 1 / sp.sqrt(3),
    "consensus": 2 * GAMMA / (1 + GAMMA**2), "damped": GAMMA,
}


@pytest.mark.parametrize("method", th.METHODS)
def test_stability_thresholds(method):
    threshold = th.stability_threshold(method)
    expected = EXPECTED_THRESHOLDS[method]
    assert threshold == expected if expected is None else sp.simplify(threshold - expected) == 0


@pytest.mark.parametrize("method", ["extragradient", "optimistic", "consensus", "damped"])
@pytest.mark.parametrize("gamma", [0.5, 1.0, 1.7])
def test_spectral_radius_crosses_one_at_the_threshold(method, gamma):
    limit = float(th.stability_threshold(method).subs(GAMMA, gamma))
    assert th.spectral_radius(method, limit, gamma) == pytest.approx(1.0, abs=1e-12)
    assert th.spectral_radius(method, 0.99 * limit, gamma) < 1 < th.spectral_radius(method, 1.01 * limit, gamma)


def test_gda_never_stable_and_alternating_on_the_unit_circle():
    steps = np.linspace(0.01, 1.99, 50)
    np.testing.assert_allclose(th.spectral_radius("gda", steps), np.sqrt(1 + steps**2), rtol=1e-14)
    np.testing.assert_allclose(th.spectral_radius("alternating", steps), 1.0, rtol=1e-12)


@pytest.mark.parametrize("method, best_step, best_radius", [
    ("extragradient", 1 / np.sqrt(2), np.sqrt(3) / 2),
    ("optimistic", 0.5, 1 / np.sqrt(2)),
    ("consensus", 1 / 2, 1 / np.sqrt(2)),        # gamma = 1
    ("damped", 1 / 2, np.sqrt(1 - 1 / 4)),        # gamma = 1
])
def test_fastest_step_sizes(method, best_step, best_radius):
    assert th.spectral_radius(method, best_step, 1.0) == pytest.approx(best_radius, abs=1e-12)
    steps = np.linspace(1e-3, 1.5, 30001)
    radii = th.spectral_radius(method, steps, 1.0)
    assert radii.min() >= best_radius - 1e-12  # no step on a fine grid does better
    assert steps[np.argmin(radii)] == pytest.approx(best_step, abs=1e-3)


# --- simulation against the closed forms --------------------------------------------------------------------

CASES = [(m, eta, gamma) for m in th.METHODS for eta, gamma in [(0.2, 1.0), (0.05, 0.3), (0.45, 1.5)]]


@pytest.mark.parametrize("method, eta, gamma", CASES)
def test_predicted_distance_matches_simulation(method, eta, gamma):
    result = sd.compare_with_theory(method, eta, (0.7, -0.4), 600, gamma=gamma)
    assert result["relative_error"] < 1e-9


@pytest.mark.parametrize("method", ["gda", "extragradient", "consensus"])
def test_scaled_rotations_multiply_the_distance_by_exactly_rho(method):
    """For M = aI + bB every step multiplies |z| by |a + ib|: no Sylvester formula needed."""
    eta, gamma = 0.3, 0.6
    path = sd.run_dynamics(sd.UPDATE_RULES[method], (1.0, 2.0), eta, 300,
                           **({"gamma": gamma, "field_jacobian": sd.bilinear_field_jacobian}
                              if method == "consensus" else {}))
    ratios = np.linalg.norm(path[1:], axis=1) / np.linalg.norm(path[:-1], axis=1)
    np.testing.assert_allclose(ratios, th.spectral_radius(method, eta, gamma), rtol=1e-12)


@pytest.mark.parametrize("method", th.METHODS)
def test_a_wrong_eigenvalue_breaks_the_prediction(method):
    eta, gamma, n_steps = 0.2, 1.0, 600
    path = sd.run_dynamics(sd.UPDATE_RULES[method], (0.7, -0.4), eta, n_steps,
                           **({"gamma": gamma} if method in ("consensus", "damped") else {}),
                           **({"field_jacobian": sd.bilinear_field_jacobian} if method == "consensus" else {}))
    roots = th.eigenvalues_numeric(method, eta, gamma)
    roots[0] *= 1 + 1e-6
    state0 = np.tile(path[0], 2) if method == "optimistic" else path[0]
    power = th.matrix_power(th.update_matrix_numeric(method, eta, gamma), roots, n_steps)
    predicted = np.linalg.norm((power @ state0)[:2])
    assert abs(predicted / np.linalg.norm(path[-1]) - 1) > 1e-7


@pytest.mark.parametrize("method", th.METHODS)
def test_measured_factor_matches_spectral_radius(method):
    result = sd.compare_with_theory(method, 0.2, (1.0, 0.0), 2000, gamma=1.0)
    assert result["measured_factor"] == pytest.approx(result["predicted_factor"], rel=1e-5)


def test_optimistic_first_step_is_plain_gda():
    path_o = sd.run_dynamics(sd.optimistic_step, (1.0, 0.5), 0.3, 1)
    path_g = sd.run_dynamics(sd.gda_step, (1.0, 0.5), 0.3, 1)
    np.testing.assert_array_equal(path_o, path_g)


# --- argument checks ------------------------------------------------------------------------------------------

def test_driver_validates_its_arguments():
    with pytest.raises(ValueError, match="eta must be > 0"):
        sd.run_dynamics(sd.gda_step, (1.0, 0.0), -0.1, 5)
    with pytest.raises(TypeError, match="n_steps must be an integer"):
        sd.run_dynamics(sd.gda_step, (1.0, 0.0), 0.1, 5.0)
    with pytest.raises(ValueError, match=r"z0 must have shape \(2\)"):
        sd.run_dynamics(sd.gda_step, (1.0, 0.0, 0.0), 0.1, 5)
    with pytest.raises(ValueError, match="z0 must be finite"):
        sd.run_dynamics(sd.gda_step, (np.nan, 0.0), 0.1, 5)


def test_unknown_method_and_repeated_eigenvalues_are_refused():
    with pytest.raises(ValueError, match="method must be one of"):
        sd.compare_with_theory("adam", 0.1, (1.0, 0.0), 10)
    with pytest.raises(ValueError, match="method must be one of"):
        th.update_matrix("adam")
    with pytest.raises(ValueError, match="distinct eigenvalues"):
        th.matrix_power(np.eye(2), np.array([1.0, 1.0]), 3)
    with pytest.raises(ValueError, match="radii must be a 1-D array"):
        sd.fitted_factor(np.array([1.0, -1.0]))


# --- time averages and the general step-size condition ------------------------------------------------------

def test_the_flow_orbit_is_centred_on_the_equilibrium():
    assert th.flow_period_average() == [0, 0]


def test_a_shifted_field_moves_the_orbit_centre(monkeypatch):
    right = th.field
    monkeypatch.setattr(th, "field", lambda u, w: right(u, w) + sp.Matrix([1, 0]))  # equilibrium at (0, -1)
    assert th.flow_period_average() != [0, 0]


def test_averaged_alternating_iterates_converge_like_one_over_t():
    assert th.averaging_determinant("alternating") == ETA**2          # I - M invertible for every eta > 0
    path = sd.run_dynamics(sd.alternating_step, (1.0, 0.0), 0.3, 4000)
    averages = np.cumsum(path, axis=0) / np.arange(1, len(path) + 1)[:, None]
    norms = np.linalg.norm(averages, axis=1)
    m = th.update_matrix_numeric("alternating", 0.3)
    inverse = np.linalg.inv(np.eye(2) - m)
    for t in (100, 1000, 4000):                                       # (I - M)^-1 (z_0 - z_T) / T, exactly
        np.testing.assert_allclose(averages[t - 1], inverse @ (path[0] - path[t]) / t, atol=1e-12)
    radii = np.linalg.norm(path, axis=1)
    steps = np.arange(1, len(path) + 1)
    assert np.all(norms * steps <= np.linalg.norm(inverse, 2) * (radii[0] + radii.max()) + 1e-9)  # O(1/T)
    assert radii.min() > 0.5                                          # while the iterates themselves never settle


def test_general_step_size_condition():
    a, b = sp.symbols("a b", positive=True)
    assert sp.simplify(th.step_size_limit(a, b) - 2 * a / (a**2 + b**2)) == 0
    assert th.step_size_limit(0, 1) is None                           # purely imaginary: no stable step
    # it reproduces the thresholds derived rule by rule: consensus (-gamma +- i) and damped GDA
    assert sp.simplify(th.step_size_limit(GAMMA, 1) - th.stability_threshold("consensus")) == 0
    w = sp.Symbol("w", positive=True)
    damped = th.step_size_limit(GAMMA / 2, w).subs(w, sp.sqrt(1 - GAMMA**2 / 4))
    assert sp.simplify(damped - th.stability_threshold("damped")) == 0


def test_a_wrong_step_factor_breaks_the_step_size_condition(monkeypatch):
    monkeypatch.setattr(th, "_simultaneous_factor", lambda root, step: sp.expand((1 + step * root) ** 2))
    a, b = sp.symbols("a b", positive=True)
    limit = th.step_size_limit(a, b)
    assert limit is None or sp.simplify(limit - 2 * a / (a**2 + b**2)) != 0
