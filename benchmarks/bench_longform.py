"""Making 30 s of music on one CPU core: generator and decoder together, against the 1-s sampling path before.

- reference: the sampling path before issue 14 -- one 1.008-s clip per call of the fixed-size conv generator
  (``model.conv_latent=vector``, mel output), decoded by NNLS with 200 FISTA steps and 64 Griffin-Lim
  iterations; 30 s of audio this way is 30 such clips (timed on a few, scaled);
- chosen: one 30-s piece of each family at the ``cpu`` preset's widths (conv: latent sequence and note output;
  lstm: note output), decoded by ``musicgan.sample.clips_to_audio`` (NNLS 50, Griffin-Lim 32).

The weights are untrained (speed does not depend on them). Target (issue 14): 30 s in at most 3 CPU s, i.e.
10 x faster than real time.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_longform.py [--seconds 30]
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from musicgan.config import ModelConfig
from musicgan.dataset import Normalizer
from musicgan.mel import MEL_PRESETS, mel_to_audio
from musicgan.models import build_generator
from musicgan.runs import frames_for_seconds, generate
from musicgan.sample import clips_to_audio

from benchmarks._timing import cpu_seconds

TARGET_CPU_S = 3.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--reference-clips", type=int, default=3, help="1-s clips timed for the reference")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = MEL_PRESETS["pitch256"]
    normalizer = Normalizer(np.full(cfg.n_mels, -30.0), np.full(cfg.n_mels, 15.0))
    n_frames = frames_for_seconds(args.seconds, cfg)

    old_G = build_generator(ModelConfig(conv_latent="vector", output="mel"), cfg.n_mels, cfg.clip_frames).eval()

    def old_clip(seed):
        mel = normalizer.denormalize(generate(old_G, 1, seed))
        mel_to_audio(mel, cfg, n_iter=64, nnls_iter=200)

    per_clip = cpu_seconds(lambda: [old_clip(s) for s in range(args.reference_clips)]) / args.reference_clips
    reference = per_clip * args.seconds / cfg.clip_seconds
    print(f"reference: 1-s clips, NNLS 200 + GL 64: {per_clip:.2f} CPU s per clip, {reference:.1f} CPU s "
          f"for {args.seconds:g} s")
    for family in ("conv", "lstm"):
        net_G = build_generator(ModelConfig(generator=family), cfg.n_mels, cfg.clip_frames).eval()
        net_G.synth.set_rendering(cfg, normalizer)
        gen = cpu_seconds(lambda: generate(net_G, 1, 0, n_frames=n_frames))
        mel = normalizer.denormalize(generate(net_G, 1, 0, n_frames=n_frames))
        dec = cpu_seconds(lambda: clips_to_audio(mel, cfg))
        total = gen + dec
        print(f"{family}: one {args.seconds:g}-s piece: generate {gen:.2f} + decode {dec:.2f} = {total:.2f} CPU s "
              f"({args.seconds / total:.1f} x real time; target <= {TARGET_CPU_S:g} s: "
              f"{'met' if total <= TARGET_CPU_S else 'missed'}); ratio to reference {total / reference:.3f}")


if __name__ == "__main__":
    main()
