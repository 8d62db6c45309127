"""Simulation 2 of the chapter on diminished gradients: Jensen-Shannon divergence after instance noise.

Without noise, the data delta_0 and the model delta_theta (or the parallel segments {0} x [0, 1] and
{theta} x [0, 1]) have disjoint supports for every theta != 0, so JS = log 2 and its gradient is zero. Convolved
with N(0, sigma^2 I) they become N(0, sigma^2) and N(theta, sigma^2) (times a common factor along the segments,
which cancels in every density ratio), and JS varies smoothly with theta.

Two routes that share no code:

- ``noised_js_points`` / ``noised_js_derivative_points``: 1-D adaptive quadrature (scipy.integrate.quad);
- ``noised_js_segments_mc``: Monte Carlo in 2-D on the segments, with each noised density estimated from
  Theorem 3.1 of Arjovsky & Bottou, P_{X+eps}(x) = E_{y~P_X}[P_eps(x - y)], by kernel points on the segment.

``generator_gradient_points_mc`` is the gradient the generator receives from the noised optimal discriminator
(Corollary 3.2): E_eps[d/dx log(1 - D*(x))] at x = theta + eps, which should equal 2 dJS/dtheta.
"""
from __future__ import annotations

import numpy as np
from scipy import integrate, special

from sims.checks import check_int, check_positive
from sims.seeding import as_generator

__all__ = [
    "noised_js_points",
    "noised_js_derivative_points",
    "noised_js_segments_mc",
    "optimal_discriminator_points",
    "generator_gradient_points_mc",
]


def _gauss_logpdf(x, mean: float, sigma: float):
    # Written out rather than scipy.stats.norm.logpdf: quad calls this thousands of times per theta.
    return -0.5 * ((x - mean) / sigma) ** 2 - np.log(sigma * np.sqrt(2 * np.pi))


def _log_ratio_half(x, theta: float, sigma: float, own_mean: float):
    """log(2 p_own / (p + q)) for p = N(0, sigma^2), q = N(theta, sigma^2), written without under/overflow."""
    log_p, log_q = _gauss_logpdf(x, 0.0, sigma), _gauss_logpdf(x, theta, sigma)
    log_own = log_p if own_mean == 0.0 else log_q
    return np.log(2.0) + log_own - np.logaddexp(log_p, log_q)


def _quad(fun, sigma: float, theta: float) -> float:
    # Both densities live within ~12 sigma of {0, theta}; the breakpoints keep quad from missing either bump.
    lo, hi = min(0.0, theta) - 12 * sigma, max(0.0, theta) + 12 * sigma
    value, _ = integrate.quad(fun, lo, hi, points=sorted({0.0, theta}), limit=200, epsabs=1e-12, epsrel=1e-10)
    return value


def noised_js_points(theta, sigma: float) -> np.ndarray:
    """JS(N(0, sigma^2), N(theta, sigma^2)) in nats, by quadrature; ``theta`` scalar or 1-D array."""
    sigma = check_positive(sigma, "sigma")
    thetas = np.atleast_1d(np.asarray(theta, dtype=float))
    out = []
    for th in thetas:
        half_p = _quad(lambda x: np.exp(_gauss_logpdf(x, 0.0, sigma)) * _log_ratio_half(x, th, sigma, 0.0), sigma, th)
        half_q = _quad(lambda x: np.exp(_gauss_logpdf(x, th, sigma)) * _log_ratio_half(x, th, sigma, th), sigma, th)
        out.append(0.5 * (half_p + half_q))
    return np.asarray(out)


