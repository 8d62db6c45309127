"""The optimal discriminator of 1-D distributions, and the value V(G, D*) by quadrature and Monte Carlo.

A :class:`Density1D` is a finite mixture of scipy distributions. For a pair (p_data, p_G) the module
computes D* = p_data / (p_data + p_G) in log space (so nearly disjoint supports do not underflow),
C(G) = V(G, D*) by adaptive quadrature, the Jensen-Shannon divergence by two other routes (entropies,
and KL divergences to the midpoint mixture), and Monte Carlo estimates of V(G, D*) with their
standard errors. ``book/optimal_discriminator.md`` compares the routes.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import integrate, special, stats

from sims.checks import check_choice, check_finite, check_int, check_positive, check_probabilities
from sims.seeding import as_generator

__all__ = [
    "Density1D",
    "gaussian",
    "uniform",
    "mixture",
    "log_optimal_discriminator",
    "optimal_discriminator",
    "union_span",
    "integrate_over_pair",
    "value_at_optimum",
    "value_on_grid",
    "entropy",
    "kl_divergence",
    "js_divergence",
    "js_divergence_kl_form",
    "monte_carlo_value",
    "monte_carlo_estimates",
    "monte_carlo_sample_std",
]

TAIL_MASS = 1e-16  # quadrature ignores this much mass in each tail of each component
GAUSS_NODES = 40  # per panel; panels are narrow, so the rule is exact to rounding for smooth pieces
QUAD_OPTIONS = {"epsabs": 1e-13, "epsrel": 1e-12, "limit": 500}


@dataclass(frozen=True)
class Density1D:
    """A mixture sum_k weights[k] * components[k] of frozen continuous scipy distributions."""

    weights: tuple[float, ...]
    components: tuple
    name: str = ""

    def __post_init__(self):
        check_probabilities(self.weights, "weights")
        if len(self.weights) != len(self.components):
            raise ValueError(f"weights has {len(self.weights)} entries but components has "
                             f"{len(self.components)}")

    def logpdf(self, x) -> np.ndarray:
        """log density at ``x`` (any shape); -inf outside the support."""
        x = np.asarray(x, dtype=float)
        logs = [np.log(w) + c.logpdf(x) for w, c in zip(self.weights, self.components)]
        return special.logsumexp(np.stack(logs), axis=0)

    def pdf(self, x) -> np.ndarray:
        return np.exp(self.logpdf(x))

    def sample(self, n: int, rng) -> np.ndarray:
        """``n`` independent draws, shape (n,), using the numpy Generator (or seed) ``rng``."""
        n = check_int(n, "n", low=0)
        rng = as_generator(rng)
        which = rng.choice(len(self.weights), size=n, p=np.asarray(self.weights))
        out = np.empty(n)
        for k, comp in enumerate(self.components):
            chosen = which == k
            out[chosen] = comp.rvs(size=int(chosen.sum()), random_state=rng)
        return out

    def span(self) -> tuple[float, float]:
        """An interval outside which each component holds at most TAIL_MASS of its mass."""
        return (min(c.ppf(TAIL_MASS) for c in self.components),
                max(c.isf(TAIL_MASS) for c in self.components))

    def breakpoints(self) -> list[float]:
        """Support ends and centres of the components: where quadrature should split its interval."""
        points = []
        for c in self.components:
            points += [c.support()[0], c.support()[1], c.median()]
        return [float(v) for v in points if np.isfinite(v)]


def gaussian(mean: float, std: float, name: str = "") -> Density1D:
    return Density1D((1.0,), (stats.norm(mean, check_positive(std, "std")),), name)


def uniform(low: float, high: float, name: str = "") -> Density1D:
    check_positive(high - low, "high - low")
    return Density1D((1.0,), (stats.uniform(low, high - low),), name)


def mixture(densities: list[Density1D], weights, name: str = "") -> Density1D:
    """The mixture sum_j weights[j] * densities[j], flattened into one Density1D."""
    weights = check_probabilities(weights, "weights")
    flat_w = [w * v for w, d in zip(weights, densities) for v in d.weights]
    flat_c = [c for d in densities for c in d.components]
    keep = [i for i, w in enumerate(flat_w) if w > 0]
    return Density1D(tuple(flat_w[i] for i in keep), tuple(flat_c[i] for i in keep), name)


def log_optimal_discriminator(p: Density1D, q: Density1D, x) -> tuple[np.ndarray, np.ndarray]:
    """(log D*(x), log(1 - D*(x))) with D* = p / (p + q), computed without forming p / (p + q).

    Where both densities vanish D* is arbitrary (it does not enter V); we return log(1/2) there.
    """
    log_p, log_q = p.logpdf(x), q.logpdf(x)
    log_sum = np.logaddexp(log_p, log_q)
    nowhere = np.isneginf(log_sum)
    with np.errstate(invalid="ignore"):
        log_d = np.where(nowhere, -np.log(2.0), log_p - log_sum)
        log_1md = np.where(nowhere, -np.log(2.0), log_q - log_sum)
    return log_d, log_1md


def optimal_discriminator(p: Density1D, q: Density1D, x) -> np.ndarray:
    """D*(x) = p_data(x) / (p_data(x) + p_G(x)), the answer to question (a)."""
    return np.exp(log_optimal_discriminator(p, q, x)[0])


def _times_log(weight: np.ndarray, log_value: np.ndarray) -> np.ndarray:
    """weight * log_value with the convention 0 * log 0 = 0 (a density that vanishes contributes nothing)."""
    with np.errstate(invalid="ignore"):
        return np.where(weight > 0, weight * log_value, 0.0)


def union_span(p: Density1D, q: Density1D) -> tuple[float, float]:
    """The smallest interval holding the spans of both p and q."""
    (lo_p, hi_p), (lo_q, hi_q) = p.span(), q.span()
    return min(lo_p, lo_q), max(hi_p, hi_q)


def integrate_over_pair(integrand: Callable[[np.ndarray], np.ndarray], p: Density1D, q: Density1D,
                        method: str = "gauss") -> float:
    """Integral of a vectorised ``integrand`` over the union of the spans of p and q.

    The interval is cut at every breakpoint (a kink or a jump then sits on a piece's end), and
    ``method`` picks the rule on each piece: "gauss", composite Gauss-Legendre with panels no wider
    than half the narrowest component's standard deviation (one vectorised call, fast), or
    "adaptive", scipy's QUADPACK (independent, slow). The tests check that the two agree.
    """
    check_choice(method, "method", ("gauss", "adaptive"))
    lo, hi = union_span(p, q)
    cuts = np.array(sorted({lo, hi, *(v for v in p.breakpoints() + q.breakpoints() if lo < v < hi)}))
    if method == "adaptive":
        return float(sum(integrate.quad(integrand, u, v, **QUAD_OPTIONS)[0] for u, v in zip(cuts, cuts[1:])))
    panel = 0.5 * min(float(c.std()) for c in p.components + q.components)
    n_panels = np.maximum(np.ceil(np.diff(cuts) / panel).astype(int), 1)
    edges = np.concatenate([np.linspace(u, v, k + 1)[:-1] for u, v, k in zip(cuts, cuts[1:], n_panels)]
                           + [cuts[-1:]])
    nodes, weights = np.polynomial.legendre.leggauss(GAUSS_NODES)
    half = 0.5 * np.diff(edges)[:, None]  # (n_panels, 1)
    x = (0.5 * (edges[:-1] + edges[1:]))[:, None] + half * nodes  # (n_panels, GAUSS_NODES)
    return float(np.sum(half * weights * integrand(x)))


def value_at_optimum(p: Density1D, q: Density1D, method: str = "gauss") -> float:
    """C(G) = V(G, D*) = integral of p log D* + q log(1 - D*), by quadrature (p = p_data, q = p_G)."""
    def integrand(x):
        log_d, log_1md = log_optimal_discriminator(p, q, x)
        return _times_log(p.pdf(x), log_d) + _times_log(q.pdf(x), log_1md)
    return integrate_over_pair(integrand, p, q, method)


def value_on_grid(p: Density1D, q: Density1D, x, d) -> float:
    """V(G, D) for a discriminator known on the grid ``x`` (shape (n,)) as ``d`` (shape (n,)), trapezoid rule."""
    x, d = check_finite(x, "x"), check_finite(d, "d")
    if np.any(d < 0) or np.any(d > 1):
        raise ValueError("d must lie in [0, 1]")
    with np.errstate(divide="ignore"):  # D = 0 where p_data > 0 gives V = -inf, as it should
        values = _times_log(p.pdf(x), np.log(d)) + _times_log(q.pdf(x), np.log1p(-d))
    return float(integrate.trapezoid(values, x))


def entropy(p: Density1D, method: str = "gauss") -> float:
    """Differential entropy -integral p log p: scipy's closed form for one component, else quadrature."""
    if len(p.components) == 1:
        return float(p.components[0].entropy())
    return -integrate_over_pair(lambda x: _times_log(p.pdf(x), p.logpdf(x)), p, p, method)


def kl_divergence(p: Density1D, q: Density1D, method: str = "gauss") -> float:
    """KL(p || q) = integral p log(p / q) by quadrature; finite only when p is absolutely continuous wrt q."""
    return integrate_over_pair(lambda x: _times_log(p.pdf(x), p.logpdf(x) - q.logpdf(x)), p, q, method)


def js_divergence(p: Density1D, q: Density1D, method: str = "gauss") -> float:
    """JS(p || q) = H(m) - (H(p) + H(q)) / 2 with m = (p + q) / 2: a route that never forms D*."""
    midpoint = mixture([p, q], [0.5, 0.5])
    return entropy(midpoint, method) - 0.5 * (entropy(p, method) + entropy(q, method))


def js_divergence_kl_form(p: Density1D, q: Density1D, method: str = "gauss") -> float:
    """JS(p || q) = (KL(p || m) + KL(q || m)) / 2, the definition."""
    midpoint = mixture([p, q], [0.5, 0.5])
    return 0.5 * (kl_divergence(p, midpoint, method) + kl_divergence(q, midpoint, method))


def _log_d_terms(p: Density1D, q: Density1D, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """log D*(x_i) for x_i ~ p and log(1 - D*(z_i)) for z_i ~ q, each of shape (n,)."""
    x_real, x_fake = p.sample(n, rng), q.sample(n, rng)
    return log_optimal_discriminator(p, q, x_real)[0], log_optimal_discriminator(p, q, x_fake)[1]


def monte_carlo_value(p: Density1D, q: Density1D, n: int, rng) -> tuple[float, float]:
    """Estimate V(G, D*) from n samples of each distribution; returns (estimate, standard error)."""
    n = check_int(n, "n", low=2)
    real_terms, fake_terms = _log_d_terms(p, q, n, rng)
    estimate = real_terms.mean() + fake_terms.mean()
    std_error = np.sqrt((real_terms.var(ddof=1) + fake_terms.var(ddof=1)) / n)
    return float(estimate), float(std_error)


def monte_carlo_sample_std(p: Density1D, q: Density1D) -> float:
    """sqrt(Var_p[log D*] + Var_q[log(1 - D*)]) by quadrature: the Monte Carlo error is this / sqrt(n)."""
    def moment(power: int, of_real: bool) -> float:
        weight = p if of_real else q
        def integrand(x):
            log_term = log_optimal_discriminator(p, q, x)[0 if of_real else 1]
            return _times_log(weight.pdf(x), log_term ** power)
        return integrate_over_pair(integrand, p, q)
    var_real = moment(2, True) - moment(1, True) ** 2
    var_fake = moment(2, False) - moment(1, False) ** 2
    return float(np.sqrt(var_real + var_fake))


def monte_carlo_estimates(p: Density1D, q: Density1D, sizes, repeats: int, rng) -> np.ndarray:
    """Independent Monte Carlo estimates of V(G, D*); shape (len(sizes), repeats), one row per size."""
    repeats = check_int(repeats, "repeats", low=1)
    rng = as_generator(rng)
    sizes = [check_int(int(n), "sizes[i]", low=2) for n in sizes]
    # one draw of the largest total per size, split into repeats, keeps this to len(sizes) calls
    rows = []
    for n in sizes:
        real_terms, fake_terms = _log_d_terms(p, q, n * repeats, rng)
        rows.append(real_terms.reshape(repeats, n).mean(axis=1) + fake_terms.reshape(repeats, n).mean(axis=1))
    return np.array(rows)
