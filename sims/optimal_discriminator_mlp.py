"""Discriminators of bounded capacity trained on samples, compared with the analytic D*.

Each :class:`DiscriminatorTask` asks for one discriminator: n samples from p_data and from p_G, a
one-hidden-layer tanh MLP of a given width, a seed. :func:`train_discriminators` trains any number of
tasks at once as one batched model (full-batch Adam on the binary cross-entropy, which is -V(G, D)
estimated from the samples), so a sweep over widths, sample sizes and generators costs one training run.

The data are 1-D, so each sample is rounded to a grid of spacing BIN_WIDTH and the loss is a weighted sum
over the grid points; its cost is then independent of n. The rounding moves a sample by at most
BIN_WIDTH / 2, far below the scale on which D* varies in the book's examples.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sims.checks import check_finite, check_int, check_positive, check_shape
from sims.optimal_discriminator import Density1D, optimal_discriminator, union_span, value_on_grid
from sims.seeding import as_generator

__all__ = [
    "BIN_WIDTH",
    "DiscriminatorTask",
    "BatchedMLP",
    "bin_centres",
    "binned_weights",
    "train_discriminators",
    "discriminator_probabilities",
    "heldout_value",
    "value_estimates",
    "central_region",
    "discriminator_errors",
]

BIN_WIDTH = 0.05  # grid spacing of the rounded samples
GRID_HALF_WIDTH = 8.0  # samples beyond +-8 (none in the book's examples) are put in the end bins
INPUT_SCALE = 4.0  # the network sees x / 4, so its inputs are of order one


@dataclass(frozen=True)
class DiscriminatorTask:
    """One discriminator to train: ``n_samples`` draws of each distribution, ``width`` hidden units."""

    p_data: Density1D
    p_g: Density1D
    n_samples: int
    width: int
    seed: int

    def __post_init__(self):
        check_int(self.n_samples, "n_samples", low=1)
        check_int(self.width, "width", low=1)
        check_int(self.seed, "seed", low=0)


def bin_centres() -> np.ndarray:
    """The grid the samples are rounded to, shape (n_bins,)."""
    n_bins = int(round(2 * GRID_HALF_WIDTH / BIN_WIDTH))
    return -GRID_HALF_WIDTH + BIN_WIDTH * (np.arange(n_bins) + 0.5)


def binned_weights(samples) -> np.ndarray:
    """Fraction of ``samples`` (shape (n,)) rounded to each grid point; shape (n_bins,), sums to one."""
    samples = check_finite(samples, "samples")
    n_bins = bin_centres().size
    index = np.clip(np.floor((samples + GRID_HALF_WIDTH) / BIN_WIDTH).astype(int), 0, n_bins - 1)
    return np.bincount(index, minlength=n_bins) / samples.size


class BatchedMLP(torch.nn.Module):
    """M independent MLPs x -> logit, one hidden layer of tanh units, evaluated in one pass.

    Model m uses the first ``widths[m]`` of max(widths) hidden units; a fixed mask zeroes the output
    weights of the others, so they neither contribute nor receive a gradient. Model m's initial weights come from ``torch.Generator`` seeded with
    ``seeds[m]``, so a model trains the same alone or in a batch.
    """

    def __init__(self, widths, seeds):
        super().__init__()
        widths = [check_int(w, "width", low=1) for w in widths]
        max_width = max(widths)
        inits = [self._initial_weights(w, max_width, s) for w, s in zip(widths, seeds)]
        self.w_in, self.b_in, self.w_out, self.b_out = (
            torch.nn.Parameter(torch.stack(tensors)) for tensors in zip(*inits))
        mask = torch.arange(max_width)[None, :] < torch.tensor(widths)[:, None]
        self.register_buffer("mask", mask[:, :, None].to(torch.float32))  # (M, max_width, 1)

    @staticmethod
    def _initial_weights(width: int, max_width: int, seed: int):
        """Weights of one model, drawn for its own ``width`` units only, then zero-padded to ``max_width``."""
        gen = torch.Generator().manual_seed(int(seed))
        w_in = 3.0 * torch.randn(1, width, generator=gen)
        # each unit's transition point -b_in / w_in is uniform over |x| < 6, where the data are
        centre = (12.0 * torch.rand(1, width, generator=gen) - 6.0) / INPUT_SCALE
        b_in = -w_in * centre
        w_out = torch.randn(width, 1, generator=gen) / width ** 0.5
        pad = max_width - width
        return (torch.nn.functional.pad(w_in, (0, pad)), torch.nn.functional.pad(b_in, (0, pad)),
                torch.nn.functional.pad(w_out, (0, 0, 0, pad)), torch.zeros(1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of D; ``x`` of shape (N,) (shared by all models) or (M, N); returns (M, N)."""
        x = x.expand(self.mask.shape[0], -1) if x.dim() == 1 else x
        hidden = torch.tanh(torch.addcmul(self.b_in, x[..., None] / INPUT_SCALE, self.w_in))  # (M, N, W)
        return (hidden @ (self.w_out * self.mask) + self.b_out).squeeze(-1)  # (M, N)


def _binned_training_data(tasks) -> tuple[torch.Tensor, torch.Tensor]:
    """Rounded-sample weights of p_data and p_G for every task, each of shape (M, n_bins)."""
    real, fake = [], []
    for task in tasks:
        rng = as_generator(task.seed)
        real.append(binned_weights(task.p_data.sample(task.n_samples, rng)))
        fake.append(binned_weights(task.p_g.sample(task.n_samples, rng)))
    return (torch.tensor(np.stack(real), dtype=torch.float32),
            torch.tensor(np.stack(fake), dtype=torch.float32))


