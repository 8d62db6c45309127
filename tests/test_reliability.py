"""Issue 16: every input a user can give gets a clear answer, and nothing of theirs is lost.

One test (or a few) per item of the issue, each with its right value; the hostile-folder suite that feeds
all kinds at once through ``prepare`` is in ``test_hostile_inputs.py``.
"""
import builtins
import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicgan import audio as audio_module
from musicgan.__main__ import main
from musicgan.audio import ReadReport, clip_audio, iter_folder_clips, load_mono
from musicgan.config import apply_overrides, load_config, preset
from musicgan.dataset import MelAccumulator, load_prepared, save_prepared
from musicgan.mel import MelConfig
from musicgan.runs import checkpoint_paths, load_generator
from musicgan.train import NonFiniteLossError, Trainer, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CFG = MelConfig()
QUIET = ["train.image_every=100"]


def _tone(seconds=2.5, sr=16000, freq=440.0, amp=0.3):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _bytes(root):
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


def _two_wavs(root):
    root.mkdir(parents=True, exist_ok=True)
    sf.write(root / "song.wav", _tone(), 16000)
    sf.write(root / "other.wav", _tone(freq=330.0), 16000)
    return root


def _prepare(*args):
    return main(["prepare", *map(str, args), "--no-progress"])


# 1. --out never replaces an input or a file that is not a prepared data set, however it is spelled.

@pytest.mark.parametrize("spelling", ["plain", "dotdot", "symlinked folder"])
def test_prepare_refuses_an_out_that_is_one_of_its_inputs(tmp_path, capsys, spelling):
    folder = _two_wavs(tmp_path / "D")
    (tmp_path / "link").symlink_to(folder)
    out = {"plain": folder / "song.wav", "dotdot": folder / ".." / "D" / "song.wav",
           "symlinked folder": tmp_path / "link" / "song.wav"}[spelling]
    before = _bytes(folder)
    assert _prepare("--audio-dir", folder, "--out", out) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("error: refusing to write prepared data set")
    assert "lies in the input folder" in captured.err and "files read" not in captured.out   # before any work
    assert _bytes(folder) == before


def test_prepare_refuses_to_replace_a_file_that_is_not_a_data_set(tmp_path, capsys):
    folder = _two_wavs(tmp_path / "D")
    notes = tmp_path / "notes.npz"
    notes.write_bytes(b"my thesis")
    assert _prepare("--audio-dir", folder, "--out", notes) == 2
    assert "refusing to replace" in capsys.readouterr().err and notes.read_bytes() == b"my thesis"
    good = tmp_path / "set.npz"
    assert _prepare("--audio-dir", folder, "--out", good) == 0
    assert _prepare("--audio-dir", folder, "--out", good) == 0             # its own kind: rebuilt in place


def test_sample_and_evaluate_refuse_tracked_and_foreign_files(tmp_run, tmp_path, capsys):
    out = tmp_path / "repo" / "samples"
    out.mkdir(parents=True)
    (out / "sample-00.wav").write_bytes(b"committed")
    subprocess.run(["git", "init", "-q"], cwd=out.parent, check=True)
    subprocess.run(["git", "add", "samples/sample-00.wav"], cwd=out.parent, check=True)
    assert main(["sample", "--run", str(tmp_run), "-n", "2", "--out", str(out)]) == 2
    assert "git tracks it" in capsys.readouterr().err and (out / "sample-00.wav").read_bytes() == b"committed"
    wav = tmp_path / "keep.wav"
    sf.write(wav, _tone(), 16000)
    before = wav.read_bytes()
    assert main(["evaluate", "--run", str(tmp_run), "--out", str(wav)]) == 2
    assert "is not a JSON report" in capsys.readouterr().err and wav.read_bytes() == before


def test_train_refuses_a_folder_of_other_files(tmp_path, capsys):
    folder = tmp_path / "music"
    folder.mkdir()
    (folder / "config.txt").write_text("mine")
    assert main(["train", "--config", "tiny", "--out", str(folder)]) == 2
    assert "is not a run folder" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["config.txt"]


# 2. Every file and folder under --audio-dir is read or named with its true reason.

