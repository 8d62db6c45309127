"""Symbolic statements of the music GAN chapter (book/music_gan.md).

The two identities the evaluation relies on: the Frechet distance of 1-D Gaussians is the squared
2-Wasserstein distance (m1 - m2)^2 + (s1 - s2)^2, and the pooled two-proportion z-test of NDB is Pearson's
chi-square test of the 2 x 2 table. (The chapter's arguments for the non-saturating loss and R1 reuse
``theory.vanishing_gradients`` and ``theory.dirac_gan``.) ``tests/test_musicgan_theory.py`` asserts that each
simplifies as the chapter claims and that deliberately wrong variants do not.
"""
from __future__ import annotations

import sympy as sp

__all__ = ["frechet_1d", "frechet_1d_closed_form", "z_squared", "pearson_chi_square"]

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
