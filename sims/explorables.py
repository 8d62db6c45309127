"""The book's five interactive figures, each a :func:`sims.interactive.explorable` over the project's own modules.

Every number drawn comes from the tested simulation code: the update rules of :mod:`sims.saddle_dynamics` and
:mod:`sims.dirac_gan`, the exact product divergences of :mod:`sims.product_divergences`, the quadrature and
Monte Carlo of :mod:`sims.vanishing_gradients_noise` and the optimal transport of :mod:`sims.wasserstein`.
"""
from __future__ import annotations

import functools

import numpy as np
from scipy.spatial.distance import jensenshannon

from sims import dirac_gan
from sims import product_divergences as pdv
from sims import saddle_dynamics as sd
from sims import vanishing_gradients_noise as vn
from sims import wasserstein as sw
from sims.interactive import Control, explorable
from theory.nonconvergence import spectral_radius

__all__ = ["bilinear_game", "dirac_gan_field", "packing", "instance_noise", "wasserstein_pairs", "discrete_js"]

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")
LOG2 = float(np.log(2.0))


def _two_panels(left: dict, right: dict, height: int = 380):
    """An empty one-row, two-column plotly figure with the axis settings ``left`` and ``right``."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.17)
    fig.update_layout(template="plotly_white", height=height, margin={"l": 60, "r": 20, "t": 20, "b": 50},
                      legend={"orientation": "h", "y": -0.22})
    fig.update_layout(xaxis=left["x"], yaxis=left["y"], xaxis2=right["x"], yaxis2=right["y"])
    return fig


def _near(values, preferred) -> int:
    """Index of the value closest to ``preferred``: the control's starting position."""
    return int(np.argmin(np.abs(np.asarray(values, float) - preferred)))


def _axis(title: str, **kwargs) -> dict:
    return {"title": {"text": title}, **kwargs}


def _line(fig, col: int, name: str, color: str, *, dash=None, mode="lines", size=5, **kwargs):
    fig.add_scatter(row=1, col=col, name=name, mode=mode, line={"color": color, "dash": dash, "width": 2},
                    marker={"color": color, "size": size}, **kwargs)


def bilinear_game(etas=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 1.9), n_steps: int = 80, z0=(1.0, 0.0),
                  gamma: float = 1.0):
    """min_x max_y xy: update rule and step size -> trajectory and distance to (0, 0) against rho^t.

    One frame per rule of ``sims.saddle_dynamics.UPDATE_RULES`` and step size in ``etas``: ``n_steps`` steps from
    ``z0`` by ``run_dynamics``, and the closed-form spectral radius of ``theory.nonconvergence``. Returns an
    :class:`~sims.interactive.Explorable`; raises ValueError for a non-positive step size.
    """
    fig = _two_panels({"x": _axis("x (minimising player)", range=[-2.5, 2.5]),
                       "y": _axis("y (maximising player)", range=[-2.5, 2.5])},
                      {"x": _axis("step t"), "y": _axis("distance to (0, 0)", type="log")})
    _line(fig, 1, "iterates z_t", COLORS[0], mode="lines+markers", size=4)
    _line(fig, 1, "equilibrium", "black", mode="markers", size=10, x=[0.0], y=[0.0])
    _line(fig, 2, "simulated |z_t|", COLORS[0])
    _line(fig, 2, "closed form rho^t |z_0|", "black", dash="dash")

    def frame(method, eta):
        params = {"gamma": gamma} if method in ("consensus", "damped") else {}
        if method == "consensus":
            params["field_jacobian"] = sd.bilinear_field_jacobian
        path = sd.run_dynamics(sd.UPDATE_RULES[method], z0, eta, n_steps, **params)
        radii, t = np.hypot(path[:, 0], path[:, 1]), np.arange(n_steps + 1)
        rho = spectral_radius(method, eta, gamma)
        return {"traces": {0: {"x": path[:, 0], "y": path[:, 1]}, 2: {"x": t, "y": radii},
                           3: {"x": t, "y": radii[0] * rho ** t}},
                "readout": f"{method}, step size {eta:g}: spectral radius rho = {rho:.4f} per step (closed form); "
                           f"simulated distance after {n_steps} steps {radii[-1]:.3g}"}

    methods = tuple(sd.UPDATE_RULES)
    controls = [Control("method", "update rule", methods, default=0, kind="select"),
                Control("eta", "step size eta", tuple(float(e) for e in etas), default=_near(etas, 0.2))]
    return explorable("bilinear-game", fig, controls, frame)


