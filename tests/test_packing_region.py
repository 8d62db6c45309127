"""Lin et al.'s exact region of (TV(P, Q), TV(P^m, Q^m)) with and without (eps, delta)-mode collapse.

Symbolic: each extremal family sits at total variation tau, the ceiling 1 - (1 - tau)^m is reached by a pair
with and by a pair without collapse, and at tau = delta (eps = 0) the collapse region is one point. Numeric:
random pairs never leave their class's region, every boundary is reached by a pair of the right class (checked
with a second implementation of the packed TV), and a deliberately broken boundary function is caught.
"""
from itertools import combinations

import numpy as np
import pytest
import sympy as sp

from sims import packing_region as pr
from sims.product_divergences import (alternating_weights, dropped_and_off_generators, product_divergences,
                                      product_divergences_bruteforce)
from theory import packing as th

SETTINGS = [(0.0, 0.125), (0.04, 0.125), (0.1, 0.5), (0.3, 0.9)]


# --- sympy ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["most", "least", "collapse"])
def test_each_extremal_family_sits_at_total_variation_tau(kind):
    assert th.family_tv_gap(kind) == 0


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_the_ceiling_is_reached_with_and_without_collapse(m):
    assert th.upper_boundary_gap(m) == 0
    assert th.free_ceiling_gap(m) == (0, 0)


def test_free_pairs_exist_exactly_below_the_larger_threshold():
    e, d = sp.symbols("epsilon delta", positive=True)
    deficit, excess = th.free_thresholds(e, d)
    assert sp.simplify(deficit - (d - e) / (1 - e)) == 0 and sp.simplify(excess - (1 - e / d)) == 0
    for eps, delta in SETTINGS + [(0.3, 0.9)]:
        edge = max(th.free_thresholds(eps, delta))
        assert np.isfinite(pr.region_boundaries(edge - 1e-3, 2, eps, delta)["free_lower"][0])
        assert np.isnan(pr.region_boundaries(min(edge + 1e-3, 1.0), 2, eps, delta)["free_lower"][0])
        assert th.free_ceiling_pair(eps, delta, edge + 1e-3) is None


@pytest.mark.parametrize("m", [1, 2, 3])
def test_at_tau_equal_delta_the_collapse_region_is_one_point(m):
    assert th.collapse_region_at_its_edge_gap(m) == 0
    bounds = pr.region_boundaries(0.125, m, 0.0, 0.125, refine=True)
    assert bounds["collapse_lower"][0] == pytest.approx(bounds["collapse_upper"][0], abs=1e-12)


def test_a_wrong_ceiling_fails_the_symbolic_and_the_numeric_check(monkeypatch):
    monkeypatch.setattr(th, "collapse_upper_boundary", lambda tau, m: 1 - (1 - tau) ** (m - 1) if m > 1 else tau)
    assert th.upper_boundary_gap(3) != 0
    p, q_drop, _ = dropped_and_off_generators(8)
    assert not pr.locate(p, q_drop, 3, 0.0, 0.125)["inside"]


def test_a_path_that_is_not_cut_into_cells_breaks_the_family_check(monkeypatch):
    # break the module's step: cells as the vertices' heights instead of the rises between them
    monkeypatch.setattr(th, "pair_from_roc_path", lambda points: ([y for _, y in points] + [1 - points[-1][1]],
                                                                   [x for x, _ in points] + [1 - points[-1][0]]))
    assert th.family_tv_gap("collapse") != 0


# --- the ROC and the packed TV, each against a second route ----------------------------------------------------

def test_product_tv_batch_matches_both_summations():
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(4), size=5), rng.dirichlet(np.ones(4), size=5)
    p[0, 1], q[1, 2] = 0.0, 0.0                                           # empty cells, on either side
    p[0] /= p[0].sum()
    q[1] /= q[1].sum()
    for m in (1, 2, 3, 5):
        batch = pr.product_tv_batch(p, q, m)
        np.testing.assert_allclose(batch, [product_divergences(a, b, m)["tv"] for a, b in zip(p, q)], atol=1e-12)
        if m <= 3:
            np.testing.assert_allclose(batch, [product_divergences_bruteforce(a, b, m)["tv"] for a, b in zip(p, q)],
                                       atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_roc_height_against_set_enumeration_and_tv(seed):
    rng = np.random.default_rng(seed)
    p, q = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5))
    q[seed % 5] = 0.0
    q /= q.sum()
    sets = [list(c) for k in range(1, 6) for c in combinations(range(5), k)]
    for cells in sets:                                                     # no set beats the ROC ...
        assert pr.roc_height(p, q, q[cells].sum()) >= p[cells].sum() - 1e-12
    order = np.argsort(-(p / np.where(q > 0, q, 1e-300)))                  # ... and the likelihood-ratio sets reach it
    for k in range(1, 6):
        assert pr.roc_height(p, q, q[order[:k]].sum()) == pytest.approx(p[order[:k]].sum(), abs=1e-12)
    xs = np.concatenate([[0.0], np.cumsum(q[order])])
    gap = max(pr.roc_height(p, q, x) - x for x in xs)                      # TV = max_x f(x) - x
    assert gap == pytest.approx(product_divergences(p, q, 1)["tv"], abs=1e-12)


