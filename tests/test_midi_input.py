"""Issue 13, item 6: ``prepare --midi-dir`` renders a folder of MIDI files as the chorales are rendered and cuts
clips as for audio; every MIDI file that cannot be read is named with its reason and skipped."""
import hashlib
import shutil

import numpy as np
import pretty_midi
import pytest

from musicgan.__main__ import main
from musicgan.audio import clip_audio
from musicgan.chorales import find_soundfont, render_midi_file, synthesize_harmonic
from musicgan.dataset import clip_source_audio, load_prepared
from musicgan.mel import MelConfig, log_mel_spectrogram

CFG = MelConfig()


def _piece(pitches, seconds_per_note=0.5, program=19):
    midi = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=program)
    for i, pitch in enumerate(pitches):
        inst.notes.append(pretty_midi.Note(100, pitch, i * seconds_per_note, (i + 1) * seconds_per_note))
    midi.instruments.append(inst)
    return midi


@pytest.fixture
def midi_folder(tmp_path):
    root = tmp_path / "midi"
    (root / "sub").mkdir(parents=True)
    _piece([60, 62, 64, 65, 67, 69, 71, 72]).write(str(root / "scale.mid"))            # 4 s of notes
    _piece([48, 55, 64, 67, 72, 67], seconds_per_note=1.0).write(str(root / "sub" / "arpeggio.midi"))  # 6 s
    good = (root / "scale.mid").read_bytes()
    (root / "truncated.mid").write_bytes(good[:30])                                  # a broken MIDI file
    (root / "notes.mid").write_text("not a midi file")
    (root / "empty.mid").write_bytes(b"")
    drums = _piece([36, 38], program=0)
    drums.instruments[0].is_drum = True
    drums.write(str(root / "drums.mid"))                                             # no pitched note
    (root / "readme.txt").write_text("my scores")
    return root


def _expected_mels(path):
    audio = synthesize_harmonic(pretty_midi.PrettyMIDI(str(path)), CFG.sample_rate).astype(np.float32)
    clips, _ = clip_audio(audio, CFG.clip_samples, CFG.clip_samples)
    return log_mel_spectrogram(clips, CFG).numpy()


def test_prepare_midi_dir_renders_clips_and_names_bad_files(midi_folder, tmp_path, capsys):
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in midi_folder.rglob("*") if p.is_file()}
    out = tmp_path / "midi.npz"
    assert main(["prepare", "--midi-dir", str(midi_folder), "--out", str(out), "--no-progress"]) == 0
    captured = capsys.readouterr()
    # scale: 4 s of notes + 1 s of tail = 80000 samples -> 4 whole clips of 16128; arpeggio: 7 s -> 6 clips
    assert "files read: 2; files skipped: 5; clips made: 10" in captured.out
    skipped = dict(line.removeprefix("skipped ").split(": ", 1) for line in captured.err.splitlines()
                   if line.startswith("skipped "))
    assert skipped == {"drums.mid": "the MIDI file holds no pitched note",
                       "empty.mid": "not a readable MIDI file: EOFError",
                       "notes.mid": "not a readable MIDI file: MThd not found. Probably not a MIDI file",
                       "readme.txt": "not a MIDI file extension (.txt)",
                       "truncated.mid": skipped["truncated.mid"]}
    assert skipped["truncated.mid"].startswith("not a readable MIDI file")
    prepared = load_prepared(out)
    assert prepared.sources == ["scale.mid"] * 4 + ["sub/arpeggio.midi"] * 6
    assert prepared.params["source"] == {"kind": "midi-folder", "path": str(midi_folder.resolve()),
                                         "renderer": "harmonic", "soundfont": None}
    expected = np.concatenate([_expected_mels(midi_folder / "scale.mid"),
                               _expected_mels(midi_folder / "sub" / "arpeggio.midi")])
    np.testing.assert_allclose(prepared.mels, expected, atol=0.05)                 # float16 storage of dB
    np.testing.assert_array_equal(clip_source_audio(prepared, 5),                  # clips can be re-rendered
                                  render_midi_file(midi_folder / "sub" / "arpeggio.midi", CFG.sample_rate)[
                                      CFG.clip_samples:2 * CFG.clip_samples])
    assert before == {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in midi_folder.rglob("*") if p.is_file()}


def test_prepare_midi_dir_errors_are_one_line(tmp_path, capsys):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "x.mid").write_text("nope")
    assert main(["prepare", "--midi-dir", str(folder), "--out", str(tmp_path / "o.npz"), "--no-progress"]) == 2
    assert "error: no clips from" in capsys.readouterr().err and not (tmp_path / "o.npz").exists()
    assert main(["prepare", "--midi-dir", str(tmp_path / "missing"), "--no-progress"]) == 2
    assert capsys.readouterr().err.startswith("error: --midi-dir")
    with pytest.raises(SystemExit) as info:                 # one source at a time
        main(["prepare", "--midi-dir", str(folder), "--audio-dir", str(folder)])
    assert info.value.code == 2


@pytest.mark.skipif(find_soundfont() is None or shutil.which("fluidsynth") is None,
                    reason="needs the fluidsynth program and a General MIDI soundfont")
def test_prepare_midi_dir_with_fluidsynth(midi_folder, tmp_path, capsys):
    out = tmp_path / "fs.npz"
    assert main(["prepare", "--midi-dir", str(midi_folder), "--renderer", "fluidsynth", "--out", str(out),
                 "--no-progress"]) == 0
    prepared = load_prepared(out)
    assert prepared.params["source"]["renderer"] == "fluidsynth" and prepared.params["source"]["soundfont"]
    assert set(prepared.sources) == {"scale.mid", "sub/arpeggio.midi"} and np.isfinite(prepared.mels).all()
    assert "files read: 2; files skipped: 5" in capsys.readouterr().out


def test_a_file_fluidsynth_fails_on_is_named_not_fatal(midi_folder, monkeypatch):
    import subprocess

    from musicgan import chorales
    from musicgan.audio import AudioReadError

    def failing(midi, fs, soundfont=None):
        raise subprocess.CalledProcessError(1, ["fluidsynth"], stderr=b"bad")

    monkeypatch.setattr(chorales, "render_fluidsynth", failing)
    with pytest.raises(AudioReadError, match=r"^fluidsynth could not render it: Command '\['fluidsynth'\]' returned"):
        render_midi_file(midi_folder / "scale.mid", CFG.sample_rate, "fluidsynth")
