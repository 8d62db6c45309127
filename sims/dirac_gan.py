"""The Dirac-GAN (Mescheder, Geiger, Nowozin 2018) simulated with the shared update rules.

Data delta_0, generator delta_theta, discriminator D_psi(x) = psi x, objective L = f(psi theta) + f(0) with
f(t) = -log(1 + exp(-t)), so f'(t) = sigmoid(-t). The state is z = (theta, psi); the fields below are
v = (-dL/dtheta, +dL/dpsi) and match :func:`theory.dirac_gan.field` (checked in the tests). Defaults follow
the paper's notebook (LMescheder/GAN_stability ``notebooks/diracgan``): step h = 0.2, start (1, 1), 500 steps,
WGAN clip 1, instance-noise sigma = 0.7, R1 weight gamma = 0.3; for WGAN-GP and consensus optimisation the
notebook's ``WGAN_GP(0.7, 1.)`` and ``GAN_Consensus(1.)`` (``WGAN_GP_DEFAULTS``, ``CONSENSUS_GAMMA``).
"""
from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from sims.checks import check_choice, check_int, check_positive
from sims.saddle_dynamics import alternating_step, consensus_step, fitted_factor, gda_step, run_dynamics
from sims.seeding import as_generator
from theory import dirac_gan as theory

__all__ = [
    "CONSENSUS_GAMMA", "DEFAULTS", "VARIANTS", "WGAN_GP_DEFAULTS", "consensus_predicted_factor",
    "consensus_rate_experiment", "field", "field_jacobian", "instance_noise_field_mc", "measured_factor",
    "predicted_factor", "rate_experiment", "simulate", "simulate_consensus", "simulate_wgan_gp", "wgan_gp_field",
    "wgan_gp_predicted_factor",
]

VARIANTS = theory.VARIANTS
DEFAULTS = {"h": 0.2, "z0": (1.0, 1.0), "n_steps": 500, "clip": 1.0, "sigma": 0.7, "gamma": 0.3}
LINEAR_REGIME = (1e-12, 1e-2)  # distances where the linearisation is accurate and rounding negligible
WGAN_GP_DEFAULTS = {"gamma": 0.7, "g0": 1.0}  # penalty weight and target gradient norm
CONSENSUS_GAMMA = 1.0
GAUSS_HERMITE_NODES = 64  # expectation over instance noise; the tests check it against adaptive quadrature


def _f_prime(t):
    """f'(t) = sigmoid(-t) = 1 / (1 + exp(t)), without overflow for large |t|."""
    return 0.5 * (1.0 - np.tanh(0.5 * t))


def _f_second(t):
    """f''(t) = -sigmoid(-t) sigmoid(t) = -f'(t) (1 - f'(t))."""
    fp = _f_prime(t)
    return -fp * (1.0 - fp)


def _noise_field(z, sigma, noise_fake, noise_real, weights):
    """The instance-noise field as a weighted average over noise draws (quadrature nodes or samples)."""
    theta, psi = z
    fake = theta + sigma * noise_fake
    real = sigma * noise_real
    v_theta = -psi * np.sum(weights * _f_prime(psi * fake))
    v_psi = np.sum(weights * fake * _f_prime(psi * fake)) - np.sum(weights * real * _f_prime(-psi * real))
    return np.array([v_theta, v_psi])


@functools.lru_cache(maxsize=None)
def _hermite_rule():
    nodes, weights = np.polynomial.hermite_e.hermegauss(GAUSS_HERMITE_NODES)
    return nodes, weights / weights.sum()  # probabilists' Hermite: integrates against N(0, 1)


def field(variant: str, *, sigma: float = DEFAULTS["sigma"], gamma: float = DEFAULTS["gamma"]):
    """Return v(z) for one Dirac-GAN variant, a function of z = (theta, psi) of shape (2,)."""
    check_choice(variant, "variant", VARIANTS)
    if variant == "gan":
        return lambda z: np.array([-z[1] * _f_prime(z[1] * z[0]), z[0] * _f_prime(z[1] * z[0])])
    if variant == "nsgan":  # the generator's gradient uses f'(-psi theta)
        return lambda z: np.array([-z[1] * _f_prime(-z[1] * z[0]), z[0] * _f_prime(z[1] * z[0])])
    if variant == "wgan":
        return lambda z: np.array([-z[1], z[0]])
    if variant == "r1":
        gamma = check_positive(gamma, "gamma")
        return lambda z: np.array([-z[1] * _f_prime(z[1] * z[0]), z[0] * _f_prime(z[1] * z[0]) - gamma * z[1]])
    sigma = check_positive(sigma, "sigma")
    nodes, weights = _hermite_rule()
    # the fake and real noises are independent: a tensor grid of the 1-D rule would be exact, but each
    # expectation involves only one of them, so the same 1-D rule serves both
    return lambda z: _noise_field(z, sigma, nodes, nodes, weights)


