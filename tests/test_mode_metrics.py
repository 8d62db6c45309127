"""Mode-collapse metrics on hand-made sample sets, and the earth-mover distance against scipy."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from sims.mode_metrics import (assign_modes, earth_movers_distance, emd_to_modes, mean_and_se, mixture,
                               mode_statistics, sample_mixture)


@pytest.mark.parametrize("name, n_modes, std", [("ring", 8, 0.01), ("grid", 25, 0.05)])
def test_mixtures_match_pacgan(name, n_modes, std):
    mix = mixture(name)
    assert mix.means.shape == (n_modes, 2) and mix.std == std
    if name == "ring":
        assert np.allclose(np.linalg.norm(mix.means, axis=1), 1.0)
    else:
        assert set(np.unique(mix.means)) == {-4.0, -2.0, 0.0, 2.0, 4.0}


def test_data_itself_scores_perfectly():
    mix = mixture("grid")
    stats = mode_statistics(sample_mixture(mix, 20_000, 0), mix)
    assert stats["modes"] == 25
    assert stats["hq_percent"] > 98.0                          # 3 std in 2-D keeps 1 - exp(-4.5) = 98.9 %
    assert stats["reverse_kl"] < 0.01


def test_all_modes_covered_exactly():
    mix = mixture("ring")
    samples = np.repeat(mix.means, 10, axis=0)                 # every mode hit equally, dead centre
    stats = mode_statistics(samples, mix)
    assert stats == {"modes": 8, "hq_percent": 100.0, "reverse_kl": 0.0}


def test_one_mode_only():
    mix = mixture("grid")
    samples = mix.means[7] + np.zeros((50, 2))
    stats = mode_statistics(samples, mix)
    assert stats["modes"] == 1 and stats["hq_percent"] == 100.0
    assert np.isclose(stats["reverse_kl"], np.log(25))        # KL(delta_k || uniform on 25 modes)


def test_no_high_quality_sample():
    mix = mixture("ring")
    samples = 0.5 * mix.means                                  # halfway to the centre: 50 std from every mode
    stats = mode_statistics(samples, mix)
    assert stats["modes"] == 0 and stats["hq_percent"] == 0.0 and np.isnan(stats["reverse_kl"])


def test_threshold_is_three_standard_deviations():
    mix = mixture("grid")
    inside, outside = mix.means[0] + [2.9 * mix.std, 0], mix.means[0] + [3.1 * mix.std, 0]
    nearest, dist = assign_modes(np.array([inside, outside]), mix)
    assert np.all(nearest == 0) and np.allclose(dist, [2.9, 3.1])
    assert mode_statistics(np.array([inside, outside]), mix)["hq_percent"] == 50.0


def test_reverse_kl_of_a_half_split():
    mix = mixture("ring")
    samples = np.repeat(mix.means[:4], [30, 10, 0, 0], axis=0)  # q = (3/4, 1/4) on two of the 8 modes
    expected = 0.75 * np.log(0.75 * 8) + 0.25 * np.log(0.25 * 8)
    assert np.isclose(mode_statistics(samples, mix)["reverse_kl"], expected)


def test_emd_matches_scipy_on_a_line_and_is_a_metric():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(200, 1)), rng.normal(1.0, 2.0, size=(300, 1))
    pad = lambda v: np.hstack([v, np.zeros_like(v)])           # noqa: E731 - points on the x axis
    assert np.isclose(earth_movers_distance(pad(x), pad(y)), wasserstein_distance(x[:, 0], y[:, 0]))
    assert earth_movers_distance(pad(x), pad(x)) == pytest.approx(0.0, abs=1e-12)


def test_emd_of_a_shift_is_the_shift_length():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(100, 2))
    assert np.isclose(earth_movers_distance(x, x + [0.3, 0.4]), 0.5)


def test_emd_to_modes_exact_cases():
    mix = mixture("grid")
    centres = np.repeat(mix.means, 4, axis=0)
    assert emd_to_modes(centres, mix) == pytest.approx(0.0, abs=1e-12)
    assert np.isclose(emd_to_modes(centres + [0.3, 0.4], mix), 0.5)     # a small rigid shift costs its length
    one_mode = np.repeat(mix.means[:1], 25, axis=0)                      # all mass on the corner (-4, -4)
    assert np.isclose(emd_to_modes(one_mode, mix), np.linalg.norm(mix.means - mix.means[0], axis=1).mean())


def test_emd_to_modes_is_within_the_data_spread_of_the_sample_emd():
    mix = mixture("ring")
    x = sample_mixture(mix, 500, 3) + [0.05, 0.0]
    data = sample_mixture(mix, 2500, 4)
    gap = abs(emd_to_modes(x, mix) - earth_movers_distance(x, data))
    assert gap < mix.std * np.sqrt(np.pi / 2) + 0.02                     # + sampling noise of the data side


def test_mean_and_se():
    mean, se = mean_and_se([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5 and np.isclose(se, np.std([1, 2, 3, 4], ddof=1) / 2)


def test_validation_messages():
    with pytest.raises(ValueError, match="name must be one of"):
        mixture("spiral")
    with pytest.raises(ValueError, match=r"samples must have shape \(any, 2\)"):
        mode_statistics(np.zeros((5, 3)), mixture("ring"))
    with pytest.raises(ValueError, match="samples must be finite"):
        mode_statistics(np.full((2, 2), np.nan), mixture("ring"))
    with pytest.raises(ValueError, match="at least 2 entries"):
        mean_and_se([1.0])
