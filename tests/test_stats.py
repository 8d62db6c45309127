"""Piece-level bootstrap intervals: they cover the mean, widen when clips of a piece are alike, and say when
there are too few pieces to resample."""
import numpy as np
import pytest

from musicgan import stats


def test_mean_interval_covers_the_mean_and_narrows_with_more_data():
    rng = np.random.default_rng(0)
    small = stats.mean_interval(rng.normal(1.0, 1.0, 50), rng=1)
    large = stats.mean_interval(rng.normal(1.0, 1.0, 2000), rng=1)
    assert small["lo"] < small["mean"] < small["hi"]
    assert large["lo"] < 1.0 < large["hi"]
    assert (large["hi"] - large["lo"]) < 0.3 * (small["hi"] - small["lo"])


def test_resampling_pieces_widens_the_interval_of_clustered_clips():
    """20 pieces of 10 nearly identical clips: the honest interval is that of 20 values, not of 200."""
    rng = np.random.default_rng(0)
    piece_means = rng.normal(0.0, 1.0, 20)
    values = np.repeat(piece_means, 10) + rng.normal(0, 0.01, 200)
    groups = np.repeat(np.arange(20), 10)
    by_clip = stats.mean_interval(values, rng=2)
    by_piece = stats.mean_interval(values, groups, rng=2)
    assert by_piece["groups"] == 20 and by_clip["groups"] == 200
    assert (by_piece["hi"] - by_piece["lo"]) > 2.5 * (by_clip["hi"] - by_clip["lo"])
    truth_width = 2 * 1.96 * piece_means.std(ddof=1) / np.sqrt(20)
    assert (by_piece["hi"] - by_piece["lo"]) == pytest.approx(truth_width, rel=0.25)


def test_nan_values_are_ignored_and_one_group_has_no_interval():
    iv = stats.mean_interval([1.0, np.nan, 3.0])
    assert iv["mean"] == pytest.approx(2.0)
    one = stats.mean_interval([1.0, 2.0, 3.0], groups=["a", "a", "a"])
    assert one["mean"] == pytest.approx(2.0) and np.isnan(one["lo"]) and np.isnan(one["hi"])


def test_set_statistic_is_recomputed_on_resampled_groups():
    values = np.arange(10.0)
    iv = stats.set_interval(lambda idx: values[idx].max(), 10, rng=0, n_boot=300)
    assert iv["mean"] == 9.0 and iv["hi"] == 9.0 and iv["lo"] < 9.0


def test_bad_groups_are_refused():
    with pytest.raises(ValueError, match="one label per clip"):
        stats.mean_interval([1.0, 2.0], groups=[0])
    with pytest.raises(ValueError, match="non-empty"):
        stats.mean_interval([])
    assert str(stats.mean_interval([1.0, 2.0, 3.0, 4.0], rng=0)).startswith("2.5 [")


def test_two_sample_bootstrap_resamples_both_sets():
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(0, 1, 200), rng.normal(0, 1, 200), rng.normal(1, 1, 200)
    diff = lambda x, y: lambda i, j: abs(x[i].mean() - y[j].mean())   # noqa: E731
    same = stats.two_sample_bootstrap(diff(a, b), 200, 200, rng=0)
    shifted = stats.two_sample_bootstrap(diff(c, b), 200, 200, rng=0)
    assert same["lo"] < 0.2 and shifted["lo"] > 0.6
    only_a = stats.group_bootstrap(lambda i: abs(c[i].mean() - b.mean()), 200, rng=0)
    assert (shifted["hi"] - shifted["lo"]) > 1.2 * (only_a["hi"] - only_a["lo"])   # both sides' error
