"""The Dirac-GAN of Mescheder, Geiger and Nowozin (2018), linearised at its equilibrium with sympy.

Setup (as in the paper and its notebook LMescheder/GAN_stability ``notebooks/diracgan``): the data are a point
mass at 0, the generator is a point mass at theta, the discriminator is D_psi(x) = psi x, and the training
objective is L(theta, psi) = f(psi theta) + f(0) with f(t) = -log(1 + exp(-t)). The generator descends and the
discriminator ascends; the gradient vector field is v = (-dL/dtheta, +dL/dpsi). The unique equilibrium is
(theta, psi) = (0, 0).

Variants: ``gan`` (the saturating min-max loss above), ``nsgan`` (the generator minimises -f(-psi theta)),
``wgan`` (f(t) = t; psi is clipped to [-c, c], which leaves the field unchanged near 0), ``instance_noise``
(Gaussian noise of standard deviation sigma added to real and fake samples) and ``r1`` (the discriminator
pays gamma/2 E_data |grad_x D|^2 = gamma/2 psi^2).

Two more training methods have their own functions, since neither fits the variant table: WGAN-GP, whose field
is discontinuous at the equilibrium (``wgan_gp_*``), and consensus optimisation (``consensus_*``).
"""
from __future__ import annotations

import functools

import sympy as sp
from sympy import stats

__all__ = [
    "VARIANTS", "consensus_field", "consensus_jacobian", "f_gan", "field", "jacobian_at_equilibrium",
    "jacobian_eigenvalues", "wgan_gp_crossing_step", "wgan_gp_field", "wgan_gp_field_jump",
    "wgan_gp_one_sided_jacobian", "wgan_gp_penalty", "wgan_gp_virtual_equilibrium",
]

theta, psi = sp.symbols("theta psi", real=True)
sigma, gamma = sp.symbols("sigma gamma", positive=True)
eps_fake, eps_real = sp.symbols("epsilon_fake epsilon_real", real=True)
s = sp.Symbol("s", real=True)
g0 = sp.Symbol("g_0", nonnegative=True)  # WGAN-GP's target gradient norm
h = sp.Symbol("h", positive=True)  # step size

VARIANTS = ("gan", "nsgan", "wgan", "instance_noise", "r1")


def f_gan(arg):
    """f(t) = -log(1 + exp(-t)), so that f(D) = log sigmoid(D)."""
    return -sp.log(1 + sp.exp(-arg))


def _f_prime(arg, kind="gan"):
    linear = kind == "wgan"
    return sp.Integer(1) if linear else sp.diff(f_gan(s), s).subs(s, arg)


def field(variant: str):
    """(v_theta, v_psi) as sympy expressions in theta, psi (and the noise symbols for ``instance_noise``).

    For ``instance_noise`` the returned field still contains epsilon_fake and epsilon_real ~ N(0, sigma^2);
    its expectation over them is the field the players follow.
    """
    if variant in ("gan", "wgan", "r1"):
        fp = _f_prime(psi * theta, variant)
        penalty = gamma * psi if variant == "r1" else 0  # d/dpsi of gamma/2 psi^2
        return -psi * fp, theta * fp - penalty
    if variant == "nsgan":  # the generator minimises -f(-psi theta) instead of f(psi theta)
        return -psi * _f_prime(-psi * theta), theta * _f_prime(psi * theta)
    if variant == "instance_noise":  # L = E f(psi (theta + eps_fake)) + E f(-psi eps_real)
        fake = theta + eps_fake
        loss = f_gan(psi * fake) + f_gan(-psi * eps_real)
        return -sp.diff(loss, theta), sp.diff(loss, psi)
    raise ValueError(f"variant must be one of {', '.join(map(repr, VARIANTS))}; got {variant!r}")


