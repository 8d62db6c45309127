"""Reading a user's folder of music: the right clips from the readable files, a named reason for every other
file, a summary, a non-zero exit when nothing is usable, and nothing the user gave modified."""
import hashlib

import librosa
import numpy as np
import pytest
import soundfile as sf

from musicgan.__main__ import main
from musicgan.audio import ReadReport, clip_audio, iter_folder_clips, load_mono
from musicgan.dataset import load_prepared
from musicgan.mel import MelConfig, log_mel_spectrogram

CFG = MelConfig()


def _tone(seconds, sr, freqs, amp=0.3):
    t = np.arange(int(seconds * sr)) / sr
    return np.stack([amp * np.sin(2 * np.pi * f * t) for f in freqs], axis=1)


@pytest.fixture
def music_folder(tmp_path):
    """The folder of the issue: stereo 44.1 kHz, mono 8 kHz (in a sub-folder), corrupt, empty, text as .wav."""
    root = tmp_path / "music"
    (root / "sub").mkdir(parents=True)
    sf.write(root / "stereo44k.wav", _tone(3.5, 44100, [440.0, 660.0]), 44100)          # 3 clips
    sf.write(root / "sub" / "mono8k.flac", _tone(2.5, 8000, [300.0])[:, 0], 8000)        # 2 clips
    (root / "empty.wav").write_bytes(b"")
    (root / "notes.wav").write_text("these are not samples")
    (root / "sub" / "corrupt.wav").write_bytes(b"RIFF\x24\x08\x00\x00WAVEfmt " + bytes(range(256)) * 8)
    (root / "cover.txt").write_text("liner notes")
    sf.write(root / "silence.ogg", np.zeros(40000), 16000)                                # readable, silent
    return root


def _fingerprint(root):
    return {p.relative_to(root): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_folder_gives_the_right_clips_and_messages(music_folder):
    before = _fingerprint(music_folder)
    report, messages = ReadReport(), []
    got = {name: (clips, starts) for name, clips, starts in
           iter_folder_clips(music_folder, CFG.sample_rate, CFG.clip_samples, CFG.clip_samples,
                             report=report, log=messages.append)}
    assert {n: len(c) for n, (c, _) in got.items()} == {"silence.ogg": 0, "stereo44k.wav": 3, "sub/mono8k.flac": 2}
    skipped = dict(report.skipped)
    assert skipped["empty.wav"] == "empty file (0 bytes)"
    assert skipped["notes.wav"] == "not audio: the file holds text (it begins 'these are not sample')"
    assert skipped["sub/corrupt.wav"].startswith("cannot decode:")
    assert skipped["cover.txt"] == "not an audio file extension (.txt)"
    assert sum(m.startswith("skipped ") for m in messages) == 4
    assert any(m.startswith("no clips from silence.ogg: every clip below the silence level") for m in messages)
    assert report.summary() == "files read: 3 (1 gave no clip); files skipped: 4; clips made: 5"
    assert _fingerprint(music_folder) == before                    # nothing the user gave was modified


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # audioread, imported by librosa.load
def test_stereo_44k_is_downmixed_and_resampled_like_librosa(music_folder):
    ours = load_mono(music_folder / "stereo44k.wav", CFG.sample_rate)
    ref, _ = librosa.load(music_folder / "stereo44k.wav", sr=CFG.sample_rate, mono=True)  # soxr_hq, mean of channels
    assert ours.dtype == np.float32 and ours.shape == ref.shape == (56000,)
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    low = load_mono(music_folder / "sub" / "mono8k.flac", CFG.sample_rate)
    assert low.shape == (40000,)
    spectrum = np.abs(np.fft.rfft(low))                               # the 300 Hz tone survives upsampling
    assert np.fft.rfftfreq(low.size, 1 / CFG.sample_rate)[spectrum.argmax()] == pytest.approx(300.0, abs=1.0)


def test_clip_audio_hop_tail_and_silence():
    loud = np.resize([0.5, -0.5], 100)                    # a square wave at Nyquist: RMS 0.5 about its mean 0
    audio = np.concatenate([loud, np.zeros(100), loud[:50]]).astype(np.float32)
    clips, starts = clip_audio(audio, 60, 40, silence_db=-60.0)
    # candidate starts 0, 40, ..., 160 (the last 30-sample tail is too short); 120 lies wholly in the silence
    np.testing.assert_array_equal(starts, [0, 40, 80, 160])
    np.testing.assert_array_equal(clips[1], audio[40:100])
    assert clip_audio(audio[:59], 60, 40)[0].shape == (0, 60)
    with pytest.raises(ValueError, match="audio must be 1-D"):
        clip_audio(np.zeros((2, 100)), 60, 40)
    with pytest.raises(ValueError, match="hop_samples must lie"):
        clip_audio(audio, 60, 0)


def test_cli_prepares_the_folder_and_reports(music_folder, tmp_path, capsys):
    out = tmp_path / "set.npz"
    assert main(["prepare", "--audio-dir", str(music_folder), "--out", str(out), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "files read: 3 (1 gave no clip); files skipped: 4; clips made: 5" in captured.out
    assert "skipped notes.wav: not audio: the file holds text" in captured.err
    prepared = load_prepared(out)
    assert prepared.n_clips == 5 and prepared.mels.shape == (5, 256, 64)
    assert prepared.sources == ["stereo44k.wav"] * 3 + ["sub/mono8k.flac"] * 2
    clip = load_mono(music_folder / "stereo44k.wav", CFG.sample_rate)[CFG.clip_samples:2 * CFG.clip_samples]
    expected = log_mel_spectrogram(clip, CFG).numpy()
    np.testing.assert_allclose(prepared.mels[1], expected, atol=0.05)  # float16 storage of dB values


def test_cli_fails_clearly_without_readable_audio(tmp_path, capsys):
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "a.wav").write_text("not audio")
    assert main(["prepare", "--audio-dir", str(folder), "--out", str(tmp_path / "x.npz"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "skipped a.wav: not audio: the file holds text" in err and "error: no clips from" in err
    assert not (tmp_path / "x.npz").exists()
    assert main(["prepare", "--audio-dir", str(tmp_path / "missing"), "--no-progress"]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_cli_help_and_bad_parameters(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["prepare", "--help"])
    assert exit_info.value.code == 0 and "--audio-dir" in capsys.readouterr().out
    assert main(["prepare", "--n-mels", "0", "--no-progress"]) == 2
    assert "n_mels must lie in [1, inf], got 0" in capsys.readouterr().err
