"""The default data set: the Bach chorales that ship with music21, rendered to audio without any download.

Each chorale's MusicXML is read with music21, its notes (ties merged, tempo marks honoured) become a
``pretty_midi.PrettyMIDI`` object, and that is rendered one of two ways:

- ``"harmonic"`` (the default, pip-only, identical on every machine): exactly what
  ``PrettyMIDI.synthesize(fs, wave=harmonic_wave)`` computes -- every note a sum of six harmonics with
  amplitudes 1/k, an exponential decay and a 0.1 s fade-out -- but evaluating the sines once per pitch
  rather than once per note;
- ``"fluidsynth"``: the ``fluidsynth`` program with a General MIDI soundfont (church organ), when both exist.
"""
from __future__ import annotations

import functools
import multiprocessing
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from sims.checks import check_choice, check_int

__all__ = ["HARMONIC_AMPLITUDES", "RENDERERS", "harmonic_wave", "chorale_paths", "chorale_to_midi",
           "synthesize_harmonic", "synthesize_notes", "find_soundfont", "render_fluidsynth", "render_chorale",
           "iter_rendered_chorales", "MIDI_EXTENSIONS", "render_midi_file"]

HARMONIC_AMPLITUDES = tuple(1.0 / k for k in range(1, 7))  # six partials falling 6 dB per octave, like a reed
# stop; the sixth partial of the highest soprano notes (about 1 kHz) stays below the 8 kHz Nyquist frequency
RENDERERS = ("harmonic", "fluidsynth")
VELOCITY = 100                 # every note equally loud: the scores carry no dynamics
DEFAULT_QUARTER_BPM = 120.0    # music21's default when a score has no tempo mark
ORGAN_PROGRAM = 19             # General MIDI "church organ", for the fluidsynth renderer
SOUNDFONT_CANDIDATES = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
                        "/usr/share/soundfonts/FluidR3_GM.sf2", "/usr/share/soundfonts/default.sf2")


def harmonic_wave(phase):
    """sum_k a_k sin(k * phase) with ``a = HARMONIC_AMPLITUDES``: one period per 2 pi of ``phase``."""
    phase = np.asarray(phase, dtype=float)
    return sum(a * np.sin(k * phase) for k, a in enumerate(HARMONIC_AMPLITUDES, start=1))


def chorale_paths() -> list[Path]:
    """The Bach scores of music21's corpus that are MusicXML (410 in music21 10.5), sorted by file name."""
    from music21 import corpus

    paths = [Path(p) for p in corpus.getComposer("bach") if Path(p).suffix in (".mxl", ".xml")]
    return sorted(paths, key=lambda p: p.name)


def _seconds_of(score):
    """A function mapping quarter-note offsets to seconds that follows the score's metronome marks."""
    marks = [(float(a), float(b), m.getQuarterBPM() or DEFAULT_QUARTER_BPM)
             for a, b, m in score.metronomeMarkBoundaries() if b > a]
    if not marks:
        marks = [(0.0, 1.0, DEFAULT_QUARTER_BPM)]
    starts = np.array([a for a, _, _ in marks] + [marks[-1][1]])
    spq = np.array([60.0 / bpm for _, _, bpm in marks])              # seconds per quarter in each section
    seconds = np.concatenate([[0.0], np.cumsum(np.diff(starts) * spq)])

    def to_seconds(offset):
        i = np.clip(np.searchsorted(starts, offset, side="right") - 1, 0, len(spq) - 1)
        return seconds[i] + (offset - starts[i]) * spq[i]
    return to_seconds


def _part_notes(part):
    """(offset, end, midi pitch) in quarter notes for each note of a part, tied notes merged into one."""
    notes, open_ties = [], {}
    for measure in part.getElementsByClass("Measure"):
        for n in measure.recurse().notes:
            start = float(measure.offset + n.getOffsetInHierarchy(measure))
            end = start + float(n.quarterLength)
            if end <= start:                                          # grace notes take no time
                continue
            tie = n.tie.type if n.tie is not None else None
            for p in n.pitches:
                if tie in ("stop", "continue") and p.midi in open_ties:
                    index = open_ties[p.midi]
                    notes[index][1] = end
                else:
                    notes.append([start, end, p.midi])
                    index = len(notes) - 1
                if tie in ("start", "continue"):
                    open_ties[p.midi] = index
                else:
                    open_ties.pop(p.midi, None)
    return notes


def chorale_to_midi(path, *, program: int = ORGAN_PROGRAM):
    """Parse one chorale's MusicXML into a ``PrettyMIDI`` object with one instrument per part."""
    import pretty_midi
    from music21 import converter

    score = converter.parseFile(Path(path), forceSource=True, storePickle=False)  # no cache files written
    to_seconds = _seconds_of(score)
    midi = pretty_midi.PrettyMIDI()
    for part in score.parts:
        instrument = pretty_midi.Instrument(program=program, name=str(part.partName or part.id))
        for start, end, pitch in _part_notes(part):
            instrument.notes.append(pretty_midi.Note(VELOCITY, int(pitch), float(to_seconds(start)),
                                                     float(to_seconds(end))))
        if instrument.notes:
            midi.instruments.append(instrument)
    return midi