def test_an_unreadable_sub_folder_is_named(tmp_path, monkeypatch):
    folder = _two_wavs(tmp_path / "D")
    (folder / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path):                       # what a non-root user meets in a mode-000 folder
        if os.fspath(path).endswith("locked"):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report, messages = ReadReport(), []
    list(iter_folder_clips(folder, 16000, CFG.clip_samples, CFG.clip_samples, report=report, log=messages.append))
    assert report.skipped == [("locked", "cannot open folder: permission denied")]
    assert report.summary() == "files read: 2; files skipped: 1; clips made: 4"


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root to drop to nobody")
def test_an_unreadable_sub_folder_is_named_for_a_real_unprivileged_user(tmp_path):
    base = tempfile.mkdtemp(prefix="musicgan-perm-", dir="/tmp")
    try:
        os.chmod(base, 0o777)
        folder = _two_wavs(Path(base) / "D")
        (folder / "locked").mkdir(mode=0o000)
        for p in [folder, *folder.iterdir()]:
            os.chmod(p, 0o000 if p.name == "locked" else 0o755 if p.is_dir() else 0o644)
        code = ("import sys; from musicgan.audio import ReadReport, iter_folder_clips as it; r = ReadReport(); "
                f"list(it({str(folder)!r}, 16000, 16128, 16128, report=r, log=lambda m: None)); print(r.skipped)")
        root = Path(__file__).resolve().parents[1]
        done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
                               "-c", code], cwd=root, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(root), "HOME": base})
        if done.returncode != 0:
            pytest.skip(f"the unprivileged user cannot run the code here: {done.stderr[-200:]}")
        assert done.stdout.strip() == "[('locked', 'cannot open folder: permission denied')]"
    finally:
        os.chmod(os.path.join(base, "D", "locked"), 0o755)
        shutil.rmtree(base)


def test_a_file_name_that_is_not_utf8_is_read(tmp_path):
    folder = tmp_path / "D"
    folder.mkdir()
    sf.write(folder / "x.wav", _tone(), 16000)
    os.rename(folder / "x.wav", os.path.join(os.fsencode(folder), b"caf\xe9.wav"))
    report, messages = ReadReport(), []
    got = list(iter_folder_clips(folder, 16000, CFG.clip_samples, CFG.clip_samples, report=report,
                                 log=messages.append))
    assert report.clips_per_file == {"caf\\xe9.wav": 2} and report.skipped == []
    out = tmp_path / "set.npz"
    assert _prepare("--audio-dir", folder, "--out", out) == 0
    assert load_prepared(out).n_clips == 2 and len(got) == 1


def test_broken_and_looping_symlinks_are_named(tmp_path):
    folder = _two_wavs(tmp_path / "D")
    (folder / "gone.wav").symlink_to(folder / "missing.wav")
    (folder / "self.wav").symlink_to(folder / "self.wav")
    (folder / "alias.wav").symlink_to(folder / "song.wav")              # a link to a file is read
    report = ReadReport()
    list(iter_folder_clips(folder, 16000, CFG.clip_samples, CFG.clip_samples, report=report, log=lambda m: None))
    skipped = dict(report.skipped)
    assert skipped["gone.wav"].startswith("broken symbolic link (its target") and "missing.wav" in skipped["gone.wav"]
    assert skipped["self.wav"] == "symbolic link loop (the link points back to itself)"
    assert set(report.clips_per_file) == {"alias.wav", "other.wav", "song.wav"}


# 3. Finite but absurd samples never reach a data set; train checks a data set's values on load.

def test_an_absurd_float_sample_skips_the_file(tmp_path, capsys):
    folder = _two_wavs(tmp_path / "D")
    bad = _tone()
    bad[1000] = 3e38
    sf.write(folder / "damaged.wav", bad, 16000, subtype="FLOAT")
    out = tmp_path / "set.npz"
    assert _prepare("--audio-dir", folder, "--out", out) == 0
    captured = capsys.readouterr()
    assert "skipped damaged.wav: samples reach 3e+38, more than 1e+06 times full scale" in captured.err
    prepared = load_prepared(out)
    assert np.isfinite(prepared.mels).all() and np.isfinite(prepared.normalizer.std).all()
    assert "damaged.wav" not in prepared.sources


