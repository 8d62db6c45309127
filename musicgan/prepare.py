"""``python -m musicgan prepare``: turn a folder of music, or the bundled Bach chorales, into a mel data set.

Examples::

    python -m musicgan prepare                                  # the default set (cached under _build/)
    python -m musicgan prepare --audio-dir ~/Music/bach --out data/bach.npz
    python -m musicgan prepare --renderer fluidsynth --soundfont /usr/share/sounds/sf2/FluidR3_GM.sf2
    python -m musicgan prepare --midi-dir ~/midi --out data/midi.npz     # MIDI files, rendered as the chorales

Every path it will write is checked before any work (musicgan.outputs): it never replaces one of its inputs, a
file that is not a prepared data set, or a file git tracks. Bad input: one line on stderr, exit status 2.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from musicgan.audio import SILENCE_DB, display_name
from musicgan.chorales import RENDERERS, find_soundfont
from musicgan.dataset import (build_chorale_set, default_cache_dir,
                              default_params, default_set_path, load_prepared, read_params)
from musicgan.folders import NoAudioError, build_folder_set
from musicgan.mel import MelConfig
from musicgan.outputs import OutputPathError, check_output_file

DEFAULTS = MelConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_argument_group("what to prepare")
    folders = src.add_mutually_exclusive_group()
    folders.add_argument("--audio-dir", type=Path, help="folder searched recursively for wav/flac/ogg/mp3/... "
                         "files (default: the Bach chorales bundled with music21, rendered to audio)")
    folders.add_argument("--midi-dir", type=Path, help="folder searched recursively for MIDI files (.mid, .midi), "
                         "each rendered to audio as the chorales are (--renderer)")
    src.add_argument("--out", type=Path, help="output .npz file (default: a cache file under "
                     f"{default_cache_dir()} named after the parameters)")
    src.add_argument("--renderer", choices=RENDERERS, default="harmonic",
                     help="how chorales and MIDI files become audio: pip-only harmonic synthesis, "
                     "or fluidsynth + a soundfont")
    src.add_argument("--soundfont", type=Path, help="General MIDI .sf2 for --renderer fluidsynth")
    mel = parser.add_argument_group("mel spectrogram (defaults give 64 x 64 clips of 1.008 s)")
    mel.add_argument("--sample-rate", type=int, default=DEFAULTS.sample_rate, help="Hz (default %(default)s)")
    mel.add_argument("--n-fft", type=int, default=DEFAULTS.n_fft, help="window in samples (default %(default)s)")
    mel.add_argument("--hop-length", type=int, default=DEFAULTS.hop_length, help="samples (default %(default)s)")
    mel.add_argument("--n-mels", type=int, default=DEFAULTS.n_mels, help="mel bands (default %(default)s)")
    mel.add_argument("--fmin", type=float, default=DEFAULTS.fmin, help="Hz (default %(default)s)")
    mel.add_argument("--fmax", type=float, help="Hz (default: half the sample rate, "
                     f"{DEFAULTS.sample_rate / 2:g} at {DEFAULTS.sample_rate} Hz)")
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
                     n_mels=args.n_mels, fmin=args.fmin,
                     fmax=args.sample_rate / 2 if args.fmax is None else args.fmax,
                     norm=None if args.norm == "none" else args.norm, clip_frames=args.clip_frames,
                     top_db=args.top_db)


def _is_prepared(path: Path) -> bool:
    try:
        read_params(path)
    except (ValueError, OSError):
        return False
    return True


def _checked_out(given: Path | None, default: Path, inputs=()) -> Path:
    """The output path once it is safe to write a prepared set there (checked before any work; see
    musicgan.outputs). A file at the default cache path is ours, damaged or not, and may be rebuilt."""
    is_own = _is_prepared if given is not None else (lambda path: True)
    return check_output_file(given or default, what="prepared data set", inputs=inputs, is_own=is_own)


def _soundfont(args) -> Path | None:
    if args.renderer != "fluidsynth":
        return None
    soundfont = args.soundfont.expanduser() if args.soundfont else find_soundfont()
    if soundfont is None or not soundfont.is_file():
        raise FileNotFoundError(f"--renderer fluidsynth needs a General MIDI .sf2 file (--soundfont); "
                                f"found {soundfont or 'none'}")
    if shutil.which("fluidsynth") is None:
        raise FileNotFoundError("--renderer fluidsynth needs the fluidsynth program (e.g. apt-get install fluidsynth)")
    return soundfont


def _prepare_chorales(args, cfg: MelConfig, log) -> Path:
    soundfont = _soundfont(args)
    params = default_params(cfg, args.renderer, args.clip_hop_frames, args.silence_db, soundfont=soundfont)
    out = _checked_out(args.out, default_set_path(params), inputs=[soundfont] if soundfont else [])
    if out.is_file() and not args.force and _is_prepared(out) and read_params(out) == params:
        log(f"up to date: {out} (use --force to rebuild)")
        return out
    return build_chorale_set(out, params, workers=args.workers, progress=not args.no_progress, log=log)


def _prepare_folder(args, cfg: MelConfig, log) -> Path:
    folder = (args.audio_dir or args.midi_dir).expanduser()
    if not folder.is_dir():
        raise NotADirectoryError(f"{'--audio-dir' if args.audio_dir else '--midi-dir'} "
                                 f"{display_name(str(folder))!r} is not a folder")
    kind = "folder" if args.audio_dir else "midi"
    soundfont = None if args.audio_dir else _soundfont(args)
    out = _checked_out(args.out, default_cache_dir() / f"{kind}-{folder.resolve().name or 'root'}.npz",
                       inputs=[folder, *([soundfont] if soundfont else [])])
    midi = None if args.audio_dir else {"renderer": args.renderer,
                                          "soundfont": None if soundfont is None else str(soundfont)}
    path, report = build_folder_set(folder, out, cfg, clip_hop_frames=args.clip_hop_frames, midi=midi,
                                    silence_db=args.silence_db, progress=not args.no_progress, log=log)
    print(report.summary())
    return path


def run(args) -> int:
    """Prepare the set; 0 on success, 2 (one line on stderr) for bad input or when no clip could be made."""
    log = _logger(progress=not args.no_progress)
    started = time.perf_counter()
    try:
        cfg = _config(args)
        path = (_prepare_folder if (args.audio_dir or args.midi_dir) else _prepare_chorales)(args, cfg, log)
    except (NoAudioError, OutputPathError, NotADirectoryError, FileNotFoundError, ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:                       # e.g. the disk filled up while writing
        print(f"error: cannot write the data set: {err}", file=sys.stderr)
        return 2
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