def synthesize_harmonic(midi, fs: int) -> np.ndarray:
    """``midi.synthesize(fs, wave=harmonic_wave)``, peak 1, fewer sines: float64 audio ``(samples,)``.

    The notes of every non-drum instrument, in order, go to :func:`synthesize_notes`; the length is
    pretty_midi's, one second past the latest instrument's end.
    """
    check_int(fs, "fs", low=1)
    voices = [inst for inst in midi.instruments if not inst.is_drum]
    notes = np.array([(n.start, n.end, n.pitch) for v in voices for n in v.notes], dtype=np.float64).reshape(-1, 3)
    velocities = np.array([n.velocity for v in voices for n in v.notes], dtype=np.float64)
    n_samples = max((int(fs * (voice.get_end_time() + 1)) for voice in voices), default=0)
    return synthesize_notes(notes, fs, velocities=velocities, n_samples=n_samples)


def synthesize_notes(notes, fs: int, *, velocities=None, n_samples: int | None = None) -> np.ndarray:
    """Render ``notes`` (n, 3) rows (start s, end s, MIDI pitch) as pretty_midi would, peak 1: float64 ``(samples,)``.

    ``velocities`` (n,) default to ``VELOCITY``, ``n_samples`` to one second past the last note's end. In
    pretty_midi every note restarts its phase at zero and decays as exp(-t / 1 s), so all notes of one
    pitch are prefixes of one decaying waveform: it is computed once per pitch (and cached), each note adds
    a slice of it, and only its last 0.1 s (the fade-out, which depends on its length) is done per note.
    """
    check_int(fs, "fs", low=1)
    notes = np.asarray(notes, dtype=np.float64).reshape(-1, 3)
    velocities = np.full(len(notes), float(VELOCITY)) if velocities is None else np.asarray(velocities, np.float64)
    if n_samples is None:
        n_samples = int(fs * (notes[:, 1].max() + 1)) if len(notes) else 0
    out = np.zeros(n_samples)
    fade_len = int(0.1 * fs)
    fade_out = np.linspace(1, 0, fade_len)
    for (start_s, end_s, pitch), velocity in zip(notes.tolist(), velocities.tolist()):
        # sample indices rounded exactly as pretty_midi rounds them
        start, end = int(fs * start_s), int(fs * end_s)
        if end <= start:
            continue
        tone = _decaying_tone(fs, int(pitch), _bucket(end - start))
        segment = velocity * tone[: end - start]
        if segment.size > fade_len:
            segment[-fade_len:] *= fade_out
        else:
            segment *= np.linspace(1, 0, segment.size)
        out[start:end] += segment
    peak = np.abs(out).max() if out.size else 0.0
    return out / peak if peak > 0 else out


def _bucket(n_samples: int) -> int:
    """Round a length up to a power of two (at least 2^14) so the cache holds few waveforms per pitch."""
    return max(1 << 14, 1 << (int(n_samples) - 1).bit_length())


@functools.lru_cache(maxsize=512)
def _decaying_tone(fs: int, pitch: int, n_samples: int) -> np.ndarray:
    """harmonic_wave(2 pi f n / fs) * exp(-n / fs) for n < n_samples, f the pitch's frequency (read-only)."""
    frequency = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
    n = np.arange(n_samples)
    tone = harmonic_wave(2 * np.pi * frequency / fs * n) * np.exp(-n / (1.0 * fs))
    tone.flags.writeable = False
    return tone


