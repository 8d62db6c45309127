"""Speed goal of the chapter on diminished gradients: batching the replicates into one model.

Simulation 3 trains 4 arms x 5 replicates. The reference is the same 20 GANs trained one after another (one
model each); the goal is that the batched run costs at most 60 % of that (0.4-0.5 was measured on a shared
2-core machine: at this size the matrix products, not Python overhead, dominate). Both are timed in this run,
on CPU time, with one torch thread as on the page.
"""

import torch

from sims import vanishing_gradients as vg

from benchmarks._timing import cpu_seconds

ARMS = [vg.Arm("saturating", 0.0), vg.Arm("saturating", 1.0), vg.Arm("non_saturating", 0.0),
        vg.Arm("non_saturating", 1.0)]
N_REPLICATES = 5
CONFIG = dict(n_steps=60, anneal_steps=40, eval_every=1000, n_eval=64)  # few steps, no EMD: training cost only
GOAL = 0.6


def main() -> None:
    torch.set_num_threads(1)
    batched = cpu_seconds(lambda: vg.train_gan(ARMS, vg.GanConfig(n_replicates=N_REPLICATES, **CONFIG)))
    one_by_one = cpu_seconds(lambda: [vg.train_gan([arm], vg.GanConfig(n_replicates=1, seed=seed, **CONFIG))
                                      for arm in ARMS for seed in range(N_REPLICATES)])
    ratio = batched / one_by_one
    print(f"batched {batched:.2f} s, one model at a time {one_by_one:.2f} s (CPU): ratio {ratio:.2f} "
          f"(goal <= {GOAL:.2f}) {'OK' if ratio <= GOAL else 'MISSED'}")


if __name__ == "__main__":
    main()
