"""Sample-quality metrics: each checked against an independent route, and on data whose answer is known."""
import numpy as np
import pytest
import scipy.stats

from musicgan import metrics


def test_two_proportion_z_test_equals_the_chi_square_test_of_a_2x2_table():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n1, n2 = rng.integers(50, 500, size=2)
        c1, c2 = rng.integers(1, n1), rng.integers(1, n2)
        chi2, p, _, _ = scipy.stats.chi2_contingency([[c1, n1 - c1], [c2, n2 - c2]], correction=False)
        for alpha in (0.01, 0.05, 0.2):
            assert metrics.two_proportion_z_test(c1 / n1, n1, c2 / n2, n2, alpha) == (p < alpha)


def test_frechet_distance_matches_closed_forms_and_pot():
    import ot

    assert metrics.frechet_distance(1.0, 4.0, 3.0, 9.0) == pytest.approx((1 - 3) ** 2 + (2 - 3) ** 2)
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    cov1, cov2 = a @ a.T + np.eye(5), b @ b.T + np.eye(5)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    ours = metrics.frechet_distance(mu1, cov1, mu2, cov2)
    assert ours == pytest.approx(float(ot.gaussian.bures_wasserstein_distance(mu1, mu2, cov1, cov2)) ** 2, rel=1e-6)
    assert metrics.frechet_distance(mu1, cov1, mu1, cov1) == pytest.approx(0.0, abs=1e-8)


def test_nearest_neighbour_distances_match_brute_force():
    rng = np.random.default_rng(2)
    q, r = rng.normal(size=(30, 4, 5)), rng.normal(size=(40, 4, 5))
    d = np.sqrt(((q.reshape(30, 1, -1) - r.reshape(1, 40, -1)) ** 2).mean(axis=2))
    np.testing.assert_allclose(metrics.nearest_neighbour_distances(q, r, chunk=7), d.min(axis=1), rtol=1e-5)
    dq = np.sqrt(((q.reshape(30, 1, -1) - q.reshape(1, 30, -1)) ** 2).mean(axis=2)) + np.diag(np.full(30, np.inf))
    np.testing.assert_allclose(metrics.nearest_neighbour_distances(q, chunk=7), dq.min(axis=1), rtol=1e-5)


def test_collapse_and_copying_show_in_the_distances():
    rng = np.random.default_rng(3)
    train = rng.normal(size=(200, 4, 4))
    fresh = rng.normal(size=(100, 4, 4))
    collapsed = np.repeat(fresh[:2], 50, axis=0) + 0.01 * rng.normal(size=(100, 4, 4))
    copies = train[:100]
    assert metrics.nearest_neighbour_distances(collapsed).mean() < 0.1 * metrics.nearest_neighbour_distances(fresh).mean()
    assert metrics.nearest_neighbour_distances(copies, train).mean() == pytest.approx(0, abs=1e-3)
    assert metrics.nearest_neighbour_distances(fresh, train).mean() > 0.5


def test_ndb_is_small_for_a_second_sample_and_large_when_modes_are_dropped():
    rng = np.random.default_rng(4)
    modes = rng.normal(scale=3, size=(10, 8))
    draw = lambda n, n_modes=10: modes[rng.integers(n_modes, size=n)] + rng.normal(size=(n, 8))  # noqa: E731
    centres = metrics.fit_bins(draw(2000), 10, rng)
    same = metrics.ndb(centres, draw(1000), draw(1000))
    half = metrics.ndb(centres, draw(1000), draw(1000, n_modes=5))      # a generator that lost half the modes
    assert same["ndb_over_k"] <= 0.2 and half["ndb_over_k"] >= 0.8
    assert same["p_reference"].sum() == pytest.approx(1) and same["different"].shape == (10,)


def test_noise_baseline_has_the_mean_spectrum():
    rng = np.random.default_rng(5)
    mels = 10 * np.log10(np.linspace(1, 100, 8))[None, :, None] + np.zeros((50, 8, 16))
    noise = metrics.noise_baseline(mels, 4000, rng, top_db=None)
    np.testing.assert_allclose(np.mean(10 ** (noise / 10), axis=(0, 2)), np.linspace(1, 100, 8), rtol=0.05)


def test_harmonic_peak_salience_separates_notes_from_noise_and_silence():
    sr, t = 16000, np.arange(16000) / 16000
    note = sum(np.sin(2 * np.pi * k * metrics.midi_to_hz(57) * t) / k for k in range(1, 7))
    chord = note + sum(np.sin(2 * np.pi * k * metrics.midi_to_hz(61) * t) / k for k in range(1, 7))
    noise = np.random.default_rng(6).normal(size=16000)
    s = metrics.harmonic_peak_salience(np.stack([note, chord, noise, np.zeros(16000)]), sr)
    assert s[0] > 15 and s[1] > 15
    assert s[2] < 5 and s[3] == pytest.approx(0)


def test_metrics_validate_their_inputs():
    with pytest.raises(ValueError, match="clips must have shape"):
        metrics.band_features(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="k must lie in"):
        metrics.fit_bins(np.zeros((10, 2)), 1, 0)