def _empirical_values(model, real, fake, x) -> torch.Tensor:
    """V(G, D) on the rounded samples for every model: sum_x w_real log D + w_fake log(1 - D); (M,)."""
    logits = model(x)
    return (real * torch.nn.functional.logsigmoid(logits)
            + fake * torch.nn.functional.logsigmoid(-logits)).sum(dim=1)


def train_discriminators(tasks, *, steps: int = 400, lr: float = 0.1):
    """Train one discriminator per task by full-batch Adam on -V; return (model, training values (M,)).

    The learning rate decays along a cosine to zero, so the last steps settle instead of oscillating.
    Adam's update is per parameter and the loss is a sum over models, so the models stay independent.
    Torch runs single-threaded here (restored on return): for tensors this small, extra threads cost
    more in start-up and waiting than they save, many times more on a busy machine.
    """
    tasks = list(tasks)
    if not tasks:
        raise ValueError("tasks must hold at least one DiscriminatorTask")
    steps = check_int(steps, "steps", low=1)
    lr = check_positive(lr, "lr")
    real, fake = _binned_training_data(tasks)
    x = torch.tensor(bin_centres(), dtype=torch.float32)
    model = BatchedMLP([t.width for t in tasks], [t.seed for t in tasks])
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=steps)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(steps):
            optimiser.zero_grad()
            loss = -_empirical_values(model, real, fake, x).sum()
            loss.backward()
            optimiser.step()
            schedule.step()
        with torch.no_grad():
            return model, _empirical_values(model, real, fake, x).numpy().astype(float)
    finally:
        torch.set_num_threads(threads)


def discriminator_probabilities(model: BatchedMLP, x) -> np.ndarray:
    """D(x) of every model on ``x``, shape (N,) shared or (M, N) one row per model; float64 (M, N)."""
    x = torch.tensor(check_finite(x, "x"), dtype=torch.float32)
    with torch.no_grad():
        return torch.sigmoid(model(x).double()).numpy()


def heldout_value(model: BatchedMLP, tasks, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo V(G, D_m) on n fresh samples per distribution per model; (estimates, std errors), (M,)."""
    n = check_int(n, "n", low=2)
    rng = as_generator(rng)
    real = np.stack([t.p_data.sample(n, rng) for t in tasks])
    fake = np.stack([t.p_g.sample(n, rng) for t in tasks])
    with torch.no_grad():
        log_d = torch.nn.functional.logsigmoid(model(torch.tensor(real, dtype=torch.float32))).double()
        log_1md = torch.nn.functional.logsigmoid(-model(torch.tensor(fake, dtype=torch.float32))).double()
    estimate = log_d.mean(dim=1) + log_1md.mean(dim=1)
    std_error = torch.sqrt((log_d.var(dim=1) + log_1md.var(dim=1)) / n)
    return estimate.numpy(), std_error.numpy()


def value_estimates(tasks, *, n_heldout: int, rng, steps: int = 400, lr: float = 0.1,
                    n_grid: int = 4001) -> dict[str, np.ndarray]:
    """Train one discriminator per task and estimate V(G, D) three ways; each entry has shape (M,).

    "training": the objective on the training samples (biased upwards: D was fitted to them);
    "heldout" and "heldout_se": a Monte Carlo estimate on fresh samples, with its standard error;
    "quadrature": V(G, D) integrated on a grid, which can never exceed C(G) = V(G, D*).
    Also returns "model" (the BatchedMLP) under its own key.
    """
    tasks = list(tasks)
    model, training = train_discriminators(tasks, steps=steps, lr=lr)
    heldout, heldout_se = heldout_value(model, tasks, n_heldout, rng)
    grids = np.stack([np.linspace(*union_span(t.p_data, t.p_g), n_grid) for t in tasks])  # (M, n_grid)
    probabilities = discriminator_probabilities(model, grids)
    quadrature = np.array([value_on_grid(t.p_data, t.p_g, x, d)
                           for t, x, d in zip(tasks, grids, probabilities)])
    return {"training": training, "heldout": heldout, "heldout_se": heldout_se,
            "quadrature": quadrature, "model": model}


def central_region(p: Density1D, q: Density1D, x, mass: float = 0.95) -> np.ndarray:
    """Boolean mask over the sorted grid ``x``: the central interval holding ``mass`` of m = (p + q) / 2."""
    x = check_finite(x, "x")
    if not 0 < mass < 1:
        raise ValueError(f"mass must lie in (0, 1), got {mass}")
    midpoint = 0.5 * (p.pdf(x) + q.pdf(x))
    cumulative = np.concatenate([[0.0], np.cumsum(0.5 * (midpoint[1:] + midpoint[:-1]) * np.diff(x))])
    cumulative /= cumulative[-1]
    tail = 0.5 * (1 - mass)
    return (cumulative >= tail) & (cumulative <= 1 - tail)


def discriminator_errors(p: Density1D, q: Density1D, x, d, mass: float = 0.95) -> dict[str, float]:
    """How far a discriminator ``d`` (shape (N,) on grid ``x``) is from D*.

    Returns the largest |D - D*| over the central region holding ``mass`` of m = (p + q) / 2 (the bulk),
    the m-weighted mean |D - D*|, and the largest |D - D*| outside the bulk (the tails).
    """
    x = check_finite(x, "x")
    d = check_shape(check_finite(d, "d"), (x.size,), "d")
    gap = np.abs(d - optimal_discriminator(p, q, x))
    bulk = central_region(p, q, x, mass)
    midpoint = 0.5 * (p.pdf(x) + q.pdf(x))
    weighted = np.trapezoid(gap * midpoint, x) / np.trapezoid(midpoint, x)
    return {"bulk_max": float(gap[bulk].max()), "weighted_mean": float(weighted),
            "tail_max": float(gap[~bulk].max()) if np.any(~bulk) else 0.0}
