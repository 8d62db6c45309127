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
    """Write ``prefix-NN.wav`` per clip and one ``prefix-grid.png``; return the paths written."""
    import matplotlib.pyplot as plt
    import soundfile

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, wave in enumerate(clips_to_audio(mels_db, mel_cfg, n_iter=n_iter)):
        paths.append(out_dir / f"{prefix}-{i:02d}.wav")
        soundfile.write(paths[-1], wave, mel_cfg.sample_rate, subtype="PCM_16")
    fig = spectrogram_figure(mels_db, mel_cfg)
    paths.append(out_dir / f"{prefix}-grid.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    return paths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, type=Path, help="run folder written by `train`")
    parser.add_argument("--checkpoint", type=Path, help="a checkpoint file (default: RUN/generator.pt, "
                        "else the newest checkpoint)")
    parser.add_argument("--out", type=Path, help="output folder (default: RUN/samples)")
    parser.add_argument("-n", "--count", type=int, default=8, help="clips to generate (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latent vectors (default 0)")
    parser.add_argument("--griffin-lim-iters", type=int, default=None,
                        help="Griffin-Lim iterations (default: the run's train.griffin_lim_iters)")


def run(args) -> int:
    from musicgan.runs import generate, load_data, load_generator

    try:
        check_int(args.count, "--count", low=1)
        net_G, cfg, shape, step = load_generator(args.run, args.checkpoint)
        prepared = load_data(cfg.data)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    clips = generate(net_G, args.count, args.seed)
    mels_db = prepared.normalizer.denormalize(clips)
    n_iter = args.griffin_lim_iters or cfg.train.griffin_lim_iters
    paths = write_samples(mels_db, prepared.mel_config, args.out or args.run / "samples", n_iter=n_iter)
    print(f"{args.count} clips from step {step} of {args.run} -> {paths[0].parent} "
          f"({len(paths) - 1} wav files and {paths[-1].name})")
    return 0
