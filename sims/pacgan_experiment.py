"""PacGAN's Table 1 experiment: every method on the ring and the grid for several seeds, with its metrics.

One task trains all seeds of one (method, data set) pair as one batched group (``sims.pacgan``); methods
that differ only in their number of steps share one task and their common prefix. With ``workers=2`` two
tasks run side by side in separate processes, one thread each, which keeps both cores of a small machine
busy without the synchronisation cost of two threads on small tensors; an experiment of fewer than two
tasks per worker has its seeds split among tasks.
"""
from __future__ import annotations

import ctypes
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from multiprocessing import get_context

import numpy as np
import torch

from sims.checks import check_int
from sims.mode_metrics import emd_to_modes, mean_and_se, mixture, mode_statistics
from sims.pacgan import METHODS, TrainConfig, init_group, sample_group, train_branches

__all__ = ["PAPER_TABLE1", "Experiment", "run_task", "plan_tasks", "worker_pool", "run_experiment", "method_means",
           "summary_rows", "paper_config", "training_multiply_adds", "paired_difference"]

# Lin et al. (2018), Table 1: mean and standard error over 10 runs of (modes, % high quality, reverse KL).
PAPER_TABLE1 = {
    ("GAN", "ring"): ((6.3, 0.5), (98.2, 0.2), (0.45, 0.09)),
    ("PacGAN2", "ring"): ((7.9, 0.1), (95.6, 2.0), (0.07, 0.03)),
    ("PacGAN3", "ring"): ((7.8, 0.1), (97.7, 0.3), (0.10, 0.02)),
    ("PacGAN4", "ring"): ((7.8, 0.1), (95.9, 1.4), (0.07, 0.02)),
    ("GAN", "grid"): ((17.3, 0.8), (94.8, 0.7), (0.70, 0.07)),
    ("PacGAN2", "grid"): ((23.8, 0.7), (91.3, 0.8), (0.13, 0.04)),
    ("PacGAN3", "grid"): ((24.6, 0.4), (94.2, 0.4), (0.06, 0.02)),
    ("PacGAN4", "grid"): ((24.8, 0.2), (93.6, 0.6), (0.04, 0.01)),
}
METRICS = ("modes", "hq_percent", "reverse_kl", "emd")
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3       # glibc's mallopt parameters (malloc.h)


def paper_config(pack: int) -> TrainConfig:
    """PacGAN's own setting (fjxmlzn/PacGAN, 2DGrid and 2DRing configs) in our terms."""
    return TrainConfig(pack=pack, steps=400_000, batch=100 * pack, lr=1e-4, decay=0.0, d_lr_scale=1.0, beta1=0.8,
                       g_width=400, g_depth=4, d_width=200, d_depth=3, d_pieces=5, fourier_features=0,
                       r1_gamma=0.0)


