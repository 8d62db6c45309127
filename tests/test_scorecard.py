"""The score card end to end on a small synthetic set of in-tune chords: the controls come out in the right
order with intervals, generated sets are scored like real ones, and the table renders."""
import numpy as np
import pytest

from musicgan import scorecard
from musicgan.evaluate import musical_report
from musicgan.models import build_generator
from musicgan.config import ModelConfig
from musicgan.synthetic import synthetic_prepared_set

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def prepared():
    return synthetic_prepared_set(48, 12, 64, seed=0)


def test_source_audio_of_a_synthetic_set_gives_its_mels_back(prepared):
    from musicgan.mel import log_mel_spectrogram

    audio = scorecard.source_audio(prepared, [3, 7])
    np.testing.assert_allclose(log_mel_spectrogram(audio, prepared.mel_config).numpy(), prepared.mels[[3, 7]],
                               atol=1e-3)


def test_controls_score_in_the_right_order(prepared):
    sets = scorecard.control_sets(prepared, np.arange(16), rng=0)
    table = scorecard.score_sets(sets, prepared.mel_config, n_boot=200)
    real, detuned, noise = table["real"], table["detuned +50 cents"], table["shaped noise"]
    assert real["in_tune"]["mean"] >= 0.9 and real["in_tune"]["groups"] == 12
    assert detuned["in_tune"]["hi"] < real["in_tune"]["lo"]
    assert detuned["mel_in_tune"]["hi"] < real["mel_in_tune"]["lo"]
    assert noise["mel_in_tune"]["hi"] < real["mel_in_tune"]["lo"]
    assert noise["pitch_classes"]["mean"] > 2 * real["pitch_classes"]["mean"]
    assert noise["in_tune"]["groups"] == 16            # noise clips are independent
    header, rows = scorecard.table_rows(table, ["in_tune", "mel_in_tune"])
    assert header == ["set", "peaks in tune (audio)", "frames in tune (mel)"]
    assert [r[0] for r in rows] == list(sets) and rows[0][1].count("[") == 1


def test_musical_report_scores_generators_beside_the_controls(prepared):
    net_G = build_generator(ModelConfig(latent_dim=8, g_channels=4, output="mel", conv_latent="vector"), 64, 64).eval()
    table = musical_report({"untrained": net_G}, prepared, np.arange(12), n=6, seed=0)
    assert {"real", "real, decoded", "detuned +50 cents", "shaped noise", "untrained"} <= set(table)
    assert "real, decoded from 256 bands" in table           # the set's 64 bands are not the default
    untrained = table["untrained"]["mel_in_tune"]
    assert untrained["hi"] < table["real"]["mel_in_tune"]["lo"]


def test_transcriber_distances_rank_noise_far_from_real(prepared, tmp_path):
    """The score card's Frechet distance on transcriber features, with a small calibrated (untrained)
    network: the plumbing, the intervals and the order real < noise, measured against disjoint clips."""
    import torch

    from musicgan.transcriber import Transcriber, save_transcriber

    torch.manual_seed(0)
    model = Transcriber(64, channels=16, hidden=8).calibrate(torch.as_tensor(
        prepared.normalizer.normalize(prepared.mels[24:])))
    path = save_transcriber(model, tmp_path / "t.pt", prepared)
    sets = scorecard.control_sets(prepared, np.arange(12), rng=0)
    fd = scorecard.transcriber_distances(sets, prepared, np.arange(24, 48), path, n_boot=50)
    assert set(fd) == set(sets)
    assert fd["real"]["lo"] <= fd["real"]["mean"] <= fd["real"]["hi"]
    assert fd["shaped noise"]["mean"] > 3 * fd["real"]["mean"]