@functools.lru_cache(maxsize=None)
def jacobian_at_equilibrium(variant: str) -> sp.ImmutableMatrix:
    """Jacobian of the (expected) vector field at (0, 0), a 2 x 2 sympy matrix.

    For instance noise, derivative and expectation are exchanged; at (0, 0) the derivatives are polynomials
    in the noise, whose Gaussian moments sympy.stats evaluates.
    """
    v_theta, v_psi = field(variant)
    jac = sp.Matrix([v_theta, v_psi]).jacobian([theta, psi]).subs({theta: 0, psi: 0})
    if variant == "instance_noise":
        noise = {eps_fake: stats.Normal("e_fake", 0, sigma), eps_real: stats.Normal("e_real", 0, sigma)}
        jac = jac.applyfunc(lambda entry: stats.E(entry.subs(noise)))
    return sp.ImmutableMatrix(sp.simplify(jac))


def jacobian_eigenvalues(variant: str) -> list:
    """The eigenvalues stated in Mescheder et al. (2018), with f'(0) = 1/2 and f''(0) = -1/4 (WGAN: f' = 1)."""
    fp0 = sp.Integer(1) if variant == "wgan" else sp.diff(f_gan(s), s).subs(s, 0)
    fpp0 = sp.diff(f_gan(s), s, 2).subs(s, 0)
    if variant in ("gan", "nsgan", "wgan"):
        return [sp.I * fp0, -sp.I * fp0]
    if variant == "instance_noise":
        root = sp.sqrt(fpp0**2 * sigma**4 - fp0**2)
        return [fpp0 * sigma**2 + root, fpp0 * sigma**2 - root]
    if variant == "r1":
        root = sp.sqrt(gamma**2 / 4 - fp0**2)
        return [-gamma / 2 + root, -gamma / 2 - root]
    raise ValueError(f"variant must be one of {', '.join(map(repr, VARIANTS))}; got {variant!r}")


def radial_rate(variant: str) -> sp.Expr:
    """theta v_theta + psi v_psi = (1/2) d/dt (theta^2 + psi^2) along the continuous flow, simplified.

    Zero for ``gan`` and ``wgan`` (unclipped): the flow conserves theta^2 + psi^2 exactly, so the equilibrium is
    Lyapunov stable but no orbit approaches it -- the nonlinear reason, which the purely imaginary eigenvalues
    of the Jacobian alone cannot give. For ``nsgan`` it is -theta psi tanh(theta psi / 2) <= 0, of fourth order.
    """
    v_theta, v_psi = field(variant)
    return sp.simplify(theta * v_theta + psi * v_psi)


def simultaneous_step_growth(variant: str) -> sp.Expr:
    """||z + h v||^2 - ||z||^2 - h^2 ||v||^2 = 2 h z.v for one simultaneous step of size h; zero for ``gan``.

    So for the GAN each simultaneous step adds exactly h^2 ||v(z)||^2 > 0 to the squared distance: no start
    other than the equilibrium ever gets closer.
    """
    h = sp.Symbol("h", positive=True)
    v_theta, v_psi = field(variant)
    after = (theta + h * v_theta) ** 2 + (psi + h * v_psi) ** 2
    return sp.simplify(sp.expand(after - theta**2 - psi**2 - h**2 * (v_theta**2 + v_psi**2)))


def consensus_field(variant: str = "gan") -> sp.Matrix:
    """The field of consensus optimisation, v - gamma grad(|v|^2 / 2), as a 2 x 1 sympy matrix in theta, psi.

    Mescheder et al. (2017) add -gamma grad L with L = |v|^2 / 2 to both players' updates.
    """
    v = sp.Matrix(field(variant))
    loss = (v.T * v)[0] / 2
    grad = sp.Matrix([sp.diff(loss, theta), sp.diff(loss, psi)])
    return v - gamma * grad