def noised_js_derivative_points(theta, sigma: float) -> np.ndarray:
    """dJS/dtheta = 1/2 * integral of dq/dtheta * log(2q/(p+q)) dx, with dq/dtheta = q (x - theta)/sigma^2."""
    sigma = check_positive(sigma, "sigma")
    thetas = np.atleast_1d(np.asarray(theta, dtype=float))
    out = []
    for th in thetas:
        dq = lambda x, th=th: np.exp(_gauss_logpdf(x, th, sigma)) * (x - th) / sigma**2  # noqa: E731
        out.append(0.5 * _quad(lambda x: dq(x) * _log_ratio_half(x, th, sigma, th), sigma, th))
    return np.asarray(out)


def _segment_density(points: np.ndarray, kernel_points: np.ndarray, sigma: float) -> np.ndarray:
    """Theorem 3.1 by Monte Carlo: mean over kernel points y_k of the N(0, sigma^2 I) density at x - y_k."""
    sq = ((points[:, None, :] - kernel_points[None, :, :]) ** 2).sum(-1)        # (n_points, n_kernel)
    return np.exp(-sq / (2 * sigma**2)).mean(axis=1) / (2 * np.pi * sigma**2)


def noised_js_segments_mc(theta: float, sigma: float, *, n_samples: int = 2000, n_kernel: int = 2000,
                          rng=0) -> tuple[float, float]:
    """JS between the noised segments {0} x [0,1] and {theta} x [0,1] by 2-D Monte Carlo: (estimate, std error).

    JS = 1/2 E_{x~P}[log 2p/(p+q)] + 1/2 E_{x~Q}[log 2q/(p+q)]; the noised densities p, q come from Theorem 3.1
    with ``n_kernel`` uniform points on the segment; samples and kernel points are drawn from ``rng``.
    """
    sigma = check_positive(sigma, "sigma")
    check_int(n_samples, "n_samples", low=2)
    check_int(n_kernel, "n_kernel", low=1)
    rng = as_generator(rng)

    def segment(offset: float, n: int) -> np.ndarray:
        return np.column_stack([np.full(n, offset), rng.uniform(0.0, 1.0, n)])

    # The same kernel heights for both segments (common random numbers): the y-factor of the two noised
    # densities is then estimated identically and cancels in p/q, as it does exactly.
    kernel_p = segment(0.0, n_kernel)
    kernel_q = kernel_p + np.array([theta, 0.0])
    terms = []
    for offset in (0.0, theta):
        x = segment(offset, n_samples) + sigma * rng.standard_normal((n_samples, 2))
        p, q = _segment_density(x, kernel_p, sigma), _segment_density(x, kernel_q, sigma)
        own = p if offset == 0.0 else q
        terms.append(np.log(2 * own / (p + q)))
    estimate = 0.5 * (terms[0].mean() + terms[1].mean())
    std_error = 0.5 * np.sqrt(terms[0].var(ddof=1) / n_samples + terms[1].var(ddof=1) / n_samples)
    return float(estimate), float(std_error)


def optimal_discriminator_points(x, theta: float, sigma: float) -> np.ndarray:
    """D*(x) = p/(p + q) for p = N(0, sigma^2), q = N(theta, sigma^2): a logistic function of x."""
    sigma = check_positive(sigma, "sigma")
    return special.expit((theta**2 - 2 * theta * np.asarray(x, dtype=float)) / (2 * sigma**2))


def generator_gradient_points_mc(theta: float, sigma: float, *, n_samples: int = 20000,
                                 rng=0) -> tuple[float, float]:
    """E_eps[d/dx log(1 - D*(x))] at x = theta + eps, eps ~ N(0, sigma^2), by Monte Carlo: (mean, std error).

    For two Gaussians d/dx log(1 - D*(x)) = theta D*(x) / sigma^2 (checked symbolically in theory/), so the
    generator is pulled towards the data with a force proportional to how often D* would mistake its samples.
    """
    sigma = check_positive(sigma, "sigma")
    check_int(n_samples, "n_samples", low=2)
    x = theta + sigma * as_generator(rng).standard_normal(n_samples)
    values = theta * optimal_discriminator_points(x, theta, sigma) / sigma**2
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(n_samples))