def _quiver(field, extent: float = 2.0, n: int = 11, length: float = 0.3):
    """Line segments (with None gaps) of the vector field on an n x n grid, scaled so the largest is ``length``."""
    grid = np.linspace(-extent, extent, n)
    points = np.array([(a, b) for a in grid for b in grid])
    vectors = np.array([field(z) for z in points])
    vectors *= length / max(np.max(np.hypot(vectors[:, 0], vectors[:, 1])), 1e-12)
    tips = points + vectors
    seg_x = np.column_stack([points[:, 0], tips[:, 0], np.full(len(points), np.nan)]).ravel()
    seg_y = np.column_stack([points[:, 1], tips[:, 1], np.full(len(points), np.nan)]).ravel()
    return seg_x, seg_y, points


DIRAC_VARIANTS = {"gan": "unregularised GAN", "nsgan": "non-saturating GAN", "wgan": "WGAN, clip = strength",
                  "instance_noise": "instance noise, sigma = strength", "r1": "R1 penalty, gamma = strength"}


def dirac_gan_field(strengths=(0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5), n_steps: int = 300,
                    h: float = dirac_gan.DEFAULTS["h"]):
    """The Dirac-GAN (Mescheder et al. 2018): regulariser and strength -> vector field, trajectory, distance.

    The strength is WGAN's clip value, the instance-noise width sigma or the R1 weight gamma; the unregularised
    and non-saturating GANs ignore it (their frames are stored once). Fields, trajectories (``n_steps``
    simultaneous steps of size ``h`` from the paper's start) and the linearised factor come from
    :mod:`sims.dirac_gan`. Returns an :class:`~sims.interactive.Explorable`.
    """
    fig = _two_panels({"x": _axis("theta (generator)", range=[-2.2, 2.2]),
                       "y": _axis("psi (discriminator)", range=[-2.2, 2.2])},
                      {"x": _axis("step t"), "y": _axis("distance to (0, 0)", type="log")})
    _line(fig, 1, "vector field (from the dots)", "#999999")
    _line(fig, 1, "grid points", "#999999", mode="markers", size=3, showlegend=False)
    _line(fig, 1, f"trajectory from {dirac_gan.DEFAULTS['z0']}", COLORS[3], mode="lines+markers", size=3)
    _line(fig, 2, "distance", COLORS[3])

    def frame(variant, strength):
        params = {"sigma": strength, "gamma": strength}
        seg_x, seg_y, points = _quiver(dirac_gan.field(variant, **params))
        path = dirac_gan.simulate(variant, h=h, n_steps=n_steps, clip=strength, **params)
        radii = np.hypot(path[:, 0], path[:, 1])
        rho = dirac_gan.predicted_factor(variant, h=h, **params)
        uses = variant in ("wgan", "instance_noise", "r1")
        return {"traces": {0: {"x": seg_x, "y": seg_y}, 1: {"x": points[:, 0], "y": points[:, 1]},
                           2: {"x": path[:, 0], "y": path[:, 1]},
                           3: {"x": np.arange(n_steps + 1), "y": radii}},
                "readout": f"{DIRAC_VARIANTS[variant]}{f' ({strength:g})' if uses else ' (strength unused)'}: "
                           f"linearised factor per step {rho:.4f} at (0, 0); distance after {n_steps} steps "
                           f"{radii[-1]:.3g}"}

    controls = [Control("variant", "regulariser", tuple(DIRAC_VARIANTS), labels=tuple(DIRAC_VARIANTS.values()),
                        default=4, kind="select"),
                Control("strength", "strength", tuple(float(s) for s in strengths), default=_near(strengths, 0.3))]
    return explorable("dirac-gan", fig, controls, frame)