def instance_noise_field_mc(z, sigma, n_samples, rng) -> np.ndarray:
    """Monte Carlo estimate of the instance-noise field at z, as the paper's notebook computes it."""
    rng = as_generator(rng)
    sigma = check_positive(sigma, "sigma")
    n_samples = check_int(n_samples, "n_samples", low=1)
    noise = rng.standard_normal((2, n_samples))
    return _noise_field(np.asarray(z, float), sigma, noise[0], noise[1], np.full(n_samples, 1.0 / n_samples))


def simulate(variant: str, *, h=DEFAULTS["h"], z0=DEFAULTS["z0"], n_steps=DEFAULTS["n_steps"],
             alternating=False, clip=DEFAULTS["clip"], sigma=DEFAULTS["sigma"],
             gamma=DEFAULTS["gamma"]) -> np.ndarray:
    """Trajectory of (theta, psi) under simultaneous (or alternating) gradient steps, shape (n_steps + 1, 2)."""
    project = None
    if variant == "wgan":
        clip = check_positive(clip, "clip")
        project = lambda z: np.array([z[0], np.clip(z[1], -clip, clip)])  # noqa: E731 -- weight clipping
    step = alternating_step if alternating else gda_step
    return run_dynamics(step, z0, h, n_steps, field=field(variant, sigma=sigma, gamma=gamma), project=project)


def predicted_factor(variant: str, *, h=DEFAULTS["h"], alternating=False, sigma=DEFAULTS["sigma"],
                     gamma=DEFAULTS["gamma"]) -> float:
    """Spectral radius of the linearised update at (0, 0), from the sympy Jacobian of :mod:`theory.dirac_gan`.

    Simultaneous steps map z to (I + h J) z; alternating steps update theta with row 1 of J, then psi with
    row 2 evaluated at the new theta.
    """
    jac = theory.jacobian_at_equilibrium(variant).subs({theory.sigma: sigma, theory.gamma: gamma})
    jac = np.array(jac.evalf(), dtype=float)
    if alternating:
        first = np.eye(2) + h * np.array([jac[0], [0.0, 0.0]])
        second = np.eye(2) + h * np.array([[0.0, 0.0], jac[1]])
        update = second @ first
    else:
        update = np.eye(2) + h * jac
    return float(np.max(np.abs(np.linalg.eigvals(update))))


def _linear_window(radii: np.ndarray, blocked: np.ndarray) -> tuple[int, int]:
    """(start, stop) of the first stretch inside LINEAR_REGIME (for WGAN, before the clipping first acts)."""
    low, high = LINEAR_REGIME
    inside = (radii > low) & (radii < high) & ~np.maximum.accumulate(blocked)
    start = int(np.argmax(inside))
    stop = start + int(np.argmax(~inside[start:])) if not inside[start:].all() else radii.size
    return start, stop


def measured_factor(path: np.ndarray, blocked: np.ndarray | None = None) -> tuple[float, int, int]:
    """Fitted per-step factor of |z_t| on its linear window, and the window (see ``_linear_window``).

    ``path`` has shape (n_steps + 1, 2); ``blocked`` marks steps after which the window must stop (WGAN's clip).
    """
    radii = np.linalg.norm(path, axis=1)
    start, stop = _linear_window(radii, np.zeros(radii.size, bool) if blocked is None else blocked)
    return fitted_factor(radii[start:stop]), start, stop


def rate_experiment(variant: str, *, alternating=False, n_steps=2000, start_radius=1e-6,
                    clip=DEFAULTS["clip"], sigma=DEFAULTS["sigma"], gamma=DEFAULTS["gamma"]) -> dict:
    """Predicted versus measured per-step factor of the distance to (0, 0) for one variant.

    Converging variants start at the notebook's (1, 1), the others ``start_radius`` from the equilibrium.
    The factor is measured (``fitted_factor``) on the stretch where 1e-12 < |z| < 1e-2: close enough for the
    linearisation to hold, far enough from 0 for rounding not to matter.
    """
    params = {"sigma": sigma, "gamma": gamma}
    factor = predicted_factor(variant, alternating=alternating, **params)
    converging = factor < 1 - 1e-9  # alternating steps give |lambda| = 1 up to rounding
    z0 = DEFAULTS["z0"] if converging else (start_radius / np.sqrt(2), start_radius / np.sqrt(2))
    path = simulate(variant, z0=z0, n_steps=n_steps, alternating=alternating, clip=clip, **params)
    clipped = np.abs(path[:, 1]) >= clip if variant == "wgan" else None
    measured, start, stop = measured_factor(path, clipped)
    return {"variant": variant, "alternating": alternating, "converging": converging,
            "predicted_factor": factor, "measured_factor": measured,
            "window_start": start, "window_stop": stop, "trajectory": path}