def training_multiply_adds(config: TrainConfig) -> float:
    """Approximate multiply-adds of one training run: 3 x forward (a backward pass costs about two forwards).

    Counts the weight matrices only (no activations, batch norm or minibatch features): per step, the
    generator maps ``batch`` samples and the discriminator sees ``batch // pack`` real and as many fake packs.
    The R1 penalty's double backward over the real packs is counted as two more forward-backward passes,
    on one step in ``r1_every``.
    """
    c = config
    g_forward = c.latent_dim * c.g_width + (c.g_depth - 1) * c.g_width ** 2 + 2 * c.g_width
    per_sample = 2 + 2 * c.fourier_features if c.fourier_features else 2
    pieces = max(c.d_pieces, 1)
    d_forward = (per_sample * c.pack * c.d_width * pieces + (c.d_depth - 1) * c.d_width ** 2 * pieces
                 + c.d_width + c.fourier_features * 2 * c.pack)
    d_passes = 2 + (2 / c.r1_every if c.r1_gamma > 0 else 0)
    return 3.0 * c.steps * (c.batch * g_forward + d_passes * (c.batch // c.pack) * d_forward)


@dataclass
class Experiment:
    """Per-run metrics (``records``), samples per (method, data set) of shape (seeds, n, 2), and costs."""

    records: list = field(default_factory=list)
    samples: dict = field(default_factory=dict)
    losses: dict = field(default_factory=dict)
    wall_s: float = 0.0
    cpu_s: float = 0.0


def run_task(runs: dict, config: TrainConfig, dataset: str, seeds, n_samples: int, sample_seed: int,
             progress: bool = False, threads: int | None = None) -> list:
    """Train ``seeds`` of the runs ``{name: steps}`` of one configuration on one data set as one group.

    Runs that differ only in their number of steps share their common prefix (``train_branches``).
    Returns, for each run, a dict of its name, data set, seeds, samples (seeds, n_samples, 2), mean losses
    per step and the task's CPU seconds (on the first run only, so that they add up).
    """
    if threads is not None:
        torch.set_num_threads(threads)
    start = time.process_time()
    group = init_group(config, [dataset] * len(seeds), list(seeds))
    trained = train_branches(group, list(runs.values()), progress=progress, desc=f"{'/'.join(runs)} {dataset}")
    out = [{"name": name, "dataset": dataset, "seeds": list(seeds), "losses": losses,
            "samples": sample_group(run, n_samples, seed=sample_seed)}
           for name, (run, losses) in zip(runs, trained)]
    for i, result in enumerate(out):
        result["cpu_s"] = time.process_time() - start if i == 0 else 0.0
    return out


def plan_tasks(methods: dict, datasets, seeds, workers: int = 1) -> list:
    """The tasks of an experiment, costliest first: ``[(runs {name: steps}, config, dataset, seeds)]``.

    One task per configuration and data set, holding every method whose configuration differs only in its
    number of steps; when there are fewer than two tasks per worker, each task's seeds are split among
    several tasks, so that the workers can share the work evenly (a seed's run does not depend on the group
    it is trained in, up to rounding).
    """
    grouped = {}
    for name, config in methods.items():
        for dataset in datasets:
            key = (replace(config, steps=1), dataset)
            grouped.setdefault(key, {})[name] = config.steps
    seeds = list(seeds)
    parts = 1 if workers == 1 else max(1, min(len(seeds), -(-2 * workers // len(grouped))))   # one seed at least
    tasks = [(runs, replace(base, steps=max(runs.values())), dataset, chunk.tolist())
             for (base, dataset), runs in grouped.items() for chunk in np.array_split(seeds, parts)]
    return sorted(tasks, key=lambda t: -_task_cost(*t))


def _task_cost(runs: dict, config: TrainConfig, dataset: str, seeds) -> float:
    """Relative cost, for ordering: multiply-adds of every step trained, minibatch features counted double."""
    steps = max(runs.values()) + sum(n - int(n * (1 - config.decay)) for n in runs.values() if n < config.steps)
    per_step = training_multiply_adds(replace(config, steps=1))
    return steps * per_step * len(seeds) * (2 if config.minibatch_kernels else 1)


def _evaluate(result: dict) -> list:
    mix = mixture(result["dataset"])
    return [{"method": result["name"], "dataset": result["dataset"], "seed": seed, **mode_statistics(samples, mix),
             "emd": emd_to_modes(samples, mix)} for seed, samples in zip(result["seeds"], result["samples"])]


def _init_worker(threads: int) -> None:
    """A worker process: ``threads`` torch threads, and freed memory kept for reuse (speed only).

    Each training step frees and allocates the same large activations; by default glibc returns them to
    the system and every new one costs page faults (about a fifth of a step's time, measured). A no-op
    where there is no glibc.
    """
    torch.set_num_threads(threads)
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(M_MMAP_THRESHOLD, 1 << 30)
    libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)


_POOLS: dict = {}


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` spawned processes (see :func:`_init_worker`), kept for later experiments of this session.

    Starting them costs seconds (each imports torch); a page that runs three experiments pays it once. They
    exit with the interpreter.
    """
    pool = _POOLS.get(workers)
    if pool is None or getattr(pool, "_broken", False):
        pool = _POOLS[workers] = ProcessPoolExecutor(workers, mp_context=get_context("spawn"),
                                                     initializer=_init_worker, initargs=(1,))
    return pool


def run_experiment(methods: dict = METHODS, datasets=("ring", "grid"), seeds=range(5), *, n_samples: int = 2500,
                   sample_seed: int = 12345, workers: int = 1, progress: bool = False) -> Experiment:
    """Train and score every (method, data set) pair; ``workers`` > 1 runs tasks in parallel processes.

    The tasks are those of :func:`plan_tasks`; records, samples (seeds in the order given) and the mean
    losses per step over all seeds do not depend on ``workers``.
    """
    workers = check_int(workers, "workers", low=1)
    seeds = [check_int(s, "seed", low=0) for s in seeds]
    tasks = plan_tasks(methods, datasets, seeds, workers)
    wall, cpu = time.perf_counter(), time.process_time()
    if workers == 1:
        results = [r for task in tasks for r in run_task(*task, n_samples, sample_seed, progress)]
        child_cpu = 0.0
    else:
        pool = worker_pool(workers)
        futures = [pool.submit(run_task, *task, n_samples, sample_seed, progress) for task in tasks]
        results = [r for f in futures for r in f.result()]
        child_cpu = sum(r["cpu_s"] for r in results)
    out = Experiment()
    for key in {(r["name"], r["dataset"]) for r in results}:
        parts = sorted((r for r in results if (r["name"], r["dataset"]) == key), key=lambda r: r["seeds"][0])
        out.records += [row for r in parts for row in _evaluate(r)]
        out.samples[key] = np.concatenate([r["samples"] for r in parts])
        out.losses[key] = sum(r["losses"] * len(r["seeds"]) for r in parts) / len(seeds)
    out.records.sort(key=lambda r: (list(methods).index(r["method"]), list(datasets).index(r["dataset"]),
                                    seeds.index(r["seed"])))
    out.wall_s = time.perf_counter() - wall
    out.cpu_s = time.process_time() - cpu + child_cpu
    return out


def method_means(records: list) -> dict:
    """Mean of each metric over seeds, keyed ``(dataset, method, metric)``; NaNs (no good sample) skipped."""
    out = {}
    for key in {(r["dataset"], r["method"]) for r in records}:
        runs = [r for r in records if (r["dataset"], r["method"]) == key]
        for metric in METRICS:
            out[(*key, metric)] = float(np.nanmean([r[metric] for r in runs]))
    return out


def _mean_se_text(values, fmt: str) -> str:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]                  # reverse KL is NaN for a run without good samples
    if values.size < 2:
        return "n/a"
    mean, se = mean_and_se(values)
    return f"{fmt.format(mean)} ± {fmt.format(se)}"


def summary_rows(records: list, methods, dataset: str, fmt=("{:.1f}", "{:.1f}", "{:.2f}", "{:.2f}")) -> list:
    """Rows ``[method, modes, HQ %, reverse KL, EMD]`` for one data set, each 'mean ± s.e. (paper's)'."""
    rows = []
    for name in methods:
        runs = [r for r in records if r["method"] == name and r["dataset"] == dataset]
        paper = PAPER_TABLE1.get((name, dataset), [None] * 3)
        row = [name]
        for metric, f, theirs in zip(METRICS, fmt, [*paper, None]):
            cell = _mean_se_text([r[metric] for r in runs], f)
            if metric != "emd":                            # the paper reports no EMD
                cell += " (n/a)" if theirs is None else f" ({f.format(theirs[0])} ± {f.format(theirs[1])})"
            row.append(cell)
        rows.append(row)
    return rows


def paired_difference(records: list, dataset: str, metric: str, method_a: str, method_b: str,
                      level: float = 0.95) -> dict:
    """Mean over seeds of ``metric(method_a) - metric(method_b)`` on one data set, with a paired t interval.

    Runs are paired by seed (same seed, same evaluation draw); seeds where either value is NaN are dropped.
    Returns ``{"mean", "low", "high", "n"}``; ``separated`` is True when the interval excludes zero. Raises
    ``ValueError`` when fewer than two seeds are paired.
    """
    from scipy import stats

    by_seed = {}
    for r in records:
        if r["dataset"] == dataset and r["method"] in (method_a, method_b):
            by_seed.setdefault(r["seed"], {})[r["method"]] = r[metric]
    diffs = np.array([v[method_a] - v[method_b] for v in by_seed.values()
                      if len(v) == 2 and np.isfinite(v[method_a]) and np.isfinite(v[method_b])])
    if diffs.size < 2:
        raise ValueError(f"need two or more paired seeds of {method_a!r} and {method_b!r} on {dataset!r}, "
                         f"got {diffs.size}")
    mean, se = mean_and_se(diffs)
    half = stats.t.ppf(0.5 + level / 2, diffs.size - 1) * se
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": int(diffs.size),
            "separated": bool(mean - half > 0 or mean + half < 0)}
