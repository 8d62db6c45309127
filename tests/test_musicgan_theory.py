"""The music GAN chapter's identities, checked symbolically (theory/music_gan.py)."""
import sympy as sp

from theory import music_gan as T


def test_frechet_distance_of_1d_gaussians_is_the_closed_form():
    m1, m2 = sp.symbols("m1 m2", real=True)
    s1, s2 = sp.symbols("s1 s2", positive=True)
    assert sp.simplify(T.frechet_1d(m1, s1, m2, s2) - T.frechet_1d_closed_form(m1, s1, m2, s2)) == 0
    wrong = (m1 - m2) ** 2 + (s1**2 - s2**2)                               # variances instead of deviations
    assert sp.simplify(T.frechet_1d(m1, s1, m2, s2) - wrong) != 0


def test_two_proportion_z_test_is_pearsons_chi_square():
    c1, c2, n1, n2 = sp.symbols("c1 c2 n1 n2", positive=True)
    assert sp.simplify(T.z_squared(c1, n1, c2, n2) - T.pearson_chi_square(c1, n1, c2, n2)) == 0
    unpooled = (c1 / n1 - c2 / n2) ** 2 / (c1 / n1 * (1 - c1 / n1) / n1 + c2 / n2 * (1 - c2 / n2) / n2)
    assert sp.simplify(unpooled - T.pearson_chi_square(c1, n1, c2, n2)) != 0
