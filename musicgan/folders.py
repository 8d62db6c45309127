"""A user's folder of audio or MIDI files as a prepared mel data set (see :mod:`musicgan.dataset` for the file).

Every file is decoded (:func:`musicgan.audio.load_mono`) or rendered (:func:`musicgan.chorales.render_midi_file`),
cut into clips like the chorales, and turned into log-mels; every file or folder that is not used is named with
its reason through ``log`` (:func:`musicgan.audio.iter_folder_clips`).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from musicgan.audio import SILENCE_DB, ReadReport, display_name, iter_folder_clips, load_mono
from musicgan.dataset import FORMAT_VERSION, MelAccumulator, _maybe_progress, save_prepared
from musicgan.mel import MelConfig
from sims.checks import check_int

__all__ = ["NoAudioError", "build_folder_set", "file_loader"]


class NoAudioError(ValueError):
    """A folder that yielded no clip at all: nothing readable, or only silence and files shorter than a clip."""


def build_folder_set(folder, out, cfg: MelConfig, *, clip_hop_frames: int | None = None,
                     silence_db: float = SILENCE_DB, progress: bool = False,
                     log: Callable[[str], None] = print, midi: dict | None = None) -> tuple[Path, ReadReport]:
    """Prepare every audio file under ``folder`` (see :mod:`musicgan.audio`); each skip is named via ``log``.

    With ``midi={"renderer": ..., "soundfont": ...}`` the folder holds MIDI files instead, each rendered as
    the chorales are (:func:`musicgan.chorales.render_midi_file`) and cut into clips the same way.
    Returns the written path and the per-file report; raises NoAudioError when no clip could be made.
    """
    folder = Path(folder).resolve()
    hop_frames = cfg.clip_frames - 1 if clip_hop_frames is None else check_int(clip_hop_frames, "clip_hop_frames", low=1)
    source = ({"kind": "folder", "path": str(folder)} if midi is None
              else {"kind": "midi-folder", "path": str(folder), **midi})
    params = {"format_version": FORMAT_VERSION, "mel": cfg.to_dict(), "clip_hop_samples": hop_frames * cfg.hop_length,
              "silence_db": float(silence_db), "source": source}
    report, acc = ReadReport(), MelAccumulator(cfg)
    files = iter_folder_clips(folder, cfg.sample_rate, cfg.clip_samples, params["clip_hop_samples"],
                              silence_db=silence_db, report=report, log=log, load=file_loader(source))
    for name, clips, starts in _maybe_progress(files, progress, unit="file"):
        if len(clips):
            acc.add(name, clips, starts)
    if report.n_clips == 0:
        raise NoAudioError(f"no clips from {display_name(str(folder))}: {report.summary()}")
    return save_prepared(out, acc, params), report


def file_loader(source: dict) -> Callable[[Path, int], np.ndarray]:
    """How one file of a folder source becomes mono audio: decoding, or rendering a MIDI file."""
    if source["kind"] != "midi-folder":
        return load_mono
    from musicgan.chorales import render_midi_file

    return lambda path, fs: render_midi_file(path, fs, source["renderer"], source.get("soundfont"))
