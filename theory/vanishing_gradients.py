"""Symbolic statements behind the chapter on diminished gradients (book/vanishing_gradients.md).

Every public ``check_*`` function returns ``True`` when its identity holds, so the tests can assert it and the
page can print it. The notation follows the page:

- ``l`` is the discriminator's logit on a generated sample and ``D = sigmoid(l)``;
- the *saturating* generator loss is ``log(1 - D)`` (minimised), the *non-saturating* one is ``-log D``;
- ``p_r``, ``p_g`` are densities of the (noised) data and model distributions, ``D* = p_r / (p_r + p_g)``.

Theorem numbers refer to Arjovsky & Bottou (2017), "Towards Principled Methods for Training GANs".
"""
from __future__ import annotations

import sympy as sp

__all__ = [
    "logit_derivatives",
    "check_logit_derivatives",
    "logit_derivative_limits",
    "check_limits_as_d_vanishes",
    "check_parameter_derivatives",
    "check_shared_fixed_point",
    "check_vanishing_bound_chain",
    "check_minus_log_d_decomposition",
    "instance_noise_gradient_residual",
    "check_instance_noise_gradient",
    "check_instance_noise_gradient_as_mean_shift",
    "check_noised_js_derivative",
    "check_point_mass_generator_gradient",
    "is_exactly_zero",
    "gaussian_fisher_information",
]

l, x, theta = sp.symbols("l x theta", real=True)
sigma = sp.symbols("sigma", positive=True)


def _sigmoid(t):
    return 1 / (1 + sp.exp(-t))


def logit_derivatives() -> dict[str, sp.Expr]:
    """Derivatives of the two generator losses with respect to the discriminator's logit ``l``."""
    d = _sigmoid(l)
    return {"saturating": sp.diff(sp.log(1 - d), l), "non_saturating": sp.diff(-sp.log(d), l)}


def check_logit_derivatives() -> bool:
    """d/dl log(1 - D) = -D and d/dl (-log D) = -(1 - D), with D = sigmoid(l)."""
    d = _sigmoid(l)
    grads = logit_derivatives()
    return (sp.simplify(grads["saturating"] + d) == 0
            and sp.simplify(grads["non_saturating"] + (1 - d)) == 0)


def logit_derivative_limits() -> dict[str, sp.Expr]:
    """Limits as the discriminator wins, D(G(z)) -> 0, i.e. l -> -oo: the two derivatives and their ratio."""
    grads = logit_derivatives()
    return {
        "saturating": sp.limit(grads["saturating"], l, -sp.oo),
        "non_saturating": sp.limit(grads["non_saturating"], l, -sp.oo),
        "ratio_ns_over_sat": sp.limit(grads["non_saturating"] / grads["saturating"], l, -sp.oo),
    }


def check_limits_as_d_vanishes() -> bool:
    """The saturating derivative tends to 0, the non-saturating one to -1; their ratio (1 - D)/D diverges."""
    lims = logit_derivative_limits()
    d = _sigmoid(l)
    ratio = sp.simplify(logit_derivatives()["non_saturating"] / logit_derivatives()["saturating"])
    return (lims["saturating"] == 0 and lims["non_saturating"] == -1 and lims["ratio_ns_over_sat"] == sp.oo
            and sp.simplify(ratio - (1 - d) / d) == 0)


def check_parameter_derivatives() -> bool:
    """Chain rule through a generator x = g(theta) and a logit f(x):

    d/dtheta log(1 - D(g)) = -D f'(g) g'(theta),   d/dtheta (-log D(g)) = -(1 - D) f'(g) g'(theta).
    """
    f, g = sp.Function("f"), sp.Function("g")
    logit = f(g(theta))
    d = _sigmoid(logit)
    chain = sp.diff(logit, theta)  # f'(g(theta)) g'(theta)
    sat = sp.diff(sp.log(1 - d), theta)
    ns = sp.diff(-sp.log(d), theta)
    return sp.simplify(sat + d * chain) == 0 and sp.simplify(ns + (1 - d) * chain) == 0