def packing(ms=tuple(range(1, 9)), n_modes: int = 8):
    """Pack size m -> TV, JS (nats) and the optimal packed discriminator's loss, for two generators.

    The generators are ``sims.product_divergences.dropped_and_off_generators(n_modes)`` (PacGAN, Lin et al.
    2018: equal TV at m = 1); every value is an exact sum over types (``packing_curves``). Returns an
    :class:`~sims.interactive.Explorable`; raises ValueError for an odd ``n_modes`` or one below 4.
    """
    p, q_drop, q_off = pdv.dropped_and_off_generators(n_modes)
    curves = pdv.packing_curves(p, {"drop": q_drop, "off": q_off}, ms)
    names = {"drop": "drops a mode", "off": "spreads the error"}
    quantities = {"tv": "TV", "js": "JS (nats)", "d_loss": "optimal D loss (nats)"}
    fig = _two_panels({"x": _axis("quantity at the chosen pack size"), "y": _axis("value", range=[0, 1.45])},
                      {"x": _axis("pack size m"), "y": _axis("optimal D loss log 4 - 2 JS (nats)")})
    for k, name in enumerate(names.values()):
        fig.add_bar(row=1, col=1, name=f"generator that {name}", marker={"color": COLORS[k]},
                    x=list(quantities.values()))
    for k, key in enumerate(names):
        _line(fig, 2, f"D loss, {names[key]}", COLORS[k], mode="lines+markers", x=list(ms),
              y=curves[key]["d_loss"], showlegend=False)
    for k in range(2):
        _line(fig, 2, "chosen m", "black", mode="markers", size=11, showlegend=False)

    def frame(m):
        i = list(ms).index(m)
        values = {key: [curves[key][q][i] for q in quantities] for key in names}
        return {"traces": {0: {"y": values["drop"]}, 1: {"y": values["off"]},
                           4: {"x": [m], "y": [curves["drop"]["d_loss"][i]]},
                           5: {"x": [m], "y": [curves["off"]["d_loss"][i]]}},
                "readout": f"m = {m}: TV {values['drop'][0]:.3f} (drop) vs {values['off'][0]:.3f} (spread); "
                           f"JS {values['drop'][1]:.3f} vs {values['off'][1]:.3f}; optimal D loss "
                           f"{values['drop'][2]:.3f} vs {values['off'][2]:.3f} nats"}

    return explorable("packing", fig, [Control("m", "pack size m", tuple(int(m) for m in ms), default=0)], frame)


def instance_noise(sigmas=(0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5), thetas=np.linspace(0.0, 3.0, 61),
                   mc_thetas=(0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0), seed: int = 8):
    """Noise width sigma -> noised JS(N(0, s^2), N(theta, s^2)) in nats and the generator's gradient.

    Along ``thetas`` the JS and 2 dJS/dtheta come from adaptive quadrature, at ``mc_thetas`` the gradient
    E[theta D*(theta + eps)] / sigma^2 from Monte Carlo with seed ``seed`` (Arjovsky & Bottou 2017,
    Corollary 3.2; :mod:`sims.vanishing_gradients_noise`). Returns an :class:`~sims.interactive.Explorable`.
    """
    thetas = np.asarray(thetas, float)
    fig = _two_panels({"x": _axis("theta (generator's offset)"), "y": _axis("JS (nats)", range=[-0.02, 0.75])},
                      {"x": _axis("theta (generator's offset)"), "y": _axis("generator's gradient")})
    _line(fig, 1, "no noise (log 2 off theta = 0)", "black", dash="dot", x=thetas,
          y=np.where(thetas == 0, np.nan, LOG2))
    _line(fig, 1, "noised JS (quadrature)", COLORS[0])
    _line(fig, 2, "2 dJS/dtheta (quadrature)", COLORS[0])
    _line(fig, 2, "E[theta D*(theta + eps)] / sigma^2 (Monte Carlo)", COLORS[1], mode="markers", size=7)

    def frame(sigma):
        js = vn.noised_js_points(thetas, sigma)
        grad = 2 * vn.noised_js_derivative_points(thetas, sigma)
        mc = [vn.generator_gradient_points_mc(t, sigma, rng=seed)[0] for t in mc_thetas]
        at_one = int(np.argmin(np.abs(thetas - 1.0)))
        return {"traces": {1: {"x": thetas, "y": js}, 2: {"x": thetas, "y": grad},
                           3: {"x": list(mc_thetas), "y": mc}},
                "readout": f"sigma = {sigma:g}: JS at theta = 1 is {js[at_one]:.4f} nats (log 2 = {LOG2:.4f} "
                           f"without noise); gradient at theta = 1 is {grad[at_one]:.3g}, largest "
                           f"{grad.max():.3g} at theta = {thetas[np.argmax(grad)]:.2f}"}

    control = Control("sigma", "noise width sigma", tuple(float(s) for s in sigmas), default=_near(sigmas, 0.3))
    return explorable("instance-noise", fig, [control], frame)


def discrete_js(x, a, y, b) -> float:
    """JS (nats) between two discrete laws on the real line, on the union of their supports (scipy)."""
    support = np.union1d(x, y)
    p = np.array([np.sum(np.asarray(a)[np.asarray(x) == s]) for s in support])
    q = np.array([np.sum(np.asarray(b)[np.asarray(y) == s]) for s in support])
    return float(jensenshannon(p, q) ** 2)