def consensus_jacobian(variant: str = "gan") -> sp.ImmutableMatrix:
    """Jacobian at (0, 0) of consensus optimisation on the Dirac-GAN, from :func:`consensus_field`.

    At an equilibrium, where v = 0, it is J - gamma J^T J; derived here from the field itself, not from that
    formula (the tests compare the two).
    """
    jac = consensus_field(variant).jacobian([theta, psi]).subs({theta: 0, psi: 0})
    return sp.ImmutableMatrix(sp.simplify(jac))


# --- WGAN-GP ------------------------------------------------------------------------------------------------

def wgan_gp_penalty() -> sp.Expr:
    """E over interpolates x_hat = t theta + (1 - t) 0, t ~ U(0, 1), of (|d/dx D_psi(x_hat)| - g0)^2.

    For the linear discriminator D_psi(x) = psi x the gradient is psi at every x_hat, so this is
    (|psi| - g0)^2: the interpolates do not matter on the Dirac-GAN.
    """
    x, t = sp.symbols("x t", real=True)
    slope = sp.diff(psi * x, x).subs(x, t * theta)
    return sp.simplify(sp.integrate((sp.Abs(slope) - g0) ** 2, (t, 0, 1)))


def wgan_gp_field() -> tuple[sp.Expr, sp.Expr]:
    """(v_theta, v_psi) of WGAN-GP: L = psi theta (f(t) = t); the discriminator ascends L - gamma/2 penalty.

    The weight gamma/2 follows the notebook of Mescheder et al. (2018), whose field is
    (-psi, theta - gamma (|psi| - g0) sign(psi)).
    """
    loss = psi * theta
    return -sp.diff(loss, theta), sp.diff(loss - gamma / 2 * wgan_gp_penalty(), psi)


def _on_side(expr, side: int):
    """``expr`` on the half-plane sign(psi) = side, where |psi| is differentiable."""
    half = sp.Symbol("psi_half", positive=True)
    return expr.subs(psi, side * half).subs(half, side * psi)


def wgan_gp_one_sided_jacobian(side: int) -> sp.ImmutableMatrix:
    """Jacobian of the WGAN-GP field on the half-plane psi > 0 (``side`` = 1) or psi < 0 (``side`` = -1).

    The field is affine on each half-plane, so this is its Jacobian everywhere there, up to psi = 0.
    """
    if side not in (1, -1):
        raise ValueError(f"side must be 1 or -1, got {side!r}")
    v = sp.Matrix([_on_side(e, side) for e in wgan_gp_field()])
    return sp.ImmutableMatrix(sp.simplify(v.jacobian([theta, psi])))


def wgan_gp_field_jump() -> sp.Expr:
    """v_psi(theta, 0+) - v_psi(theta, 0-): the jump of the field across psi = 0, 2 gamma g0 (zero iff g0 = 0)."""
    v_psi = wgan_gp_field()[1]
    above = sp.limit(_on_side(v_psi, 1), psi, 0, "+")
    below = sp.limit(_on_side(v_psi, -1), psi, 0, "-")
    return sp.simplify(above - below)


def wgan_gp_virtual_equilibrium(side: int) -> dict:
    """Where the affine field of one half-plane vanishes: {theta: -side gamma g0, psi: 0}, on the boundary psi = 0.

    The field has no zero inside either half-plane when g0 > 0: each half-plane's flow spirals towards a point
    that lies on the line where the other half-plane's field takes over.
    """
    v = [_on_side(e, side) for e in wgan_gp_field()]
    (solution,) = sp.solve(v, [theta, psi], dict=True)
    return solution


def wgan_gp_crossing_step() -> sp.Expr:
    """psi after one simultaneous step of size h from psi > 0, as an expression in theta, psi, h, gamma, g0.

    It equals (1 - h gamma) psi + h (theta + gamma g0); for h gamma < 1 it is negative only if
    theta < -gamma g0 - psi (1 - h gamma) / h < -gamma g0. So psi changes sign only where |theta| > gamma g0.
    """
    return sp.expand(psi + h * _on_side(wgan_gp_field()[1], 1))