def check_shared_fixed_point() -> bool:
    """Both losses have the same stationary point.

    Per sample, the non-saturating gradient is the saturating one times (1 - D)/D, which is 1 at D = 1/2; and
    the optimal discriminator D* = p_r/(p_r + p_g) is flat (grad_x D* = 0) wherever p_g = p_r, so both
    generator gradients vanish at P_g = P_r.
    """
    dval = sp.Symbol("D", positive=True)
    weight = (1 - dval) / dval
    p_r, p_g = sp.Function("p_r"), sp.Function("p_g")
    d_star = p_r(x) / (p_r(x) + p_g(x))
    flat = sp.diff(d_star, x).subs(p_g(x), p_r(x)).doit()
    return weight.subs(dval, sp.Rational(1, 2)) == 1 and sp.simplify(flat) == 0


def check_vanishing_bound_chain() -> bool:
    """The two steps behind Theorem 2.4's bound M eps/(1 - eps).

    (i) d/dtheta log(1 - D(g(theta))) = -D'(g) g'(theta) / (1 - D(g));
    (ii) |D'|/(1 - D) <= eps/(1 - eps) when 0 <= D <= eps < 1 and |D'| <= eps, because 1/(1 - D) increases in D.
    """
    dfun, g = sp.Function("D"), sp.Function("g")
    lhs = sp.diff(sp.log(1 - dfun(g(theta))), theta)
    rhs = -sp.diff(dfun(g(theta)), theta) / (1 - dfun(g(theta)))
    dval, eps = sp.symbols("D epsilon", positive=True)
    increasing = sp.simplify(sp.diff(1 / (1 - dval), dval) - 1 / (1 - dval) ** 2) == 0
    at_worst = sp.simplify((eps / (1 - dval)).subs(dval, eps) - eps / (1 - eps)) == 0
    return sp.simplify(lhs - rhs) == 0 and increasing and at_worst


def check_minus_log_d_decomposition() -> bool:
    """Integrand form of Theorem 2.5: with m = (p_r + p_g)/2 and D* = p_r/(p_r + p_g),

    p_g (-log D*) = [p_g log(p_g/p_r)] - 2 * [jsd integrand] + p_g log 2 + p_r log(2 p_r/(p_r + p_g)),

    so E_{P_g}[-log D*] = KL(P_g||P_r) - 2 JS(P_g, P_r) + (terms whose theta-gradient vanishes with D* frozen).
    """
    pr, pg = sp.symbols("p_r p_g", positive=True)
    m = (pr + pg) / 2
    jsd_integrand = (pr * sp.log(pr / m) + pg * sp.log(pg / m)) / 2
    lhs = pg * -sp.log(pr / (pr + pg))
    rhs = pg * sp.log(pg / pr) - 2 * jsd_integrand + pg * sp.log(2) + pr * sp.log(2 * pr / (pr + pg))
    return sp.simplify(sp.expand_log(lhs - rhs, force=True)) == 0


def _gauss(u):
    return sp.exp(-u**2 / (2 * sigma**2)) / sp.sqrt(2 * sp.pi * sigma**2)


def _noised_point_masses(weight_name: str, location_name: str, n: int):
    """n point masses with symbolic weights and locations, convolved with N(0, sigma^2): (atoms, density)."""
    weights = sp.symbols(f"{weight_name}0:{n}", positive=True)
    locations = sp.symbols(f"{location_name}0:{n}", real=True)
    atoms = list(zip(weights, locations))
    return atoms, sum(w * _gauss(x - y) for w, y in atoms)


def instance_noise_gradient_residual(n_real: int = 2, n_fake: int = 2, *, a_scale=2) -> sp.Expr:
    """Theorem 3.2 in one dimension: grad_x log(1 - D*(x)) minus its claimed form, for point-mass mixtures.

    P_r = sum_i w_i delta(r_i) and P_g = sum_j v_j delta(g_j), both convolved with N(0, sigma^2). The claim is
    grad_x log(1 - D*) = a * sum_i w_i phi(x - r_i) d/dx (x - r_i)^2 - b * sum_j v_j phi(x - g_j) d/dx (x - g_j)^2
    with a = 1/(a_scale sigma^2 (p_r + p_g)) and b = a p_r / p_g. The residual simplifies to 0 for the
    paper's a_scale = 2 only; the chain rule to theta multiplies both sides by the same Jacobian.
    """
    real, p_r = _noised_point_masses("w", "r", n_real)
    fake, p_g = _noised_point_masses("v", "g", n_fake)
    lhs = sp.diff(sp.log(p_g / (p_r + p_g)), x)  # 1 - D* = p_g / (p_r + p_g)
    a = 1 / (a_scale * sigma**2 * (p_r + p_g))
    b = a * p_r / p_g
    pull = sum(w * _gauss(x - y) * sp.diff((x - y) ** 2, x) for w, y in real)
    push = sum(w * _gauss(x - y) * sp.diff((x - y) ** 2, x) for w, y in fake)
    return lhs - (a * pull - b * push)