def _bumps(centres, width: float, grid) -> np.ndarray:
    weights = sum(np.exp(-0.5 * ((grid - c) / width) ** 2) for c in centres)
    return weights / weights.sum()


def _pairs() -> dict:
    grid = np.arange(-4.0, 4.01, 0.25)
    return {"point masses at 0 and at the shift": ([0.0], [1.0], [0.0], [1.0]),
            "1/4 on 0..3 vs 1/2, 1/3, 1/6 on 1, 3, 5": ([0.0, 1, 2, 3], [0.25] * 4, [1.0, 3, 5], [1 / 2, 1 / 3, 1 / 6]),
            "fair die vs a die showing 1 or 6": (np.arange(1.0, 7), [1 / 6] * 6, [1.0, 6.0], [0.5, 0.5]),
            "one bump vs two bumps (on a grid of 0.25)": (grid, _bumps([0.0], 1.0, grid), grid,
                                                          _bumps([-2.0, 2.0], 0.5, grid))}


def _stems(points, weights, base: float, sign: float):
    xs = np.column_stack([points, points, np.full(len(points), np.nan)]).ravel()
    ys = np.column_stack([np.full(len(points), base), base + sign * 2 * np.asarray(weights),
                          np.full(len(points), np.nan)]).ravel()
    return xs, ys


def wasserstein_pairs(shifts=np.arange(-3.0, 3.01, 0.25)):
    """A pair of discrete laws and a shift of the second -> the optimal plan (``ot.emd``), W1 and JS (nats).

    W1 is the transport LP's value (``sims.wasserstein.w1_lp``), JS is :func:`discrete_js`; shifts should be
    multiples of the grids' spacing (0.25) so that shifted supports can coincide. Returns an
    :class:`~sims.interactive.Explorable`.
    """
    shifts = [float(s) for s in shifts]
    pairs = _pairs()
    fig = _two_panels({"x": _axis("position"), "y": _axis("p (top), q shifted (bottom)", range=[-1.2, 2.3])},
                      {"x": _axis("shift of q"), "y": _axis("W1 or JS")})
    _line(fig, 1, "mass of p", COLORS[0])
    _line(fig, 1, "mass of q", COLORS[1])
    _line(fig, 1, "optimal plan (ot.emd)", "#777777")
    _line(fig, 2, "W1", COLORS[2])
    _line(fig, 2, "JS (nats)", COLORS[3])
    _line(fig, 2, "chosen shift", "black", mode="markers", size=9, showlegend=False)
    _line(fig, 2, "chosen shift", "black", mode="markers", size=9, showlegend=False)

    @functools.lru_cache(maxsize=None)
    def solve(pair, shift):
        x, a, y, b = (np.asarray(v, float) for v in pairs[pair])
        y = y + shift
        return x, a, y, b, sw.optimal_plan(x, a, y, b), sw.w1_lp(x, a, y, b), discrete_js(x, a, y, b)

    def frame(pair, shift):
        x, a, y, b, plan, w1, js = solve(pair, shift)
        rows, cols = np.nonzero(plan > 1e-12)
        plan_x = np.column_stack([x[rows], y[cols], np.full(len(rows), np.nan)]).ravel()
        plan_y = np.tile([1.0, 0.0, np.nan], len(rows))
        sweep = np.array([solve(pair, s)[5:] for s in shifts])
        return {"traces": {0: dict(zip("xy", _stems(x, a, 1.0, 1.0))), 1: dict(zip("xy", _stems(y, b, 0.0, -1.0))),
                           2: {"x": plan_x, "y": plan_y}, 3: {"x": shifts, "y": sweep[:, 0]},
                           4: {"x": shifts, "y": sweep[:, 1]}, 5: {"x": [shift], "y": [w1]},
                           6: {"x": [shift], "y": [js]}},
                "readout": f"shift {shift:+.2f}: W1 = {w1:.3f}, JS = {js:.3f} nats (log 2 = {LOG2:.3f} once the "
                           f"supports are disjoint); the plan moves {len(rows)} pieces of mass"}

    controls = [Control("pair", "distributions", tuple(pairs), default=1, kind="select"),
                Control("shift", "shift of q", tuple(shifts), labels=tuple(f"{s:+.2f}" for s in shifts),
                        default=_near(shifts, 0.0))]
    return explorable("wasserstein", fig, controls, frame)