# --- consensus optimisation ---------------------------------------------------------------------------------

def field_jacobian(variant: str = "gan"):
    """dv/dz of the unregularised GAN's field, a function of z = (theta, psi) returning shape (2, 2).

    Consensus optimisation needs it: grad(|v|^2 / 2) = J(z)^T v(z).
    """
    check_choice(variant, "variant", ("gan",))

    def jacobian(z):
        theta, psi = z
        fp, fpp = _f_prime(psi * theta), _f_second(psi * theta)
        return np.array([[-psi**2 * fpp, -fp - psi * theta * fpp],
                         [fp + psi * theta * fpp, theta**2 * fpp]])
    return jacobian


def simulate_consensus(gamma=CONSENSUS_GAMMA, *, h=DEFAULTS["h"], z0=DEFAULTS["z0"],
                       n_steps=DEFAULTS["n_steps"]) -> np.ndarray:
    """Simultaneous consensus steps z + h (v - gamma J^T v) on the GAN's field, shape (n_steps + 1, 2)."""
    gamma = check_positive(gamma, "gamma")
    return run_dynamics(consensus_step, z0, h, n_steps, field=field("gan"), gamma=gamma,
                        field_jacobian=field_jacobian("gan"))


@functools.lru_cache(maxsize=None)
def _consensus_jacobian_numeric():
    """J_CO as a numpy function of gamma, lambdified once (simplifying the sympy Jacobian takes ~0.1 s)."""
    return sp.lambdify(theory.gamma, theory.consensus_jacobian("gan"), "numpy")


def consensus_predicted_factor(gamma, *, h=DEFAULTS["h"]) -> float:
    """Spectral radius of I + h J_CO, with J_CO the sympy Jacobian of :func:`theory.dirac_gan.consensus_jacobian`."""
    jac = np.array(_consensus_jacobian_numeric()(check_positive(gamma, "gamma")), dtype=float)
    return float(np.max(np.abs(np.linalg.eigvals(np.eye(2) + h * jac))))


def consensus_rate_experiment(gamma, *, h=DEFAULTS["h"], n_steps=1500, start_radius=1e-6) -> dict:
    """Predicted (linearisation) against measured (simulation) per-step factor of consensus optimisation.

    Every run starts ``start_radius`` from the equilibrium, so that converging and diverging settings are both
    measured where the linearisation holds (1e-12 < |z| < 1e-2).
    """
    z0 = (start_radius / np.sqrt(2), start_radius / np.sqrt(2))
    path = simulate_consensus(gamma, h=h, z0=z0, n_steps=n_steps)
    measured, start, stop = measured_factor(path)
    return {"gamma": gamma, "h": h, "predicted_factor": consensus_predicted_factor(gamma, h=h),
            "measured_factor": measured, "window_start": start, "window_stop": stop, "trajectory": path}


# --- WGAN-GP -----------------------------------------------------------------------------------------------

def wgan_gp_field(gamma=WGAN_GP_DEFAULTS["gamma"], g0=WGAN_GP_DEFAULTS["g0"]):
    """v(z) = (-psi, theta - gamma (|psi| - g0) sign(psi)), as in the notebook; shape (2,)."""
    gamma = check_positive(gamma, "gamma")
    g0 = check_positive(g0, "g0", allow_zero=True)
    return lambda z: np.array([-z[1], z[0] - gamma * (abs(z[1]) - g0) * np.sign(z[1])])


def simulate_wgan_gp(gamma=WGAN_GP_DEFAULTS["gamma"], g0=WGAN_GP_DEFAULTS["g0"], *, h=DEFAULTS["h"],
                     z0=DEFAULTS["z0"], n_steps=DEFAULTS["n_steps"]) -> np.ndarray:
    """Simultaneous gradient steps on WGAN-GP, shape (n_steps + 1, 2)."""
    return run_dynamics(gda_step, z0, h, n_steps, field=wgan_gp_field(gamma, g0))


def wgan_gp_predicted_factor(gamma=WGAN_GP_DEFAULTS["gamma"], *, h=DEFAULTS["h"]) -> float:
    """Spectral radius of I + h J for the Jacobian J of either half-plane (:mod:`theory.dirac_gan`).

    A rate at the equilibrium only for g0 = 0, where the field is continuous and linear; for g0 > 0 it is the
    contraction of each half-plane's affine map towards its own virtual equilibrium.
    """
    jac = theory.wgan_gp_one_sided_jacobian(1).subs(theory.gamma, check_positive(gamma, "gamma"))
    return float(np.max(np.abs(np.linalg.eigvals(np.eye(2) + h * np.array(jac.evalf(), dtype=float)))))