def test_train_refuses_a_data_set_with_non_finite_values(tmp_path, capsys):
    acc = MelAccumulator(CFG)
    acc.add("piece", np.stack([_tone(1.008)[:CFG.clip_samples]] * 2), np.zeros(2))
    good = save_prepared(tmp_path / "good.npz", acc, {"format_version": 1, "mel": CFG.to_dict()})
    with np.load(good) as data:
        arrays = dict(data)
    arrays["mels"] = arrays["mels"].copy()
    arrays["mels"][1, 0, 0] = np.inf
    np.savez(tmp_path / "bad.npz", **arrays)
    assert main(["train", "--config", "tiny", "--set", f"data.source={tmp_path / 'bad.npz'}",
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "bad.npz cannot be used: it holds 1 clip(s) with NaN or infinite values, from piece" in err
    with pytest.raises(ValueError, match="NaN or infinite"):        # nor can such clips be written
        acc2 = MelAccumulator(CFG)
        acc2._mels, acc2.sources, acc2.starts = [arrays["mels"]], ["piece"] * 2, [np.zeros(2)]
        save_prepared(tmp_path / "never.npz", acc2, {})
    assert not (tmp_path / "never.npz").exists()


# 4. Resume: apply what can change, refuse what cannot, fall back past unreadable checkpoints.

@pytest.fixture(scope="module")
def tiny_run_master(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    train(apply_overrides(preset("tiny"), QUIET), out, log=lambda m: None)
    return out


@pytest.fixture
def tmp_run(tiny_run_master, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(tiny_run_master, out)
    return out


def test_resume_applies_a_new_learning_rate(tmp_run):
    cfg = load_config(str(tmp_run / "config.json"), ["optim.lr_g=0.1", "train.steps=8"])
    trainer = Trainer(cfg, tmp_run, resume=True, log=lambda m: None)
    assert trainer.step == 6
    assert [g["lr"] for g in trainer.opt_G.param_groups] == [0.1]
    assert [g["lr"] for g in trainer.opt_D.param_groups] == [2e-4]


@pytest.mark.parametrize("override, listed", [("model.g_channels=8", "model.g_channels: 4 -> 8"),
                                              ("loss.pack=1", "loss.pack: 2 -> 1")])
def test_resume_refuses_settings_that_fix_the_networks(tmp_run, capsys, override, listed):
    assert main(["train", "--out", str(tmp_run), "--resume", "--set", override]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --resume cannot change") and listed in err and err.count("\n") == 1


def test_resume_falls_back_past_a_truncated_checkpoint(tmp_run, capsys):
    newest = checkpoint_paths(tmp_run)[-1]
    newest.write_bytes(newest.read_bytes()[:1000])
    messages = []
    trainer = Trainer(load_config(str(tmp_run / "config.json")), tmp_run, resume=True, log=messages.append)
    assert trainer.step == 3
    assert any(str(newest) in m and "not a readable checkpoint" in m for m in messages)
    assert messages[-1].startswith("resumed from") and "ckpt-0000003.pt" in messages[-1]


def test_a_truncated_generator_falls_back_to_a_checkpoint(tmp_run):
    gen = tmp_run / "generator.pt"
    gen.write_bytes(gen.read_bytes()[:500])
    messages = []
    _, _, _, step = load_generator(tmp_run, log=messages.append)
    assert step == 6 and "generator.pt is not a readable checkpoint" in messages[0]


# 5. Config values are checked for type and range; an unknown preset lists the valid ones.

@pytest.mark.parametrize("values, message", [
    ({"preset": "tinny", "data": {"source": "synthetic"}, "train": {"steps": 1, "progress": False}},
     "unknown preset 'tinny'; valid presets: tiny, cpu, gpu"),
    ({"preset": "tiny", "train": {"steps": True}}, "train.steps must be an integer, got True"),
    ({"preset": "tiny", "train": {"progress": 5}}, "train.progress must be true or false, got 5"),
    ({"preset": "tiny", "optim": {"lr_g": "fast"}}, "optim.lr_g must be a number, got 'fast'"),
    ({"preset": "tiny", "data": {"source": 3}}, "data.source must be a string, got 3"),
])
def test_config_file_typos_are_refused(tmp_path, capsys, values, message):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(values))
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "r")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


# 6. Output paths are checked before the work, and no temporary file is left behind.

def test_out_paths_are_checked_before_any_decoding(tmp_path, capsys, monkeypatch):
    folder = _two_wavs(tmp_path / "D")
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "a_folder").mkdir()
    decoded = []
    monkeypatch.setattr(audio_module, "_load_soundfile", lambda *a: decoded.append(a))
    assert _prepare("--audio-dir", folder, "--out", tmp_path / "a_file" / "set.npz") == 2
    assert "a_file is a file, not a folder" in capsys.readouterr().err
    assert _prepare("--audio-dir", folder, "--out", tmp_path / "a_folder") == 2
    assert "it is a folder; give a file name" in capsys.readouterr().err
    read_only = tmp_path / "ro"
    read_only.mkdir()
    real_access = os.access
    monkeypatch.setattr("musicgan.outputs.os.access",         # root may write anywhere: simulate a user
                        lambda p, mode: False if os.fspath(p) == str(read_only) else real_access(p, mode))
    assert _prepare("--audio-dir", folder, "--out", read_only / "set.npz") == 2
    assert f"no permission to write in {read_only}" in capsys.readouterr().err
    assert decoded == [] and list(read_only.iterdir()) == []


def test_a_failed_save_leaves_no_temporary_file(tmp_path):
    acc = MelAccumulator(CFG)
    acc.add("piece", np.stack([_tone(1.008)[:CFG.clip_samples]] * 2), np.zeros(2))
    (tmp_path / "set.npz").mkdir()                               # os.replace onto a folder fails
    with pytest.raises(OSError):
        save_prepared(tmp_path / "set.npz", acc, {"format_version": 1, "mel": CFG.to_dict()})
    assert [p.name for p in tmp_path.iterdir()] == ["set.npz"]


# 7. evaluate on a small run says how many clips there are and which -n / --k fit.

def test_evaluate_on_a_tiny_run_says_which_n_and_k_fit(tmp_run, capsys):
    assert main(["evaluate", "--run", str(tmp_run)]) == 2
    err = capsys.readouterr().err
    assert err == ("error: the run's data set has 48 training and 16 held-out clips; -n 1000 takes 48 training "
                   "clips for the 'real (training)' row and leaves 0 for the 50 NDB bins (k-means needs at least "
                   "--k clips): use -n 24 --k 24\n")
    assert main(["evaluate", "--run", str(tmp_run), "-n", "16", "--k", "50"]) == 2
    assert "leaves 32 for the 50 NDB bins (k-means needs at least --k clips): use --k 32 or less" in capsys.readouterr().err


# 8. A data.source that is not a prepared data set: one line, run prepare.

@pytest.mark.parametrize("kind", ["wav", "truncated npz", "other npz"])
def test_a_data_source_that_is_not_a_prepared_set(tmp_path, capsys, kind):
    path = tmp_path / ("x.wav" if kind == "wav" else "x.npz")
    if kind == "wav":
        sf.write(path, _tone(), 16000)
    elif kind == "other npz":
        np.savez(path, a=np.zeros(3))
    else:
        np.savez(path, params=np.array("{}"), mels=np.zeros((50, 64, 64)))
        path.write_bytes(path.read_bytes()[:3000])
    assert main(["train", "--config", "tiny", "--set", f"data.source={path}", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path} is not a prepared mel data set" in err
    assert "run `python -m musicgan prepare`" in err or "make one with `python -m musicgan prepare`" in err
    assert "allow_pickle" not in err and "Traceback" not in err


# 9. Skip reasons say what is true.

def test_skip_reasons_are_true(tmp_path, monkeypatch):
    folder = tmp_path / "D"
    folder.mkdir()
    sf.write(folder / "locked.wav", _tone(), 16000)
    (folder / "lyrics.mp3").write_text("la la la, this is a text file\n" * 20)
    (folder / "song.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(range(256)) * 4)
    real_open = builtins.open

    def guarded_open(path, *args, **kwargs):      # as a user without read permission meets it
        if os.fspath(path).endswith("locked.wav"):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(audio_module, "open", guarded_open, raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)    # no ffmpeg on this machine
    report = ReadReport()
    list(iter_folder_clips(folder, 16000, CFG.clip_samples, CFG.clip_samples, report=report, log=lambda m: None))
    assert dict(report.skipped) == {
        "locked.wav": "cannot open: permission denied",
        "lyrics.mp3": "not audio: the file holds text (it begins 'la la la, this is a ')",
        "song.m4a": "cannot decode .m4a files: they need ffmpeg, which is not installed (e.g. apt-get install ffmpeg)"}


# 10 is in test_wasserstein.py (float32 weights, (n, 1) points).

# 11. Smaller ones.

def test_a_pure_dc_offset_is_silence():
    clips, starts = clip_audio(np.full(40000, 0.5, np.float32), 16000, 16000)
    assert clips.shape == (0, 16000) and starts.size == 0
    music = _tone(2.5) + 0.5                                        # music on a DC offset is still music
    assert clip_audio(music, 16000, 16000)[0].shape == (2, 16000)


def test_anti_phase_stereo_is_named_as_cancelled(tmp_path):
    tone = _tone()
    sf.write(tmp_path / "exact.wav", np.stack([tone, -tone], axis=1), 16000, subtype="FLOAT")
    with pytest.raises(audio_module.AudioReadError, match=r"^the channels cancel when mixed to mono: the mix is "
                       r"silent \(channels in anti-phase\?\)$"):
        load_mono(tmp_path / "exact.wav", 16000)
    sf.write(tmp_path / "pcm.wav", np.stack([tone, -tone], axis=1), 16000, subtype="PCM_16")
    stereo, _ = sf.read(tmp_path / "pcm.wav", dtype="float32")      # 16-bit rounding leaves a residue
    drop = 10 * np.log10(np.square(stereo, dtype=np.float64).sum(0).max()
                         / np.square(stereo.mean(axis=1), dtype=np.float64).sum())
    with pytest.raises(audio_module.AudioReadError, match=f"the mix is {drop:.0f} dB below the loudest channel"):
        load_mono(tmp_path / "pcm.wav", 16000)
    sf.write(tmp_path / "stereo.wav", np.stack([tone, 0.5 * tone], axis=1), 16000)
    assert load_mono(tmp_path / "stereo.wav", 16000).size == tone.size   # ordinary stereo is read


def test_fmax_follows_the_sample_rate(tmp_path, capsys):
    folder = tmp_path / "D"
    folder.mkdir()
    sf.write(folder / "a.wav", _tone(3.0, 8000, 300.0), 8000)
    out = tmp_path / "set.npz"
    assert _prepare("--audio-dir", folder, "--out", out, "--sample-rate", "8000") == 0
    assert load_prepared(out).mel_config.fmax == 4000.0
    assert _prepare("--audio-dir", folder, "--out", out, "--sample-rate", "8000", "--fmax", "5000") == 2
    assert "fmax=5000.0" in capsys.readouterr().err


def test_a_nan_at_step_0_says_no_checkpoint_was_written(tmp_path, monkeypatch):
    import musicgan.train as train_module

    real_loss = train_module.generator_loss
    monkeypatch.setattr(train_module, "generator_loss",
                        lambda net_D, fake, cfg: (real_loss(net_D, fake, cfg)[0] * float("nan"), {}))
    with pytest.raises(NonFiniteLossError) as info:
        train(apply_overrides(preset("tiny"), QUIET), tmp_path / "run", log=lambda m: None)
    assert "at step 0" in str(info.value) and "No checkpoint had been written yet" in str(info.value)
    assert "None" not in str(info.value)


def test_evaluate_may_replace_its_own_committed_report_but_not_a_run_file(tmp_run, tmp_path, capsys):
    report = tmp_run / "report.json"
    report.write_text(json.dumps({"settings": {}, "rows": {}}))
    subprocess.run(["git", "init", "-q"], cwd=tmp_run, check=True)
    subprocess.run(["git", "add", "report.json"], cwd=tmp_run, check=True)
    assert main(["evaluate", "--run", str(tmp_run), "-n", "16", "--k", "4", "--n-audio", "1", "--out", str(report)]) == 0
    assert set(json.loads(report.read_text())["rows"]) >= {"run", "held-out real"}
    before = (tmp_run / "config.json").read_bytes()
    assert main(["evaluate", "--run", str(tmp_run), "--out", str(tmp_run / "config.json")]) == 2
    assert "is the input" in capsys.readouterr().err and (tmp_run / "config.json").read_bytes() == before


def test_decoder_noise_does_not_bury_the_reason(tmp_path):
    """libsndfile's mp3 decoder prints "Note: Illegal Audio-MPEG-Header ..." on file descriptor 2."""
    folder = tmp_path / "D"
    folder.mkdir()
    (folder / "noise.mp3").write_bytes(np.random.default_rng(0).integers(1, 256, 5000, dtype=np.uint8).tobytes())
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "musicgan", "prepare", "--audio-dir", str(folder), "--out",
                           str(tmp_path / "x.npz"), "--no-progress"], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(root)}, timeout=300)
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["skipped noise.mp3: cannot decode: Format not recognised.",
                                        f"error: no clips from {folder}: files read: 0; files skipped: 1; "
                                        "clips made: 0"]
