"""Discrete dynamics of two-player games: one function per update rule and one driver that iterates them.

A game is given by its vector field v(z) = (-dL/dx, +dL/dy) at z = (x, y): x descends, y ascends. Every
update rule has the signature ``step(z, z_prev, field, eta, **params) -> z_next`` with z of shape (2,);
``z_prev`` is only read by optimistic GDA. The same rules drive the bilinear game min_x max_y xy (this module)
and the Dirac-GAN (:mod:`sims.dirac_gan`).
"""
from __future__ import annotations

import numpy as np

from sims.checks import check_finite, check_int, check_positive, check_shape
from theory.nonconvergence import eigenvalues_numeric, matrix_power, spectral_radius, update_matrix_numeric

__all__ = [
    "UPDATE_RULES", "alternating_step", "bilinear_field", "bilinear_field_jacobian", "compare_with_theory",
    "consensus_step", "damped_step", "extragradient_step", "fitted_factor", "gda_step", "optimistic_step",
    "run_dynamics",
]


def bilinear_field(z: np.ndarray) -> np.ndarray:
    """v(x, y) = (-y, x) for f(x, y) = xy, shape (2,)."""
    return np.array([-z[1], z[0]])


def bilinear_field_jacobian(z: np.ndarray) -> np.ndarray:
    """dv/dz of ``bilinear_field``, shape (2, 2); the same at every z."""
    return np.array([[0.0, -1.0], [1.0, 0.0]])


def gda_step(z, z_prev, field, eta):
    """Simultaneous gradient descent-ascent: both players move along v(z_t)."""
    return z + eta * field(z)


def alternating_step(z, z_prev, field, eta):
    """x moves first; y then moves along the field evaluated at the new x."""
    x_new = z[0] + eta * field(z)[0]
    y_new = z[1] + eta * field(np.array([x_new, z[1]]))[1]
    return np.array([x_new, y_new])


def extragradient_step(z, z_prev, field, eta):
    """Extrapolate to z + eta v(z), then step from z along the field at that look-ahead point."""
    z_half = z + eta * field(z)
    return z + eta * field(z_half)


def optimistic_step(z, z_prev, field, eta):
    """Optimistic GDA: z + 2 eta v(z) - eta v(z_prev)."""
    return z + 2 * eta * field(z) - eta * field(z_prev)


def consensus_step(z, z_prev, field, eta, *, gamma, field_jacobian):
    """Consensus optimisation: follow v - gamma grad(|v|^2 / 2), with grad(|v|^2 / 2) = J(z)^T v(z)."""
    v = field(z)
    return z + eta * (v - gamma * field_jacobian(z).T @ v)


def damped_step(z, z_prev, field, eta, *, gamma):
    """GDA where the ascending player pays gamma/2 y^2: the bilinear analogue of a zero-centred penalty."""
    return z + eta * (field(z) - np.array([0.0, gamma * z[1]]))


UPDATE_RULES = {
    "gda": gda_step,
    "alternating": alternating_step,
    "extragradient": extragradient_step,
    "optimistic": optimistic_step,
    "consensus": consensus_step,
    "damped": damped_step,
}


def run_dynamics(step, z0, eta, n_steps, *, field=bilinear_field, project=None, **params) -> np.ndarray:
    """Iterate ``step`` from z0 for ``n_steps``; return the trajectory, shape (n_steps + 1, 2).

    ``project`` (optional) maps each new iterate back to the feasible set, e.g. WGAN's weight clipping.
    Optimistic GDA starts with z_{-1} = z_0, so its first step is plain GDA.
    """
    z = check_shape(check_finite(z0, "z0"), (2,), "z0").copy()
    eta = check_positive(eta, "eta")
    n_steps = check_int(n_steps, "n_steps", low=0)
    trajectory = np.empty((n_steps + 1, 2))
    trajectory[0] = z
    z_prev = z
    for t in range(1, n_steps + 1):
        z_new = step(z, z_prev, field, eta, **params)
        if project is not None:
            z_new = project(z_new)
        z_prev, z = z, z_new
        trajectory[t] = z
    return trajectory


def fitted_factor(radii: np.ndarray) -> float:
    """exp(slope) of a least-squares line through log radius against step: the measured per-step factor.

    Fitting over many rotations averages out the wobble of |z_t| that a non-normal update matrix causes.
    """
    radii = check_finite(radii, "radii")
    if radii.ndim != 1 or radii.size < 2 or np.any(radii <= 0):
        raise ValueError(f"radii must be a 1-D array of at least 2 positive values, got shape {radii.shape}")
    slope = np.polyfit(np.arange(radii.size), np.log(radii), 1)[0]
    return float(np.exp(slope))


def compare_with_theory(method: str, eta: float, z0, n_steps: int, gamma: float = 0.0) -> dict:
    """Simulate ``method`` on min_x max_y xy and compare with the closed-form eigenvalues.

    Returns the predicted factor (spectral radius), the measured factor (``fitted_factor``), the predicted
    radius after ``n_steps`` (M^n z0 with M^n from the eigenvalues by Sylvester's formula) and the measured
    radius, and their relative difference.
    """
    if method not in UPDATE_RULES:
        raise ValueError(f"method must be one of {', '.join(map(repr, UPDATE_RULES))}; got {method!r}")
    params = {"gamma": gamma} if method in ("consensus", "damped") else {}
    if method == "consensus":
        params["field_jacobian"] = bilinear_field_jacobian
    path = run_dynamics(UPDATE_RULES[method], z0, eta, n_steps, **params)
    state0 = np.tile(path[0], 2) if method == "optimistic" else path[0]  # (z_0, z_{-1} = z_0)
    power = matrix_power(update_matrix_numeric(method, eta, gamma), eigenvalues_numeric(method, eta, gamma),
                         n_steps)
    predicted_radius = float(np.hypot(*(power @ state0)[:2]))  # hypot: no underflow of tiny radii
    measured_radius = float(np.hypot(*path[-1]))
    return {
        "method": method,
        "predicted_factor": spectral_radius(method, eta, gamma),
        "measured_factor": fitted_factor(np.hypot(path[:, 0], path[:, 1])),
        "predicted_radius": predicted_radius,
        "measured_radius": measured_radius,
        "relative_error": abs(measured_radius - predicted_radius) / predicted_radius,
        "trajectory": path,
    }
