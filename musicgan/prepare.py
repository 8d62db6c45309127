"""``python -m musicgan prepare``: turn a folder of music, or the bundled Bach chorales, into a mel data set.

Examples::

    python -m musicgan prepare                                  # the default set (cached under _build/)
    python -m musicgan prepare --audio-dir ~/Music/bach --out data/bach.npz
    python -m musicgan prepare --renderer fluidsynth --soundfont /usr/share/sounds/sf2/FluidR3_GM.sf2
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from musicgan.audio import SILENCE_DB
from musicgan.chorales import RENDERERS, find_soundfont
from musicgan.dataset import (NoAudioError, build_chorale_set, build_folder_set, default_cache_dir,
                              default_params, default_set_path, load_prepared, read_params)
from musicgan.mel import MelConfig

DEFAULTS = MelConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_argument_group("what to prepare")
    src.add_argument("--audio-dir", type=Path, help="folder searched recursively for wav/flac/ogg/mp3/... files "
                     "(default: the Bach chorales bundled with music21, rendered to audio)")
    src.add_argument("--out", type=Path, help="output .npz file (default: a cache file under "
                     f"{default_cache_dir()} named after the parameters)")
    src.add_argument("--renderer", choices=RENDERERS, default="harmonic",
                     help="how chorales become audio: pip-only harmonic synthesis, or fluidsynth + a soundfont")
    src.add_argument("--soundfont", type=Path, help="General MIDI .sf2 for --renderer fluidsynth")
    mel = parser.add_argument_group("mel spectrogram (defaults give 64 x 64 clips of 1.008 s)")
    mel.add_argument("--sample-rate", type=int, default=DEFAULTS.sample_rate, help="Hz (default %(default)s)")
    mel.add_argument("--n-fft", type=int, default=DEFAULTS.n_fft, help="window in samples (default %(default)s)")
    mel.add_argument("--hop-length", type=int, default=DEFAULTS.hop_length, help="samples (default %(default)s)")
    mel.add_argument("--n-mels", type=int, default=DEFAULTS.n_mels, help="mel bands (default %(default)s)")
    mel.add_argument("--fmin", type=float, default=DEFAULTS.fmin, help="Hz (default %(default)s)")
    mel.add_argument("--fmax", type=float, default=DEFAULTS.fmax, help="Hz (default %(default)s)")
    mel.add_argument("--norm", choices=("slaney", "none"), default=DEFAULTS.norm, help="filter normalisation")
    mel.add_argument("--top-db", type=float, default=DEFAULTS.top_db, help="dB kept below each clip's peak")
    mel.add_argument("--clip-frames", type=int, default=DEFAULTS.clip_frames, help="frames per clip")
    clips = parser.add_argument_group("clips")
    clips.add_argument("--clip-hop-frames", type=int, help="frames between clip starts "
                       "(default: clip frames - 1, i.e. consecutive clips that do not overlap)")
    clips.add_argument("--silence-db", type=float, default=SILENCE_DB,
                       help="drop clips quieter than this RMS level, dB re full scale (default %(default)s)")
    run_opts = parser.add_argument_group("running")
    run_opts.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                          help="processes rendering chorales (default %(default)s)")
    run_opts.add_argument("--force", action="store_true", help="rebuild even if a valid cached file exists")
    run_opts.add_argument("--no-progress", action="store_true", help="no progress bar")


def _config(args) -> MelConfig:
    return MelConfig(sample_rate=args.sample_rate, n_fft=args.n_fft, hop_length=args.hop_length,
                     n_mels=args.n_mels, fmin=args.fmin, fmax=args.fmax,
                     norm=None if args.norm == "none" else args.norm, clip_frames=args.clip_frames,
                     top_db=args.top_db)


def _prepare_chorales(args, cfg: MelConfig, log) -> Path:
    soundfont = None
    if args.renderer == "fluidsynth":
        soundfont = args.soundfont or find_soundfont()
        if soundfont is None:
            raise FileNotFoundError("--renderer fluidsynth needs --soundfont (no General MIDI .sf2 found)")
    params = default_params(cfg, args.renderer, args.clip_hop_frames, args.silence_db, soundfont=soundfont)
    out = args.out or default_set_path(params)
    if out.is_file() and not args.force and read_params(out) == params:
        log(f"up to date: {out} (use --force to rebuild)")
        return out
    return build_chorale_set(out, params, workers=args.workers, progress=not args.no_progress, log=log)


def _prepare_folder(args, cfg: MelConfig, log) -> Path:
    folder = args.audio_dir.expanduser()
    out = args.out or default_cache_dir() / f"folder-{folder.resolve().name or 'root'}.npz"
    path, report = build_folder_set(folder, out, cfg, clip_hop_frames=args.clip_hop_frames,
                                    silence_db=args.silence_db, progress=not args.no_progress, log=log)
    print(report.summary())
    return path


def run(args) -> int:
    log = _logger(progress=not args.no_progress)
    started = time.perf_counter()
    try:
        cfg = _config(args)
        path = (_prepare_folder if args.audio_dir else _prepare_chorales)(args, cfg, log)
    except (NoAudioError, NotADirectoryError, FileNotFoundError, ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    prepared = load_prepared(path)
    print(f"wrote {path}: {prepared.n_clips} clips of {cfg.n_mels} x {cfg.clip_frames} "
        f"({prepared.total_seconds / 60:.1f} min of audio from {len(prepared.source_names)} sources) "
        f"in {time.perf_counter() - started:.1f} s")
    return 0


def _logger(progress: bool):
    """Messages go to stderr, through tqdm when a progress bar is drawn so the two do not garble each other."""
    if progress:
        from tqdm import tqdm

        return lambda message: tqdm.write(message, file=sys.stderr)
    return lambda message: print(message, file=sys.stderr)
