"""Issue 13, item 7: ``sample`` stands alone. ``generator.pt`` holds the normaliser and mel settings, so sampling
needs neither the training data nor a particular working directory; the default output is a folder under
``runs/`` of the working directory, never the (possibly committed) run folder; relative ``data.source`` paths
resolve against the run folder or fail with one line."""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from musicgan.__main__ import main
from musicgan.config import DataConfig, apply_overrides, preset
from musicgan.dataset import MelAccumulator, save_prepared
from musicgan.runs import load_data, load_for_sampling
from musicgan.synthetic import synthetic_audio, synthetic_mel_config
from musicgan.train import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def file_run(tmp_path_factory):
    """A tiny run trained on a prepared .npz that sits in the run folder, named by a relative data.source."""
    run = tmp_path_factory.mktemp("runs") / "mine"
    run.mkdir()
    cfg = synthetic_mel_config(16)
    audio, sources = synthetic_audio(64, 8, cfg, 0)
    acc = MelAccumulator(cfg)
    for name in sorted(set(sources)):
        keep = [i for i, s in enumerate(sources) if s == name]
        acc.add(name, audio[keep], np.zeros(len(keep), np.int64))
    save_prepared(run / "set.npz", acc, {"format_version": 1, "mel": cfg.to_dict(), "source": {"kind": "test"}})
    here = os.getcwd()
    os.chdir(run)                          # trained from inside the run folder, with a relative data.source
    try:
        train(apply_overrides(preset("tiny"), ["train.image_every=100", "data.source=set.npz"]), run,
              log=lambda m: None)
    finally:
        os.chdir(here)
    return run


def test_generator_holds_the_decoding_record(file_run):
    state = torch.load(file_run / "generator.pt", weights_only=True)
    record = state["decoding"]
    with np.load(file_run / "set.npz") as data:
        np.testing.assert_array_equal(record["band_mean"].numpy(), data["band_mean"])
        np.testing.assert_array_equal(record["band_std"].numpy(), data["band_std"])
    assert record["mel"]["n_mels"] == 16 and record["mel"]["clip_frames"] == 16


def test_sample_works_without_the_data_and_from_another_folder(file_run, tmp_path, monkeypatch, capsys):
    hidden = file_run / "set.npz.away"
    (file_run / "set.npz").rename(hidden)
    try:
        monkeypatch.chdir(tmp_path)
        assert main(["sample", "--run", str(file_run), "-n", "2", "--griffin-lim-iters", "2"]) == 0
    finally:
        hidden.rename(file_run / "set.npz")
    out = tmp_path / "runs" / "samples" / "mine"
    assert sorted(p.name for p in out.iterdir()) == ["sample-00.wav", "sample-01.wav", "sample-grid.png"]
    audio, sr = sf.read(out / "sample-00.wav")
    assert sr == 16000 and audio.shape == (synthetic_mel_config(16).clip_samples,)
    assert "-> runs/samples/mine" in capsys.readouterr().out


def test_the_default_output_never_touches_a_committed_run(file_run, tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    subprocess.run(["cp", "-r", str(file_run), str(repo)], check=True)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "samples"], cwd=repo, check=True)
    before = {p.name: p.read_bytes() for p in (repo / "samples").iterdir()}
    monkeypatch.chdir(tmp_path)
    assert main(["sample", "--run", str(repo), "-n", "2", "--griffin-lim-iters", "2"]) == 0
    assert {p.name: p.read_bytes() for p in (repo / "samples").iterdir()} == before
    assert (tmp_path / "runs" / "samples" / "repo" / "sample-00.wav").is_file()
    assert main(["sample", "--run", str(repo), "-n", "2", "--out", str(repo / "samples")]) == 2


def test_an_old_generator_falls_back_to_its_data_set(file_run, tmp_path, capsys):
    old = tmp_path / "old"
    subprocess.run(["cp", "-r", str(file_run), str(old)], check=True)
    state = torch.load(old / "generator.pt", weights_only=True)
    record = state.pop("decoding")
    torch.save(state, old / "generator.pt")                # as the committed reference runs were written
    messages = []
    *_, normalizer, mel_cfg = load_for_sampling(old, log=messages.append)
    np.testing.assert_allclose(normalizer.std, record["band_std"].numpy())
    assert mel_cfg.n_mels == 16 and "reading it from the data set 'set.npz'" in messages[0]
    (old / "set.npz").unlink()
    assert main(["sample", "--run", str(old), "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith(f"error: {old}: its generator holds no normaliser and its data set cannot be read")
    assert "data.source 'set.npz': no prepared data set at" in err


def test_relative_sources_resolve_against_the_run_folder(file_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    prepared = load_data(DataConfig(source="set.npz"), run_dir=file_run)
    assert prepared.path == file_run / "set.npz"
    with pytest.raises(FileNotFoundError, match=r"data.source 'set.npz': no prepared data set at .*/set.npz "
                       r"\(give an absolute path"):
        load_data(DataConfig(source="set.npz"))


def test_the_committed_reference_generators_load_and_make_long_pieces():
    """Every committed reference run holds its decoding record and makes a piece longer than its clips."""
    from musicgan.runs import generate

    paths = sorted((ROOT / "reference" / "music_gan").glob("*-s[0-9]*/generator.pt"))
    assert {p.parent.name.split("-s")[0] for p in paths} == {"conv", "lstm"}
    for path in paths:
        assert "decoding" in torch.load(path, weights_only=True)
        net_G, cfg, shape, step, normalizer, mel_cfg = load_for_sampling(path.parent)
        assert generate(net_G, 1, seed=0, n_frames=3 * shape[1]).shape == (1, shape[0], 3 * shape[1])
