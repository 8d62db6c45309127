"""Speed-up of training all seeds as one batched model over a plain loop that trains one seed at a time.

Both sides run the same code (a group of one member is the per-seed trainer), the same configuration
and the same number of steps, one after the other in this process, with one thread (as each worker of the
book's experiment) and with two (the whole machine), so the ratio measures batching alone. Run with `make bench` or `PYTHONPATH=. python benchmarks/bench_pacgan.py`.
"""
from __future__ import annotations

from dataclasses import replace

import torch

from sims.pacgan import METHODS, init_group, train_group

from benchmarks._timing import timed

STEPS = 60                                  # enough for stable timings; the book trains 1500
DATASETS = ["ring"] * 5 + ["grid"] * 5      # the book's groups: 5 seeds on each data set
SEEDS = list(range(len(DATASETS)))


def batched(config) -> None:
    train_group(init_group(config, DATASETS, SEEDS))


def per_seed(config) -> None:
    for dataset, seed in zip(DATASETS, SEEDS):
        train_group(init_group(config, [dataset], [seed]))


def main() -> None:
    for threads in (1, 2):                  # 1: as each worker of the book's experiment; 2: the whole machine
        torch.set_num_threads(threads)
        print(f"{len(SEEDS)} runs x {STEPS} steps, {threads} thread(s); wall and CPU seconds")
        for name in ("GAN", "PacGAN4", "minibatch disc."):
            compare(name)


def compare(name: str) -> None:
    config = replace(METHODS[name], steps=STEPS)
    batched(replace(config, steps=2))       # warm-up: allocator and kernels
    loop_wall, loop_cpu = timed(lambda: per_seed(config))
    group_wall, group_cpu = timed(lambda: batched(config))
    print(f"{name:16s} per-seed loop {loop_wall:6.2f} s ({loop_cpu:6.2f} CPU)   batched {group_wall:6.2f} s "
          f"({group_cpu:6.2f} CPU)   speed-up {loop_wall / group_wall:4.2f}x wall, {loop_cpu / group_cpu:4.2f}x CPU")


if __name__ == "__main__":
    main()
