"""Frame-wise note targets for prepared chorale clips, from the scores the audio was rendered from.

Each bundled chorale is rendered from its score (:mod:`musicgan.chorales`), so the notes sounding in every
mel frame of every clip are known exactly: the labels a note transcriber (:mod:`musicgan.transcriber`)
learns from. Parsing the MusicXML is the slow part, so the notes are parsed once and cached in the data
folder.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from musicgan.metrics import NOTE_RANGE
from sims.checks import check_shape

__all__ = ["chorale_notes", "piano_roll", "clip_targets"]


def _note_array(path) -> np.ndarray:
    """(n_notes, 3) float64 rows (start s, end s, MIDI pitch) of one chorale, as its audio is rendered."""
    from musicgan.chorales import chorale_to_midi

    notes = [(n.start, n.end, n.pitch) for inst in chorale_to_midi(path).instruments for n in inst.notes]
    return np.array(notes, dtype=np.float64).reshape(-1, 3)


def _notes_cache_path(cache_dir) -> Path:
    import music21

    from musicgan.dataset import default_cache_dir

    code = (Path(__file__).parent / "chorales.py").read_bytes()
    key = hashlib.sha256(music21.__version__.encode() + code).hexdigest()[:12]
    return default_cache_dir(cache_dir) / f"chorale-notes-{key}.npz"


def _read_notes(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        return {}
    with np.load(path, allow_pickle=False) as data:
        return {str(n): data[f"n{i}"] for i, n in enumerate(data["names"])}


def _write_notes(path: Path, notes: dict[str, np.ndarray]) -> None:
    names = sorted(notes)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, names=np.array(names), **{f"n{i}": notes[n] for i, n in enumerate(names)})
    os.replace(tmp, path)


def chorale_notes(names, *, workers: int = 2, cache_dir=None) -> dict[str, np.ndarray]:
    """The notes of each named chorale: ``{file name: (n_notes, 3) array of (start s, end s, MIDI pitch)}``.

    Times are those ``chorales.chorale_to_midi`` gives the renderer, so they line up with the audio to the
    sample. Parsing MusicXML is slow (~0.3 s a piece), so pieces not yet cached are parsed in ``workers``
    processes and added to a cache file in the data folder (:func:`musicgan.dataset.default_cache_dir`, or
    ``cache_dir``) named after music21's version and the code of ``chorales.py``. Raises KeyError for a name
    that is not a bundled chorale.
    """
    from musicgan.chorales import chorale_paths

    path = _notes_cache_path(cache_dir)
    cached = _read_notes(path)
    todo = sorted(set(names) - set(cached))
    if todo:
        by_name = {p.name: str(p) for p in chorale_paths()}
        if any(n not in by_name for n in todo):
            raise KeyError(f"not a bundled chorale: {next(n for n in todo if n not in by_name)}")
        jobs = [by_name[n] for n in todo]
        if workers > 1 and len(jobs) > 1:
            import multiprocessing

            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            with multiprocessing.get_context(method).Pool(workers) as pool:
                arrays = pool.map(_note_array, jobs, chunksize=4)
        else:
            arrays = list(map(_note_array, jobs))
        cached.update(zip(todo, arrays))
        _write_notes(path, cached)
    return {n: cached[n] for n in names}


def piano_roll(notes, starts, n_frames: int, hop_length: int, sample_rate: int) -> np.ndarray:
    """Which notes of ``NOTE_RANGE`` sound in each frame of each clip: bool ``(n_clips, n_notes, n_frames)``.

    ``notes``: ``(n, 3)`` rows (start s, end s, MIDI pitch); ``starts``: first sample of each clip. Frame t of
    a clip is centred on sample ``start + t * hop_length`` (``center=True`` STFT) and a note sounds there if
    ``note start <= time < note end``. Notes outside ``NOTE_RANGE`` are dropped.
    """
    notes = check_shape(np.asarray(notes, dtype=np.float64), (None, 3), "notes")
    times = (np.asarray(starts, dtype=np.float64)[:, None] + np.arange(n_frames) * hop_length) / sample_rate
    roll = np.zeros((times.shape[0], len(NOTE_RANGE), n_frames), dtype=bool)
    for start, end, pitch in notes:
        row = int(pitch) - int(NOTE_RANGE[0])
        if 0 <= row < len(NOTE_RANGE):
            roll[:, row] |= (times >= start) & (times < end)
    return roll


def clip_targets(prepared, notes: dict, indices=None) -> np.ndarray:
    """Piano rolls ``(len(indices), n_notes, n_frames)`` bool for clips of a chorale PreparedSet."""
    cfg = prepared.mel_config
    indices = np.arange(prepared.n_clips) if indices is None else np.asarray(indices)
    sources = np.asarray(prepared.sources)[indices]
    out = np.zeros((len(indices), len(NOTE_RANGE), prepared.mels.shape[2]), dtype=bool)
    for name in np.unique(sources):
        rows = np.flatnonzero(sources == name)
        out[rows] = piano_roll(notes[name], prepared.starts[indices[rows]], out.shape[2], cfg.hop_length,
                               cfg.sample_rate)
    return out
