"""``python -m musicgan sample``: generated clips as wav files (Griffin-Lim) and spectrogram PNGs."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from sims.checks import check_int

__all__ = ["add_arguments", "run", "spectrogram_figure", "clips_to_audio", "write_samples"]


def spectrogram_figure(mels_db, mel_cfg, titles=None, columns: int = 4, dynamic_range_db: float = 80.0):
    """A grid of log-mel spectrograms ``(n, n_mels, n_frames)`` in dB (drawn by ``display.plot_mel``)."""
    import matplotlib.pyplot as plt

    from musicgan.display import plot_mel

    mels_db = np.asarray(mels_db)
    rows = -(-len(mels_db) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.3 * columns, 1.9 * rows), squeeze=False,
                             sharex=True, sharey=True)
    top = float(mels_db.max())
    for i, ax in enumerate(axes.flat):
        if i >= len(mels_db):
            ax.set_visible(False)
            continue
        plot_mel(ax, mels_db[i], mel_cfg, vmin=top - dynamic_range_db, vmax=top)
        ax.set_title(titles[i] if titles is not None else "")
        ax.label_outer()
    fig.subplots_adjust(left=0.08, right=0.99, bottom=0.25 / rows, top=0.97, wspace=0.08, hspace=0.15)
    return fig


def clips_to_audio(mels_db, mel_cfg, n_iter: int = 32, seed: int = 0) -> np.ndarray:
    """Waveforms ``(n, samples)`` from log-mels in dB, peak-normalised to 0.9 (Griffin-Lim phases seeded)."""
    import torch

    from musicgan.mel import mel_to_audio

    audio = mel_to_audio(np.asarray(mels_db, dtype=np.float32), mel_cfg, n_iter=n_iter,
                         generator=torch.Generator().manual_seed(seed))
    peak = np.abs(audio).max(axis=-1, keepdims=True)
    return (0.9 * audio / np.maximum(peak, 1e-9)).astype(np.float32)


def write_samples(mels_db, mel_cfg, out_dir, *, n_iter: int = 32, prefix: str = "sample") -> list[Path]:
    """Write ``prefix-NN.wav`` per clip and one ``prefix-grid.png``; return the paths written. Pieces longer
    than 4 s get one row each in the grid."""
    import matplotlib.pyplot as plt
    import soundfile

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, wave in enumerate(clips_to_audio(mels_db, mel_cfg, n_iter=n_iter)):
        paths.append(out_dir / f"{prefix}-{i:02d}.wav")
        soundfile.write(paths[-1], wave, mel_cfg.sample_rate, subtype="PCM_16")
    long = np.shape(mels_db)[-1] * mel_cfg.hop_length > 4 * mel_cfg.sample_rate
    fig = spectrogram_figure(mels_db, mel_cfg, columns=1 if long else 4)
    if long:
        fig.set_size_inches(12, 1.9 * len(mels_db))
    paths.append(out_dir / f"{prefix}-grid.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    return paths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, type=Path, help="run folder written by `train`")
    parser.add_argument("--checkpoint", type=Path, help="a checkpoint file (default: RUN/generator.pt, "
                        "else the newest readable checkpoint)")
    parser.add_argument("--out", type=Path, help="output folder (default: runs/samples/<run folder name> under "
                        "the working directory; tracked files and the run's own files are never replaced)")
    parser.add_argument("-n", "--count", type=int, default=8, help="clips to generate (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latent vectors (default 0)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="length of each piece in seconds (default: one training clip, about 1 s); any length "
                             "for the recurrent generator and the conv generator with a latent sequence")
    parser.add_argument("--griffin-lim-iters", type=int, default=None,
                        help="Griffin-Lim iterations (default: the run's train.griffin_lim_iters)")


MAX_SECONDS = 3600.0      # an hour of audio is ~0.5 GB of mel frames in memory; longer is surely a typo


def output_names(count: int, prefix: str = "sample") -> list[str]:
    """The files :func:`write_samples` writes for ``count`` clips."""
    return [f"{prefix}-{i:02d}.wav" for i in range(count)] + [f"{prefix}-grid.png"]


def default_out(run_dir: Path) -> Path:
    """``runs/samples/<run folder name>`` in the working directory: never inside a (possibly committed) run."""
    return Path("runs") / "samples" / (Path(run_dir).resolve().name or "run")


def run(args) -> int:
    """Write the samples; 0 on success, 2 with one line on stderr for bad input (checked before any work)."""
    from musicgan.outputs import check_output_folder
    from musicgan.runs import check_any_length, frames_for_seconds, generate, load_for_sampling

    try:
        check_int(args.count, "--count", low=1)
        if args.griffin_lim_iters is not None:
            check_int(args.griffin_lim_iters, "--griffin-lim-iters", low=1)
        if args.seconds is not None and not (0 < args.seconds <= MAX_SECONDS):
            raise ValueError(f"--seconds must be in (0, {MAX_SECONDS}], got {args.seconds}")
        out = args.out or default_out(args.run)
        inputs = [p for p in (args.run / "generator.pt", args.run / "checkpoints", args.checkpoint) if p]
        check_output_folder(out, output_names(args.count), what="samples", inputs=inputs)
        net_G, cfg, shape, step, normalizer, mel_cfg = load_for_sampling(args.run, args.checkpoint)
        n_frames = None if args.seconds is None else frames_for_seconds(args.seconds, mel_cfg)
        if n_frames is not None:
            check_any_length(net_G, f"{args.run}: its generator ({mel_cfg.clip_seconds:.3f}-s clips, so no --seconds)")
    except (FileNotFoundError, ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    clips = generate(net_G, args.count, args.seed, n_frames=n_frames)
    n_iter = args.griffin_lim_iters or cfg.train.griffin_lim_iters
    paths = write_samples(normalizer.denormalize(clips), mel_cfg, out, n_iter=n_iter)
    seconds = (clips.shape[-1] - 1) * mel_cfg.hop_length / mel_cfg.sample_rate
    print(f"{args.count} clips of {seconds:.2f} s from step {step} of {args.run} -> {paths[0].parent} "
          f"({len(paths) - 1} wav files and {paths[-1].name})")
    return 0
