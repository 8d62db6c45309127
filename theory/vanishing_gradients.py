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
    "d_star_gradient",
    "crossing_densities_gradient",
    "vanishing_bound_gap",
    "check_tweedie_scores",
    "cauchy_mean_parts",
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


def d_star_gradient(p_r: sp.Expr, p_g: sp.Expr) -> sp.Expr:
    """d/dx D*(x) with D* = p_r / (p_r + p_g), for densities given as expressions in x."""
    return sp.diff(p_r / (p_r + p_g), x)


def _equal_on_open_set(expr: sp.Expr, p_r: sp.Expr, p_g: sp.Expr) -> sp.Expr:
    """Impose p_g = p_r as functions (on an open set): values AND derivatives agree, so substitute the function."""
    return expr.subs(p_g, p_r).doit()


def check_shared_fixed_point() -> bool:
    """Both losses have the same stationary point.

    Per sample, the non-saturating gradient is the saturating one times (1 - D)/D, which is 1 at D = 1/2; and
    the optimal discriminator D* = p_r/(p_r + p_g) is flat (grad_x D* = 0) on any open set where p_g = p_r,
    in particular everywhere when P_g = P_r, so both generator gradients vanish there. (Where the densities
    merely cross, D* need not be flat: see ``crossing_densities_gradient``.)
    """
    dval = sp.Symbol("D", positive=True)
    weight = (1 - dval) / dval
    p_r, p_g = sp.Function("p_r")(x), sp.Function("p_g")(x)
    flat = _equal_on_open_set(d_star_gradient(p_r, p_g), p_r, p_g)
    return weight.subs(dval, sp.Rational(1, 2)) == 1 and sp.simplify(flat) == 0


def crossing_densities_gradient() -> dict[str, sp.Expr]:
    """p_r = N(0, 1) and p_g = N(1, 1) cross at x = 1/2: there p_r = p_g, yet grad_x D* = -1/4, not 0."""
    p_r = sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi)
    p_g = sp.exp(-(x - 1)**2 / 2) / sp.sqrt(2 * sp.pi)
    half = sp.Rational(1, 2)
    return {"density_gap": sp.simplify((p_r - p_g).subs(x, half)),
            "gradient": sp.simplify(d_star_gradient(p_r, p_g).subs(x, half))}


def _theorem_bound(eps: sp.Expr) -> sp.Expr:
    """Theorem 2.4's per-sample factor, eps / (1 - eps)."""
    return eps / (1 - eps)


def _per_sample_factor(d: sp.Expr, d_prime: sp.Expr) -> sp.Expr:
    """|d/dx log(1 - D)| = |D'| / (1 - D) for 0 <= D < 1."""
    return d_prime / (1 - d)


def vanishing_bound_gap() -> dict[str, sp.Expr]:
    """Theorem 2.4's bound minus |D'|/(1 - D), over the whole region 0 <= D <= eps < 1, 0 <= |D'| <= eps.

    The region is parametrised by non-negative symbols, eps = e/(1 + e), D = eps/(1 + u), |D'| = eps/(1 + w)
    (u = w = 0 is the worst case D = |D'| = eps), plus the edge D = 0; each returned gap is factored so that
    sympy can decide its sign.
    """
    e, u, w = sp.symbols("e u w", nonnegative=True)
    eps = e / (1 + e)
    bound = _theorem_bound(eps)
    inside = bound - _per_sample_factor(eps / (1 + u), eps / (1 + w))
    edge = bound - _per_sample_factor(sp.Integer(0), eps / (1 + w))
    return {"inside": sp.factor(sp.simplify(inside)), "edge": sp.factor(sp.simplify(edge)),
            "worst_case": sp.simplify(inside.subs({u: 0, w: 0}))}


def check_vanishing_bound_chain() -> bool:
    """The two steps behind Theorem 2.4's bound M eps/(1 - eps).

    (i) d/dtheta log(1 - D(g(theta))) = -D'(g) g'(theta) / (1 - D(g));
    (ii) |D'|/(1 - D) <= eps/(1 - eps) for EVERY 0 <= D <= eps < 1 and |D'| <= eps (``vanishing_bound_gap`` is
    non-negative over the region, and zero at its worst corner D = |D'| = eps).
    """
    dfun, g = sp.Function("D"), sp.Function("g")
    lhs = sp.diff(sp.log(1 - dfun(g(theta))), theta)
    rhs = -sp.diff(dfun(g(theta)), theta) / (1 - dfun(g(theta)))
    gaps = vanishing_bound_gap()
    holds = gaps["inside"].is_nonnegative is True and gaps["edge"].is_nonnegative is True
    return sp.simplify(lhs - rhs) == 0 and holds and gaps["worst_case"] == 0


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


def _score(density: sp.Expr) -> sp.Expr:
    """d/dx log density."""
    return sp.diff(sp.log(density), x)


def _posterior_mean(atoms, density: sp.Expr) -> sp.Expr:
    """E[Y | Y + eps = x] for Y ~ sum_i w_i delta(y_i) and eps ~ N(0, sigma^2): the kernel-weighted mean."""
    return sum(w * _gauss(x - y) * y for w, y in atoms) / density


def check_tweedie_scores(n_real: int = 2, n_fake: int = 2) -> bool:
    """Tweedie's formula and the instance-noise gradient as a difference of two smoothed scores.

    (i) sigma^2 d/dx log p_sigma(x) = E[Y | x] - x for a noised point-mass mixture (Tweedie; Efron 2011);
    (ii) hence d/dx log(1 - D*) = D* (m_g - m_r)/sigma^2 = D* (score_g - score_r): the mean-shift form of
    Theorem 3.2 is the difference of the scores of the noised model and data, weighted by D*.
    """
    real, p_r = _noised_point_masses("w", "r", n_real)
    fake, p_g = _noised_point_masses("v", "g", n_fake)
    tweedie = all(is_exactly_zero(sigma**2 * _score(p) - (_posterior_mean(atoms, p) - x))
                  for atoms, p in ((real, p_r), (fake, p_g)))
    d_star = p_r / (p_r + p_g)
    lhs = sp.diff(sp.log(p_g / (p_r + p_g)), x)
    return tweedie and is_exactly_zero(lhs - d_star * (_score(p_g) - _score(p_r)))


def _cauchy_density(u):
    """The standard Cauchy density 1 / (pi (1 + u^2))."""
    return 1 / (sp.pi * (1 + u**2))


def cauchy_mean_parts() -> dict[str, sp.Expr]:
    """The positive and negative parts of E[X], and E[X^2], for X standard Cauchy (Theorem 2.6's law).

    E[X] = int_0^oo x f(x) dx - int_0^oo x f(-x) dx = +oo - oo: the mean does not exist (it is undefined, not
    infinite); E[X^2] = +oo, so the second moment is infinite and the variance is undefined.
    """
    u = sp.Symbol("u", positive=True)
    return {"positive_part": sp.integrate(u * _cauchy_density(u), (u, 0, sp.oo)),
            "negative_part": -sp.integrate(u * _cauchy_density(-u), (u, 0, sp.oo)),
            "second_moment": 2 * sp.integrate(u**2 * _cauchy_density(u), (u, 0, sp.oo))}
