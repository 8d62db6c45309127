"""Training speed of each generator family at the ``cpu`` preset: G updates per second, wall and CPU.

Same data (synthetic 64 x 64 clips), same shared convolutional discriminator, same loss; only the
generator differs. The convolutional family is the reference, so the printed ratio says how much
slower a frame-by-frame recurrent generator is per step. Goal: within 2x of the reference.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_musicgan.py [--steps 10] [--threads 1]
"""
from __future__ import annotations

import argparse
import tempfile

import torch

from musicgan.config import apply_overrides, preset
from musicgan.models import count_parameters
from musicgan.train import Trainer

from benchmarks._timing import timed

FAMILIES = ("conv", "lstm", "gru")


def measure(family: str, steps: int, threads: int) -> dict:
    cfg = apply_overrides(preset("cpu"), [f"model.generator={family}", "data.source=synthetic",
                                          "data.synthetic_clips=256", f"train.num_threads={threads}"])
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(cfg, out, log=lambda m: None)
        for _ in range(2):                      # warm-up: allocator, lazy initialisation
            trainer.train_step()
        wall, cpu = timed(lambda: [trainer.train_step() for _ in range(steps)])
    return {"steps_per_s": steps / wall, "cpu_s_per_step": cpu / steps,
            "params_G": count_parameters(trainer.net_G), "params_D": count_parameters(trainer.net_D)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the reference run uses 1 per family)")
    args = parser.parse_args()
    results = {family: measure(family, args.steps, args.threads) for family in FAMILIES}
    ref = results["conv"]
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.steps} timed steps, batch "
          f"{preset('cpu').optim.batch_size}, 64 x 64 clips")
    for family, r in results.items():
        print(f"{family:5s} G {r['params_G']:>8,d} params, D {r['params_D']:>8,d}: {r['steps_per_s']:6.2f} steps/s wall, "
              f"{r['cpu_s_per_step']:.3f} CPU s/step; CPU time ratio to conv {r['cpu_s_per_step'] / ref['cpu_s_per_step']:.2f}")


if __name__ == "__main__":
    main()