def is_exactly_zero(expr: sp.Expr) -> bool:
    """Exact zero test for sums of Gaussians: clear denominators, merge exponentials, expand."""
    numerator = sp.numer(sp.together(expr))
    return sp.expand(sp.powsimp(sp.expand(numerator))) == 0


def check_instance_noise_gradient() -> bool:
    """Theorem 3.2's form holds with a = 1/(2 sigma^2 (p_r + p_g)), b = a p_r/p_g; b > a exactly where p_r > p_g."""
    pr, pg, a = sp.symbols("p_r p_g a", positive=True)
    b_minus_a = a * pr / pg - a
    sign_ok = sp.simplify(b_minus_a - a * (pr - pg) / pg) == 0
    return is_exactly_zero(instance_noise_gradient_residual()) and sign_ok


def check_instance_noise_gradient_as_mean_shift(n_real: int = 2, n_fake: int = 2) -> bool:
    """Theorem 3.2 rewritten: grad_x log(1 - D*(x)) = D*(x) (m_g(x) - m_r(x)) / sigma^2.

    m_r(x) (m_g(x)) is the mean of the data (model) points weighted by the noise density P_eps(x - y): the
    generator's descent direction D* (m_r - m_g)/sigma^2 points towards nearby data and away from nearby
    generated points. Checked for 1-D point-mass mixtures, as in ``instance_noise_gradient_residual``.
    """
    real, p_r = _noised_point_masses("w", "r", n_real)
    fake, p_g = _noised_point_masses("v", "g", n_fake)
    m_r = sum(w * _gauss(x - y) * y for w, y in real) / p_r
    m_g = sum(w * _gauss(x - y) * y for w, y in fake) / p_g
    lhs = sp.diff(sp.log(p_g / (p_r + p_g)), x)
    return is_exactly_zero(lhs - p_r / (p_r + p_g) * (m_g - m_r) / sigma**2)


def check_noised_js_derivative() -> bool:
    """d/dtheta JS(P, Q_theta) = 1/2 * integral of (d q/d theta) log(2 q/(p + q)).

    The theta-derivative of the JS integrand is (dq/dtheta) * [1/2 log(2q/(p+q))] + (dq/dtheta) * 0: the extra
    terms cancel pointwise, and nothing is lost because the integral of dq/dtheta is zero.
    """
    p, q = sp.symbols("p q", positive=True)
    m = (p + q) / 2
    integrand = (p * sp.log(p / m) + q * sp.log(q / m)) / 2
    return sp.simplify(sp.diff(integrand, q) - sp.log(2 * q / (p + q)) / 2) == 0


def check_point_mass_generator_gradient() -> bool:
    """For noised point masses p = N(0, sigma^2), q = N(theta, sigma^2): d/dx log(1 - D*(x)) = theta D*(x)/sigma^2.

    Evaluated at x = theta this is Theorem 3.2's a(z) * P_eps(theta - 0) * d/dtheta theta^2 (the model term is
    zero because d/dtheta ||theta - y||^2 vanishes at y = theta).
    """
    p, q = _gauss(x), _gauss(x - theta)
    d_star = p / (p + q)
    lhs = sp.diff(sp.log(1 - d_star), x)
    theorem_form = (1 / (2 * sigma**2 * (p + q)) * p * sp.diff(theta**2, theta)).subs(x, theta)
    return (is_exactly_zero(lhs - theta * d_star / sigma**2)
            and is_exactly_zero(lhs.subs(x, theta) - theorem_form))


def gaussian_fisher_information() -> sp.Expr:
    """Fisher information of N(theta, sigma^2) in theta, which sets JS ~ theta^2/(8 sigma^2) for small theta."""
    q = _gauss(x - theta)
    return sp.simplify(sp.integrate(sp.diff(q, theta) ** 2 / q, (x, -sp.oo, sp.oo)))
