"""Speed-up of the book's PacGAN training step over the previous one, measured in the same run.

Old: ``sims.pacgan.train_step`` (autograd) with a per-parameter Adam loop, as the chapter trained before.
New: ``sims.pacgan_grads.fast_train_step`` (hand-written gradients) with fused Adam, the default of
``train_group``. Both train the same group (5 seeds on the grid, one thread, as each worker of the book's
experiment) for the same steps, R1 steps included, alternately, three times each; the best CPU time of each
is kept (the machine may be shared). Then the same after ``_init_worker``'s allocator setting, which the
book's worker processes use. Finally the steps saved by sharing the prefix of the chapter's longer runs
(counted, not timed). Run with `make bench` or `PYTHONPATH=. python benchmarks/bench_pacgan_grads.py`.
"""
from __future__ import annotations

from dataclasses import replace

import torch

from sims import pacgan, pacgan_grads
from sims.pacgan import METHODS, init_group, train_group
from sims.pacgan_experiment import _init_worker, plan_tasks

from benchmarks._timing import cpu_seconds

STEPS = 60                                  # a multiple of r1_every; the book trains 1500
REPEATS = 3
SEEDS = list(range(5))


def old_group(config):
    group = init_group(config, ["grid"] * len(SEEDS), SEEDS)
    groups = [{"params": g["params"], "scale": g["scale"]} for g in group.optimizer.param_groups]
    group.optimizer = torch.optim.Adam(groups, lr=config.lr, betas=(config.beta1, config.beta2), foreach=False)
    return group


def cpu_ms_per_step(make, step, config) -> float:
    group = make(config)
    return cpu_seconds(lambda: train_group(group, step=step)) / config.steps * 1e3


def compare(label: str) -> dict:
    print(f"{label}: CPU ms per step of {len(SEEDS)} seeds, best of {REPEATS} (old and new alternate)")
    out = {}
    for name in ("GAN", "PacGAN4", "minibatch disc."):
        config = replace(METHODS[name], steps=STEPS)
        train_group(init_group(replace(config, steps=4), ["grid"], [0]))            # warm-up
        times = [(cpu_ms_per_step(old_group, pacgan.train_step, config),
                  cpu_ms_per_step(lambda c: init_group(c, ["grid"] * len(SEEDS), SEEDS),
                                  pacgan_grads.fast_train_step, config)) for _ in range(REPEATS)]
        old, new = min(t[0] for t in times), min(t[1] for t in times)
        print(f"  {name:16s} old {old:6.1f}   new {new:6.1f}   speed-up {old / new:4.2f}x")
        out[name] = old, new
    return out


def shared_prefix() -> None:
    base = METHODS["PacGAN4"]
    longer = {f"{k}x": replace(base, steps=k * base.steps) for k in (2, 4)}
    separate = sum(c.steps for c in longer.values())
    (runs, config, _, _), *_ = plan_tasks(longer, ("grid",), [0], workers=1)
    counted = []
    pacgan.train_branches(init_group(config, ["grid"], [0]), list(runs.values()),
                          step=lambda *args, **kwargs: counted.append(1) or (0.0, 0.0))     # count, do not train
    print(f"longer runs ({', '.join(f'{n} steps' for n in runs.values())}): {len(counted)} steps trained "
          f"instead of {separate}, {separate / len(counted):4.2f}x fewer")


def main() -> None:
    torch.set_num_threads(1)
    before = compare("default allocator")
    _init_worker(1)
    after = compare("allocator keeping freed memory (the book's workers)")
    print("old step, default allocator -> new step in a book worker: "
          + ", ".join(f"{n} {before[n][0] / after[n][1]:4.2f}x" for n in before))
    shared_prefix()


if __name__ == "__main__":
    main()