# --- the regions ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("eps, delta", SETTINGS)
def test_random_pairs_never_leave_their_region(eps, delta):
    rng = np.random.default_rng(int(100 * delta + 1000 * eps))
    classes = set()
    for _ in range(25):
        k = int(rng.integers(2, 5))
        p, q = rng.dirichlet(np.full(k, 0.5)), rng.dirichlet(np.full(k, 0.5))
        if rng.random() < 0.5:                                             # a generator that misses a cell
            q[rng.integers(k)] = 0.0
            q /= q.sum()
        where = pr.locate(p, q, int(rng.integers(2, 6)), eps, delta)
        assert where["inside"], where
        classes.add(where["collapse"])
    assert classes == {True, False}                                       # both regions were exercised


@pytest.mark.parametrize("eps, delta", SETTINGS)
@pytest.mark.parametrize("tau", [0.2, 0.45, 0.7, 0.8])
@pytest.mark.parametrize("m", [2, 5])
def test_every_boundary_is_reached_by_a_pair_of_its_class(eps, delta, tau, m):
    checks = pr.boundary_witnesses(tau, m, eps, delta)
    assert checks and all(checks.values()), checks


def test_a_collapse_floor_without_the_collapse_vertex_is_caught(monkeypatch):
    # break the boundary function: forget (eps, delta), i.e. minimise over all pairs at TV tau
    monkeypatch.setattr(th, "collapse_minimal_pair",
                        lambda eps, delta, tau, x0: th.pair_from_roc_path([(x0, x0 + tau), (x0, x0 + tau)]))
    checks = pr.boundary_witnesses(0.45, 4, 0.04, 0.125)
    assert checks["collapse_lower"] is False and checks["free_lower"] is True


def test_a_free_ceiling_witness_with_collapse_is_caught(monkeypatch):
    # break the boundary function: always the excess pair, which has collapse beyond 1 - eps / delta
    monkeypatch.setattr(th, "free_ceiling_pair",
                        lambda eps, delta, tau: th.least_informative_pair(tau, 1.0 - tau) if tau < 0.99 else None)
    assert pr.boundary_witnesses(0.3, 3, 0.04, 0.125)["free_upper"] is True       # still free here
    assert pr.boundary_witnesses(0.8, 3, 0.3, 0.9)["free_upper"] is False         # 0.8 > 1 - 0.3 / 0.9


@pytest.mark.parametrize("eps, delta", SETTINGS)
def test_at_m_one_every_boundary_is_tau_and_the_floor_beats_the_simple_bound(eps, delta):
    taus = np.linspace(0.0, 0.95, 20)
    curves = pr.region_curves(taus, [1, 2, 4, 6], eps, delta, n_grid=81)
    for name in pr.BOUNDARIES:
        row = curves[name][0]
        np.testing.assert_allclose(row[np.isfinite(row)], taus[np.isfinite(row)], atol=1e-12)
    for i, m in enumerate([1, 2, 4, 6]):
        floor = curves["collapse_lower"][i]
        simple = float(th.mode_collapse_tv_lower_bound(eps, delta, m))     # (mc-collapse-bound)
        assert np.all(floor[np.isfinite(floor)] >= simple - 1e-12)


def test_region_curves_agree_with_region_boundaries():
    curves = pr.region_curves([0.3, 0.6], [3], 0.04, 0.125, n_grid=101)
    for j, tau in enumerate([0.3, 0.6]):
        bounds = pr.region_boundaries(tau, 3, 0.04, 0.125, n_grid=101)
        for name in pr.BOUNDARIES:
            assert curves[name][0, j] == pytest.approx(bounds[name][0], abs=1e-12)


def test_the_chapters_generators():
    """(0, 1/8): the dropper has it and sits on the single point of its region; the spreader has none and falls
    below anything a collapsing pair at its tau could have from m = 3 on."""
    p, q_drop, _ = dropped_and_off_generators(8)
    q_spread = alternating_weights(8, 0.6)
    below = []
    for m in range(1, 9):
        drop, spread = pr.locate(p, q_drop, m, 0.0, 0.125), pr.locate(p, q_spread, m, 0.0, 0.125)
        assert drop["collapse"] and not spread["collapse"] and drop["inside"] and spread["inside"]
        assert drop["lower"] == pytest.approx(drop["upper"], abs=1e-12)
        floor = pr.region_boundaries(spread["tau"], m, 0.0, 0.125, refine=True)["collapse_lower"][0]
        if spread["packed_tv"] < floor:
            below.append(m)
    assert below == [3, 4, 5, 6, 7, 8]


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="need 0 <= eps < delta <= 1"):
        pr.region_boundaries(0.3, 2, 0.2, 0.1)
    with pytest.raises(ValueError, match="kind must be"):
        pr._members("middle", 0.0, 0.1, 0.3, 5)
    with pytest.raises(ValueError, match="p must sum to 1"):
        pr.roc_height([0.5, 0.6], [0.5, 0.5], 0.1)
