"""The music GAN chapter's identities, checked symbolically (theory/music_gan.py)."""
import sympy as sp

from theory import music_gan as T


def test_non_saturating_gradient_survives_where_the_saturating_one_vanishes():
    l = T.logit
    assert sp.simplify(T.saturating_grad() + T.sigmoid(l)) == 0
    assert sp.simplify(T.non_saturating_grad() - (T.sigmoid(l) - 1)) == 0
    assert sp.limit(T.saturating_grad(), l, -sp.oo) == 0
    assert sp.limit(T.non_saturating_grad(), l, -sp.oo) == -1
    assert sp.simplify(T.saturating_grad() - (T.sigmoid(l) - 1)) != 0      # the two are not the same


def test_r1_turns_the_dirac_gan_rotation_into_a_contraction():
    g, f1 = T.gamma, T.slope
    assert T.dirac_gan_jacobian() == sp.Matrix([[0, -f1], [f1, -g]])
    without = T.dirac_gan_eigenvalues(0)
    assert {sp.re(e) for e in without} == {0}                              # pure rotation: no convergence
    assert {sp.simplify(e) for e in without} == {sp.I * f1, -sp.I * f1}
    for e in T.dirac_gan_eigenvalues():
        # real part is -gamma/2 when gamma < 2 f1 and negative on both branches otherwise
        assert sp.simplify(sp.re(e.subs({g: 1, f1: 3}))) == sp.Rational(-1, 2)
        assert sp.re(e.subs({g: 10, f1: 3})).evalf() < 0
    assert sp.expand(sum(T.dirac_gan_eigenvalues())) == -g                 # trace: -gamma


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
