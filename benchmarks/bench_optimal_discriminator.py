"""Speed of the batched discriminator training behind book/optimal_discriminator.md.

Goal: training M discriminators as one batched model costs much less than training them one after the
other. Prints both timings (wall and CPU) and their ratio, measured in the same run.
"""
from __future__ import annotations


from sims.optimal_discriminator import gaussian, mixture
from sims.optimal_discriminator_mlp import DiscriminatorTask, train_discriminators

from benchmarks._timing import timed

STEPS = 100


def main() -> None:
    p = mixture([gaussian(-2, 0.6), gaussian(2, 0.6)], [0.5, 0.5])
    q = gaussian(0, 1.5)
    tasks = [DiscriminatorTask(p, q, n, 16, seed) for n in (300, 3000, 30000) for seed in range(4)]
    train_discriminators(tasks[:1], steps=5)  # warm-up: torch's first calls pay one-off costs
    batched = timed(lambda: train_discriminators(tasks, steps=STEPS))
    one_by_one = timed(lambda: [train_discriminators([t], steps=STEPS) for t in tasks])
    print(f"{len(tasks)} discriminators, {STEPS} full-batch Adam steps each")
    print(f"batched:    {batched[0]:.2f} s wall, {batched[1]:.2f} s CPU")
    print(f"one by one: {one_by_one[0]:.2f} s wall, {one_by_one[1]:.2f} s CPU")
    print(f"speed-up of batching (CPU time): {one_by_one[1] / batched[1]:.1f}x")


if __name__ == "__main__":
    main()
