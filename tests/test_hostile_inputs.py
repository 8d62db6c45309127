"""Issue 16: a folder of hostile inputs, made on the fly, fed through ``prepare``.

It holds the kinds that were already handled (24-bit, 8-bit, extensible-header and 6-channel WAVs, mp3, Opus,
broken headers, files shorter than a clip, NaN/inf samples, empty and text files) beside the kinds the issue
found (absurd float samples, names that are not UTF-8, broken and looping links, links to folders, a pipe, a
folder that cannot be listed, text named .mp3, .m4a without ffmpeg, DC offset, anti-phase stereo). The test
checks the summary line, the reason given for each skipped entry, and that every input is unchanged.
"""
import errno
import hashlib
import os
import shutil

import numpy as np
import pytest
import soundfile as sf

from musicgan.__main__ import main
from musicgan.dataset import load_prepared

SR = 16000


def _tone(seconds=2.5, sr=SR, freqs=(440.0,), amp=0.3):
    t = np.arange(int(seconds * sr)) / sr
    return np.stack([amp * np.sin(2 * np.pi * f * t) for f in freqs], axis=1).astype(np.float32)


def _write_audio(root):
    """The readable files (2.5 s of tone, 2 clips of 1.008 s each, unless noted)."""
    sf.write(root / "stereo44k.wav", _tone(sr=44100, freqs=(440.0, 660.0)), 44100)
    sf.write(root / "pcm24.wav", _tone(), SR, subtype="PCM_24")
    sf.write(root / "pcm8.wav", _tone(), SR, subtype="PCM_U8")
    sf.write(root / "six.wav", _tone(freqs=(220.0, 330.0, 440.0, 550.0, 660.0, 770.0)), SR)
    sf.write(root / "wavex.wav", _tone(freqs=(440.0, 550.0)), SR, format="WAVEX")
    sf.write(root / "song.mp3", _tone(), SR, format="MP3")
    sf.write(root / "song.opus", _tone(sr=48000), 48000, format="OGG", subtype="OPUS")
    (root / "sub").mkdir()
    sf.write(root / "sub" / "song.flac", _tone(), SR)
    sf.write(root / "short.wav", _tone(0.5), SR)                                      # read, no clip
    sf.write(root / "dc.wav", np.full(int(2.5 * SR), 0.3, np.float32), SR)            # read, no clip
    sf.write(root / "x.wav", _tone(freqs=(392.0,)), SR)
    os.rename(root / "x.wav", os.path.join(os.fsencode(root), b"caf\xe9.wav"))        # Latin-1 name
    (root / "alias.wav").symlink_to(root / "pcm24.wav")                               # a link to a file


