"""Symbolic statements of the music GAN chapter (book/music_gan.md).

Why the non-saturating loss keeps the generator's gradient alive, why the R1 penalty turns the rotation
of the Dirac GAN into a spiral towards the equilibrium, and the two
identities the evaluation relies on: the Frechet distance of 1-D Gaussians and the equivalence of the
two-proportion z-test with Pearson's chi-square test. ``tests/test_musicgan_theory.py`` asserts that each
simplifies as the chapter claims and that deliberately wrong variants do not.
"""
from __future__ import annotations

import sympy as sp

__all__ = ["logit", "sigmoid", "saturating_grad", "non_saturating_grad", "dirac_gan_jacobian",
           "dirac_gan_eigenvalues", "frechet_1d", "frechet_1d_closed_form",
           "z_squared", "pearson_chi_square"]

logit = sp.symbols("l", real=True)                 # D's logit on a generated clip
gamma, slope = sp.symbols("gamma f1", positive=True)   # R1 weight; f'(0) of the Dirac GAN's loss


def sigmoid(x) -> sp.Expr:
    return 1 / (1 + sp.exp(-x))


def saturating_grad(l_=logit) -> sp.Expr:
    """d/dl of the generator's original loss log(1 - sigmoid(l)): -sigmoid(l), which vanishes as l -> -inf."""
    return sp.diff(sp.log(1 - sigmoid(l_)), l_)


def non_saturating_grad(l_=logit) -> sp.Expr:
    """d/dl of the non-saturating loss -log sigmoid(l): sigmoid(l) - 1, which tends to -1 as l -> -inf."""
    return sp.diff(-sp.log(sigmoid(l_)), l_)


def dirac_gan_jacobian(r1_weight=gamma) -> sp.Matrix:
    """Jacobian at (theta, psi) = (0, 0) of the simultaneous gradient field of the Dirac GAN with R1.

    Data at 0, generator at theta, discriminator D(x) = psi x, payoff f(psi theta) (Mescheder et al. 2018),
    f any smooth function with f'(0) = f1 > 0 (here a general cubic). G descends f; D ascends
    f - (gamma / 2) psi^2, the R1 penalty, since ||grad_x D(x)||^2 = psi^2.
    """
    theta, psi, t = sp.symbols("theta psi t", real=True)
    f0, f2, f3 = sp.symbols("f0 f2 f3", real=True)
    f = sp.Lambda(t, f0 + slope * t + f2 * t**2 / 2 + f3 * t**3 / 6)
    payoff = f(psi * theta)
    field = sp.Matrix([-sp.diff(payoff, theta), sp.diff(payoff - r1_weight / 2 * psi**2, psi)])
    return field.jacobian([theta, psi]).subs({theta: 0, psi: 0})


def dirac_gan_eigenvalues(r1_weight=gamma) -> list[sp.Expr]:
    """Eigenvalues of :func:`dirac_gan_jacobian`: (-gamma +- sqrt(gamma^2 - 4 f1^2)) / 2."""
    return list(dirac_gan_jacobian(r1_weight).eigenvals())


def frechet_1d(m1, s1, m2, s2) -> sp.Expr:
    """The Frechet distance formula of the chapter for 1-D Gaussians N(m1, s1^2), N(m2, s2^2)."""
    return (m1 - m2) ** 2 + s1**2 + s2**2 - 2 * sp.sqrt(s1**2 * s2**2)


def frechet_1d_closed_form(m1, s1, m2, s2) -> sp.Expr:
    """The squared 2-Wasserstein distance of two 1-D Gaussians: (m1 - m2)^2 + (s1 - s2)^2."""
    return (m1 - m2) ** 2 + (s1 - s2) ** 2


def z_squared(c1, n1, c2, n2) -> sp.Expr:
    """Square of the pooled two-proportion z statistic for c1 of n1 against c2 of n2 (NDB's test)."""
    p1, p2, p = c1 / n1, c2 / n2, (c1 + c2) / (n1 + n2)
    return (p1 - p2) ** 2 / (p * (1 - p) * (1 / n1 + 1 / n2))


def pearson_chi_square(c1, n1, c2, n2) -> sp.Expr:
    """Pearson's chi-square statistic of the 2 x 2 table [[c1, n1 - c1], [c2, n2 - c2]]."""
    table = [[c1, n1 - c1], [c2, n2 - c2]]
    rows, cols, total = [n1, n2], [c1 + c2, n1 + n2 - c1 - c2], n1 + n2
    return sum((table[i][j] - rows[i] * cols[j] / total) ** 2 / (rows[i] * cols[j] / total)
               for i in range(2) for j in range(2))
