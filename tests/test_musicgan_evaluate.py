"""Evaluation and sampling end to end: real held-out clips score near zero, noise scores badly, the CLIs work."""
import json

import numpy as np
import pytest

from musicgan import metrics
from musicgan.__main__ import main
from musicgan.config import DataConfig, apply_overrides, preset
from musicgan.evaluate import BASELINE, HELD_OUT, REAL_TRAIN, beats_baseline, score_sets
from musicgan.runs import split_data
from musicgan.synthetic import synthetic_prepared_set
from musicgan.train import train


@pytest.fixture(scope="module")
def synthetic():
    data_cfg = DataConfig(source="synthetic", synthetic_clips=480, synthetic_pieces=48, synthetic_size=16,
                          held_out_fraction=0.3)
    prepared = synthetic_prepared_set(480, 48, 16, seed=0)
    return prepared, *split_data(prepared, data_cfg)


def test_real_held_out_clips_score_near_zero_and_noise_far(synthetic):
    prepared, train_idx, held_idx = synthetic
    clips = prepared.normalizer.normalize(prepared.mels)
    rng = np.random.default_rng(0)
    own = rng.permutation(len(train_idx))
    reference = clips[held_idx]
    noise = prepared.normalizer.normalize(metrics.noise_baseline(prepared.mels[train_idx], len(held_idx), rng))
    sets = {REAL_TRAIN: clips[train_idx[own[:len(held_idx)]]], BASELINE: noise}
    rows = score_sets(sets, reference, clips[train_idx], clips[train_idx[own[len(held_idx):]]], k=10,
                      train_exclude={REAL_TRAIN: own[:len(held_idx)]})
    assert rows[REAL_TRAIN]["ndb_over_k"] <= 0.2
    assert rows[BASELINE]["ndb_over_k"] >= 0.7
    assert rows[REAL_TRAIN]["frechet"] < 0.2 * rows[BASELINE]["frechet"]
    # real training clips sit as far from the other training clips as held-out clips do
    assert rows[REAL_TRAIN]["d_train"] == pytest.approx(rows[HELD_OUT]["d_train"], rel=0.3)
    verdict = beats_baseline(rows, REAL_TRAIN)
    assert verdict == {"ndb_over_k": True, "frechet": True, "d_self": True, "d_train": True}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "conv"
    train(apply_overrides(preset("tiny"), ["train.image_every=100"]), out, log=lambda m: None)
    return out


def test_evaluate_cli_writes_a_json_report(tiny_run, tmp_path):
    report_path = tmp_path / "report.json"
    assert main(["evaluate", "--run", f"conv={tiny_run}", "-n", "16", "--k", "4", "--n-audio", "2",
                 "--out", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert set(report["rows"]) == {"conv", REAL_TRAIN, BASELINE, HELD_OUT}
    assert report["settings"]["steps"] == {"conv": 6} and report["settings"]["k"] == 4
    assert set(report["beats_baseline"]["conv"]) == {"ndb_over_k", "frechet", "d_self", "d_train", "salience_db"}
    assert 0 <= report["rows"]["conv"]["ndb_over_k"] <= 1


def test_evaluate_scores_one_checkpoint_of_a_run(tiny_run, tmp_path):
    report_path = tmp_path / "report.json"
    ckpt = tiny_run / "checkpoints" / "ckpt-0000003.pt"
    assert main(["evaluate", "--run", f"early={ckpt}", "--run", f"late={tiny_run}", "-n", "16", "--k", "4",
                 "--n-audio", "2", "--out", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["settings"]["steps"] == {"early": 3, "late": 6}
    assert report["rows"]["early"]["d_self"] != report["rows"]["late"]["d_self"]


def test_sample_cli_writes_wavs_and_a_png(tiny_run, tmp_path):
    import soundfile

    assert main(["sample", "--run", str(tiny_run), "-n", "3", "--out", str(tmp_path / "s"),
                 "--griffin-lim-iters", "2"]) == 0
    wavs = sorted((tmp_path / "s").glob("*.wav"))
    assert len(wavs) == 3 and (tmp_path / "s" / "sample-grid.png").is_file()
    audio, sr = soundfile.read(wavs[0])
    assert sr == 16000 and audio.ndim == 1 and 0 < np.abs(audio).max() <= 1


def test_clis_fail_cleanly_on_a_missing_run(tmp_path, capsys):
    assert main(["sample", "--run", str(tmp_path / "nothing")]) == 2
    assert main(["evaluate", "--run", str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err.count("error: no run folder") == 2