def find_soundfont() -> Path | None:
    """A General MIDI soundfont if one is installed (``MUSICGAN_SOUNDFONT`` first), else None."""
    for candidate in (os.environ.get("MUSICGAN_SOUNDFONT"), *SOUNDFONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def render_fluidsynth(midi, fs: int, soundfont=None) -> np.ndarray:
    """Render with the ``fluidsynth`` program and a soundfont; mono float64, peak-normalised to 1."""
    import soundfile

    program = shutil.which("fluidsynth")
    soundfont = Path(soundfont) if soundfont else find_soundfont()
    if program is None or soundfont is None or not soundfont.is_file():
        raise RuntimeError("the fluidsynth renderer needs the fluidsynth program and a .sf2 soundfont "
                           f"(found program={program}, soundfont={soundfont})")
    with tempfile.TemporaryDirectory(prefix="musicgan-") as tmp:
        mid, wav = Path(tmp) / "piece.mid", Path(tmp) / "piece.wav"
        midi.write(str(mid))
        subprocess.run([program, "-ni", "-q", "-g", "0.5", "-r", str(fs), "-F", str(wav), str(soundfont), str(mid)],
                       check=True, capture_output=True, timeout=600)
        audio, _ = soundfile.read(wav, always_2d=True)
    mono = audio.mean(axis=1)
    peak = np.abs(mono).max()
    return mono / peak if peak > 0 else mono


def render_chorale(path, fs: int, renderer: str = "harmonic", soundfont=None) -> np.ndarray:
    """One chorale as mono float32 audio at ``fs`` Hz, peak 1.

    The harmonic renderer reads the notes from the parsed-notes cache (``musicgan.scores.chorale_notes``,
    parsing the score once if it is not there yet): parsing MusicXML costs three times the synthesis.
    """
    check_choice(renderer, "renderer", RENDERERS)
    if renderer == "harmonic":
        from musicgan.scores import chorale_notes

        name = Path(path).name
        return synthesize_notes(chorale_notes([name], workers=1)[name], fs).astype(np.float32)
    return render_fluidsynth(chorale_to_midi(path), fs, soundfont).astype(np.float32)


MIDI_EXTENSIONS = frozenset({".mid", ".midi", ".kar", ".smf"})


def render_midi_file(path, fs: int, renderer: str = "harmonic", soundfont=None) -> np.ndarray:
    """One Standard MIDI File as mono float32 audio at ``fs`` Hz, peak 1, by the renderers of the chorales.

    Raises :class:`musicgan.audio.AudioReadError` with the reason when the file is not a MIDI file, cannot be
    parsed (pretty_midi / mido's words), or holds no pitched note. The file is opened read-only, as a file
    object, so any file name works.
    """
    import pretty_midi

    from musicgan.audio import AudioReadError

    check_choice(renderer, "renderer", RENDERERS)
    path = Path(path)
    if path.suffix.lower() not in MIDI_EXTENSIONS:
        raise AudioReadError(f"not a MIDI file extension ({path.suffix or 'none'})")
    try:
        with open(path, "rb") as f:
            midi = pretty_midi.PrettyMIDI(f)
    except OSError as err:
        if err.errno is not None:                     # the operating system's error, e.g. permission denied
            raise AudioReadError(f"cannot open: {(err.strerror or str(err)).lower()}") from None
        raise AudioReadError(f"not a readable MIDI file: {' '.join(str(err).split()) or type(err).__name__}") from None
    except Exception as err:                          # mido/pretty_midi raise EOFError, KeyError, ValueError, ...
        detail = f"{type(err).__name__} {' '.join(str(err).split())}".rstrip()
        raise AudioReadError(f"not a readable MIDI file: {detail}") from None
    if not any(inst.notes for inst in midi.instruments if not inst.is_drum):
        raise AudioReadError("the MIDI file holds no pitched note")
    try:
        audio = synthesize_harmonic(midi, fs) if renderer == "harmonic" else render_fluidsynth(midi, fs, soundfont)
    except (subprocess.SubprocessError, OSError) as err:          # fluidsynth failed on this file
        raise AudioReadError(f"fluidsynth could not render it: {' '.join(str(err).split())[:100]}") from None
    return audio.astype(np.float32)


def _render_named(job) -> tuple[str, np.ndarray]:
    path, fs, renderer, soundfont = job
    return Path(path).name, render_chorale(path, fs, renderer, soundfont)


def _synthesize_named(job) -> tuple[str, np.ndarray]:
    name, notes, fs = job
    return name, synthesize_notes(notes, fs).astype(np.float32)


def iter_rendered_chorales(fs: int, renderer: str = "harmonic", soundfont=None, *, paths=None,
                           workers: int = 2) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(file name, mono float32 audio)`` for each chorale, in file-name order.

    With ``workers > 1`` the chorales are rendered in that many processes; the order, and so the data set,
    does not depend on ``workers``. The harmonic renderer synthesises from the notes of
    ``musicgan.scores.chorale_notes``, which parses each score once (in ``workers`` processes) and caches
    its notes in the data folder, so every later set (another mel resolution) skips the parsing.
    """
    check_choice(renderer, "renderer", RENDERERS)
    check_int(workers, "workers", low=1)
    paths = chorale_paths() if paths is None else [Path(p) for p in paths]
    if renderer == "harmonic":
        from musicgan.scores import chorale_notes

        notes = chorale_notes([p.name for p in paths], workers=workers)
        jobs, work = [(p.name, notes[p.name], fs) for p in paths], _synthesize_named
    else:
        jobs = [(str(p), fs, renderer, None if soundfont is None else str(soundfont)) for p in paths]
        work = _render_named
    if workers == 1 or len(jobs) < 2:
        yield from map(work, jobs)
        return
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(workers) as pool:
        yield from pool.imap(work, jobs, chunksize=2)
