"""Decoding speed: seconds of audio per second of CPU, mel -> audio, for the chosen decoder and the one before it.

- reference: the chain this project started with -- 64 bands, 1024-sample window, NNLS by FISTA with the
  dense filterbank in torch (as ``musicgan.mel.mel_to_linear`` was), 32 Griffin-Lim iterations;
- chosen: 256 bands, 2048-sample window, NNLS by FISTA with the sparse filterbank (scipy), 64 Griffin-Lim
  iterations (``musicgan.mel.mel_to_audio`` with ``MEL_PRESETS["pitch256"]``);
- the chosen representation with the dense NNLS, to show what the sparse filterbank buys.

The input is the same real audio (a rendered chorale) for all three, encoded with each representation.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_decoder.py [--seconds 30] [--threads 1]
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from musicgan.chorales import chorale_paths, chorale_to_midi, synthesize_harmonic
from musicgan.mel import (MEL_PRESETS, _filterbank_tensor, db_to_power, griffin_lim, log_mel_spectrogram,
                          mel_to_audio)

from benchmarks._timing import cpu_seconds


def dense_nnls(mel_power: torch.Tensor, cfg, n_iter: int = 200) -> torch.Tensor:
    """The reference: FISTA with the dense filterbank, as the project's first decoder did it."""
    fb = _filterbank_tensor(cfg, "cpu", mel_power.dtype)
    s = torch.clamp(torch.linalg.pinv(fb) @ mel_power, min=0.0)
    step = 1.0 / torch.linalg.matrix_norm(fb, ord=2) ** 2
    y, t = s, 1.0
    for _ in range(n_iter):
        s_next = torch.clamp(y - step * (fb.T @ (fb @ y - mel_power)), min=0.0)
        t_next = (1.0 + (1.0 + 4.0 * t * t) ** 0.5) / 2.0
        y = s_next + ((t - 1.0) / t_next) * (s_next - s)
        s, t = s_next, t_next
    return s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the decoded piece")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sr = MEL_PRESETS["pitch256"].sample_rate
    audio = synthesize_harmonic(chorale_to_midi(chorale_paths()[0]), sr).astype(np.float32)
    audio = np.resize(audio, int(args.seconds * sr))
    old, new = MEL_PRESETS["legacy64"], MEL_PRESETS["pitch256"]
    mel_old = log_mel_spectrogram(torch.as_tensor(audio), old)[None]
    mel_new = log_mel_spectrogram(torch.as_tensor(audio), new)[None]
    cpu = {
        "reference (64 bands, dense NNLS, GL 32)":
            cpu_seconds(lambda: griffin_lim(dense_nnls(db_to_power(mel_old), old).sqrt(), old, n_iter=32)),
        "chosen (256 bands, sparse NNLS, GL 64)": cpu_seconds(lambda: mel_to_audio(mel_new, new, n_iter=64)),
        "256 bands, dense NNLS, GL 64":
            cpu_seconds(lambda: griffin_lim(dense_nnls(db_to_power(mel_new), new).sqrt(), new, n_iter=64)),
    }
    ref = args.seconds / next(iter(cpu.values()))
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.seconds:.0f} s of audio")
    for name, seconds in cpu.items():
        speed = args.seconds / seconds
        print(f"{name:42s} {seconds:6.2f} CPU s, {speed:6.1f} s of audio per CPU s, ratio to reference {speed / ref:.2f}")


if __name__ == "__main__":
    main()
