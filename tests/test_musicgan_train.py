"""Training end to end on synthetic audio: run folder contents, exact resume, the NaN guard, DDP, the CLI."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from musicgan.__main__ import main
from musicgan.config import apply_overrides, preset
from musicgan.runs import checkpoint_paths, load_checkpoint, load_generator
from musicgan.tblog import read_scalars
from musicgan.train import NonFiniteLossError, train

ROOT = Path(__file__).resolve().parents[1]
QUIET = ["train.image_every=100"]            # images and audio only at the first and last step


def tiny(*overrides):
    return apply_overrides(preset("tiny"), [*QUIET, *overrides])


@pytest.mark.parametrize("family", ["conv", "lstm", "gru"])
def test_tiny_run_writes_events_checkpoints_and_samples(tmp_path, family):
    out = tmp_path / family
    facts = train(tiny(f"model.generator={family}"), out, log=lambda m: None)
    assert facts["steps"] == 6
    scalars = read_scalars(out)
    assert {"loss/D", "loss/G", "D/logit_real", "penalty/r1", "perf/steps_per_s"} <= set(scalars)
    assert {"diversity/fake", "diversity/real", "music/mel_in_tune", "music/pitch_classes", "music/key_corr",
            "music_real/mel_in_tune", "music_real/in_tune"} <= set(scalars)      # musical measures while training
    assert list(scalars["music/pitch_classes"][0]) == [6]                       # with the last images
    assert list(scalars["loss/G"][0]) == [1, 2, 3, 4, 5, 6]
    assert [p.name for p in checkpoint_paths(out)] == ["ckpt-0000003.pt", "ckpt-0000006.pt"]
    state = torch.load(checkpoint_paths(out)[-1], weights_only=True)   # no pickled objects inside
    assert state["step"] == 6 and set(state) >= {"G", "D", "G_ema", "opt_G", "opt_D", "rng"}
    assert len(list((out / "samples").glob("*.wav"))) == 4 and (out / "samples" / "sample-grid.png").is_file()
    info = json.loads((out / "run_info.json").read_text())
    assert info["clip_shape"] == [16, 16] and len(info["git_commit"]) >= 7
    net_G, cfg, shape, step = load_generator(out)
    assert cfg.model.generator == family and step == 6 and not net_G.training


def _final_weights(out: Path) -> dict:
    state = load_checkpoint(checkpoint_paths(out)[-1])
    return {k: state[k] for k in ("G", "D", "G_ema", "opt_D", "rng")}


def _assert_same(a, b, where="state"):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    else:
        assert a == b, where


@pytest.mark.parametrize("family", ["conv", "lstm"])
def test_resume_equals_an_uninterrupted_run(tmp_path, family):
    cfg = tiny(f"model.generator={family}", "loss.r1_every=2")
    train(cfg, tmp_path / "whole", log=lambda m: None)
    train(apply_overrides(cfg, ["train.steps=3"]), tmp_path / "split", log=lambda m: None)
    train(cfg, tmp_path / "split", resume=True, log=lambda m: None)
    _assert_same(_final_weights(tmp_path / "whole"), _final_weights(tmp_path / "split"))
    steps, _ = read_scalars(tmp_path / "split")["loss/D"]
    assert list(steps) == [1, 2, 3, 4, 5, 6]


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    import musicgan.train as train_module

    real_loss = train_module.generator_loss
    calls = {"n": 0}

    def poisoned(net_D, fake, loss_cfg):
        calls["n"] += 1
        loss, stats = real_loss(net_D, fake, loss_cfg)
        return (loss * float("nan") if calls["n"] == 5 else loss), stats

    monkeypatch.setattr(train_module, "generator_loss", poisoned)
    with pytest.raises(NonFiniteLossError, match="generator loss is nan at step 4.*ckpt-0000003.pt"):
        train(tiny(), tmp_path / "run", log=lambda m: None)
    assert [p.name for p in checkpoint_paths(tmp_path / "run")] == ["ckpt-0000003.pt"]
    state = load_checkpoint(checkpoint_paths(tmp_path / "run")[0])
    assert all(torch.isfinite(t).all() for t in state["G"].values() if t.is_floating_point())


def test_wgan_gp_with_packing_trains(tmp_path):
    facts = train(tiny("loss.kind=wgan_gp", "loss.pack=2", "loss.d_steps=2", "model.discriminator=lstm"),
                  tmp_path / "w", log=lambda m: None)
    assert facts["steps"] == 6
    assert {"penalty/gp", "wgan/critic_gap"} <= set(read_scalars(tmp_path / "w"))


def test_cli_refuses_to_overwrite_and_reports_bad_settings(tmp_path, capsys):
    out = str(tmp_path / "r")
    assert main(["train", "--config", "tiny", "--out", out, "--set", "train.image_every=100"]) == 0
    assert main(["train", "--config", "tiny", "--out", out]) == 2
    assert "already holds checkpoints" in capsys.readouterr().err
    assert main(["train", "--config", "tiny", "--set", "model.generator=mlp", "--out", out + "x"]) == 2
    assert "model.generator must be one of" in capsys.readouterr().err
    assert main(["train", "--out", out, "--resume", "--set", "train.steps=8"]) == 0
    assert checkpoint_paths(out)[-1].name == "ckpt-0000008.pt"


@pytest.mark.slow
def test_ddp_with_two_cpu_processes(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "musicgan", "train", "--config", "tiny", "--out", str(tmp_path / "ddp"), "--set",
           "train.image_every=100"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    # the run checks itself that both processes end with identical weights, and fails otherwise
    state = load_checkpoint(checkpoint_paths(tmp_path / "ddp")[-1])
    assert state["world_size"] == 2 and state["step"] == 6
    assert json.loads((tmp_path / "ddp" / "run_info.json").read_text())["world_size"] == 2