def _write_hostile(root):
    """The entries that must be skipped, each with the reason the summary must give."""
    for name, value in (("nan.wav", np.nan), ("inf.wav", np.inf), ("huge.wav", 3e38)):
        samples = _tone()
        samples[1000] = value
        sf.write(root / name, samples, SR, subtype="FLOAT")
    (root / "broken.wav").write_bytes(b"RIFF\x24\x08\x00\x00WAVEfmt " + bytes(range(256)) * 8)
    (root / "empty.wav").write_bytes(b"")
    (root / "text.wav").write_text("these are not samples")
    (root / "lyrics.mp3").write_text("la la la\n" * 50)
    (root / "cover.txt").write_text("liner notes")
    (root / "song.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(range(256)) * 4)
    (root / "gone.wav").symlink_to(root / "missing.wav")
    (root / "loop.wav").symlink_to(root / "loop.wav")
    (root / "linkdir").symlink_to(root / "sub")
    os.mkfifo(root / "pipe.wav")
    stereo = _tone()
    sf.write(root / "anti.wav", np.concatenate([stereo, -stereo], axis=1), SR, subtype="FLOAT")
    (root / "locked").mkdir()
    sf.write(root / "locked" / "hidden.wav", _tone(), SR)


EXPECTED_SKIPS = {
    "anti.wav": "the channels cancel when mixed to mono: the mix is silent (channels in anti-phase?)",
    "broken.wav": "cannot decode:",
    "cover.txt": "not an audio file extension (.txt)",
    "empty.wav": "empty file (0 bytes)",
    "gone.wav": "broken symbolic link (its target",
    "huge.wav": "samples reach 3e+38, more than 1e+06 times full scale (a damaged float file?)",
    "inf.wav": "contains NaN or infinite samples",
    "linkdir": "symbolic link to a folder (not followed, so that no folder is read twice)",
    "locked": "cannot open folder: permission denied",
    "loop.wav": "symbolic link loop (the link points back to itself)",
    "lyrics.mp3": "not audio: the file holds text (it begins 'la la la\\nla la la\\nla')",
    "nan.wav": "contains NaN or infinite samples",
    "pipe.wav": "not a regular file (a named pipe)",
    "song.m4a": "cannot decode .m4a files: they need ffmpeg, which is not installed (e.g. apt-get install ffmpeg)",
    "text.wav": "not audio: the file holds text (it begins 'these are not sample')",
}
CLIPS = {"alias.wav": 2, "caf\\xe9.wav": 2, "dc.wav": 0, "pcm24.wav": 2, "pcm8.wav": 2, "short.wav": 0, "six.wav": 2,
         "song.mp3": 2, "song.opus": 2, "stereo44k.wav": 2, "sub/song.flac": 2, "wavex.wav": 2}


def _state(root):
    """Bytes (sha256) and modification time of each file, target of each link, kind of everything else."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                state[path] = ("link", os.readlink(path))
            elif os.path.isfile(path):
                with open(path, "rb") as f:
                    state[path] = ("file", hashlib.sha256(f.read()).hexdigest(), os.stat(path).st_mtime_ns)
            else:
                state[path] = ("other", os.lstat(path).st_mode)
    return state


@pytest.fixture
def hostile(tmp_path, monkeypatch):
    root = tmp_path / "hostile"
    root.mkdir()
    _write_audio(root)
    _write_hostile(root)
    real_scandir = os.scandir

    def scandir(path):               # what a non-root user meets in a mode-000 folder (tests run as root too)
        if os.fspath(path) == str(root / "locked"):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(shutil, "which", lambda name: None)    # the same answer with or without ffmpeg
    return root


def test_prepare_names_every_hostile_input_and_changes_none(hostile, tmp_path, capsys):
    before = _state(hostile)
    out = tmp_path / "set.npz"
    assert main(["prepare", "--audio-dir", str(hostile), "--out", str(out), "--no-progress"]) == 0
    captured = capsys.readouterr()
    n_read, n_clips = len(CLIPS), sum(CLIPS.values())
    assert (f"files read: {n_read} (2 gave no clip); files skipped: {len(EXPECTED_SKIPS)}; clips made: {n_clips}"
            in captured.out.splitlines())
    skipped = dict(line.removeprefix("skipped ").split(": ", 1) for line in captured.err.splitlines()
                   if line.startswith("skipped "))
    assert set(skipped) == set(EXPECTED_SKIPS)
    for name, reason in EXPECTED_SKIPS.items():
        assert skipped[name].startswith(reason), (name, skipped[name])
    assert "no clips from dc.wav: every clip below the silence level once its DC offset is removed" in captured.err
    assert "no clips from short.wav: shorter than one clip" in captured.err
    prepared = load_prepared(out)
    assert prepared.n_clips == n_clips and np.isfinite(prepared.mels).all()
    assert {name: prepared.sources.count(name) for name in set(prepared.sources)} == {
        ("caf\udce9.wav" if k == "caf\\xe9.wav" else k): v for k, v in CLIPS.items() if v}
    assert _state(hostile) == before                                   # nothing the user gave was changed


def test_prepare_into_the_hostile_folder_is_refused_before_reading_it(hostile, capsys):
    before = _state(hostile)
    for out in (hostile / "pcm24.wav", hostile / "alias.wav", hostile / "sub" / ".." / "new.npz"):
        assert main(["prepare", "--audio-dir", str(hostile), "--out", str(out), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: refusing to write prepared data set") and "skipped" not in err
    assert _state(hostile) == before
