"""A WGAN-GP and a JS-based GAN on the 8-Gaussians toy set, watched through the exact W1 (POT).

After ``gan_toy.py`` of igul222/improved_wgan_training (Gulrajani et al. 2017): 8 Gaussians of std 0.02 on a
circle of radius 2, the whole set divided by 1.414; generator and critic are MLPs with three ReLU layers; Adam
(lr 1e-4, betas (0.5, 0.9)); 5 critic steps per generator step; batch 256; gradient-penalty weight 0.1 on toy
data (10 in the paper). The ``GAN_TOY`` preset holds those settings; ``BOOK`` changes what a CPU build needs
(width, number of steps, step size) and says why.

Every ``eval_every`` generator steps the run records, on a fixed evaluation batch:

- ``exact_w1``: the exact W1 between ``n_eval`` data points and ``n_eval`` generated points (``ot.emd2``);
- ``estimate``: what the discriminator's loss says about the distance -- for the WGAN-GP the critic's
  Kantorovich-Rubinstein value ``mean f(real) - mean f(fake)``; for the JS GAN ``log 2 - L_D / 2``, which equals
  the Jensen-Shannon divergence when the discriminator is optimal;
- ``slope``: the largest critic gradient norm on interpolates (the critic's local Lipschitz constant).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from sims.checks import check_choice, check_int, check_positive
from sims.seeding import as_generator
from sims.wasserstein import w1_lp

__all__ = ["ToyGANConfig", "GAN_TOY", "BOOK", "TINY", "eight_gaussians", "make_mlp", "gradient_penalty",
           "discriminator_loss", "generator_loss", "train_toy_gan", "summarize_run", "train_many"]

DATA_SCALE = 2.0      # radius of the circle of means in gan_toy.py, before the division below
DATA_STD = 0.02       # per-coordinate std of each Gaussian, before the division
DATA_DIVISOR = 1.414  # gan_toy.py divides the set by this ("stdev")


@dataclass(frozen=True)
class ToyGANConfig:
    """Settings of one toy run; ``loss`` is ``"wgan-gp"`` or ``"js"`` (the minimax GAN's discriminator)."""

    loss: str = "wgan-gp"
    hidden: int = 512
    critic_steps: int = 5
    batch_size: int = 256
    gp_weight: float = 0.1
    lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.9
    n_iters: int = 100_000
    eval_every: int = 100
    n_eval: int = 512
    seed: int = 0

    def __post_init__(self):
        check_choice(self.loss, "loss", ("wgan-gp", "js"))
        for name in ("hidden", "critic_steps", "batch_size", "n_iters", "eval_every", "n_eval"):
            check_int(getattr(self, name), name, low=1)
        check_int(self.seed, "seed", low=0)
        check_positive(self.gp_weight, "gp_weight", allow_zero=True)
        check_positive(self.lr, "lr")


GAN_TOY = ToyGANConfig()  # the published toy settings (gan_toy.py)
# CPU build: width 512 -> 64 (the nets are overhead-bound on a CPU at this size; 128 gave the same curves at
# 1.6x the time), 100k -> 300 generator steps, and to make up for the shorter run a 10x larger step (1e-3).
# The penalty weight is 1 by default; the chapter also runs gan_toy's 0.1 and the paper's 10.
BOOK = replace(GAN_TOY, hidden=64, lr=1e-3, n_iters=300, eval_every=15, gp_weight=1.0)
TINY = replace(GAN_TOY, hidden=16, n_iters=3, eval_every=1, batch_size=32, n_eval=64)  # tests


def eight_gaussians(n: int, rng) -> np.ndarray:
    """Draw ``n`` points of the gan_toy 8-Gaussians set; returns a float32 array of shape (n, 2)."""
    n = check_int(n, "n", low=1)
    rng = as_generator(rng)
    angles = np.arange(8) * (np.pi / 4)
    centers = DATA_SCALE * np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (8, 2)
    points = centers[rng.integers(8, size=n)] + DATA_STD * rng.standard_normal((n, 2))
    return (points / DATA_DIVISOR).astype(np.float32)


def make_mlp(in_dim: int, hidden: int, out_dim: int, generator: torch.Generator) -> nn.Sequential:
    """Three ReLU layers of width ``hidden`` and a linear output, He-initialised from ``generator``."""
    layers, width = [], in_dim
    for _ in range(3):
        layers += [nn.utils.skip_init(nn.Linear, width, hidden), nn.ReLU()]
        width = hidden
    layers.append(nn.utils.skip_init(nn.Linear, width, out_dim))  # skip_init: no draw from torch's global RNG
    net = nn.Sequential(*layers)
    with torch.no_grad():
        for layer in net:
            if isinstance(layer, nn.Linear):  # gan_toy.py uses He initialisation and zero biases
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu", generator=generator)
                layer.bias.zero_()
    return net


def gradient_penalty(critic, real, fake, alpha) -> torch.Tensor:
    """mean((|grad f(x_hat)| - 1)^2) at x_hat = a real + (1 - a) fake.

    real, fake: (B, 2); alpha (a): (B, 1), uniform on [0, 1].
    """
    x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    # create_graph: the critic step differentiates the penalty itself
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat,
                                  create_graph=True)  # (B, 2)
    return ((grad.norm(dim=1) - 1) ** 2).mean()


def discriminator_loss(cfg: ToyGANConfig, net_D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                       alpha: torch.Tensor | None = None) -> torch.Tensor:
    """The loss the discriminator minimises: WGAN-GP critic loss, or the minimax GAN's cross-entropy."""
    if cfg.loss == "js":
        # -E log D(x) - E log(1 - D(G(z))) with D = sigmoid(logit), in the numerically stable form
        return F.softplus(-net_D(real)).mean() + F.softplus(net_D(fake)).mean()
    loss = net_D(fake).mean() - net_D(real).mean()
    if cfg.gp_weight > 0:
        loss = loss + cfg.gp_weight * gradient_penalty(net_D, real, fake, alpha)
    return loss


def generator_loss(cfg: ToyGANConfig, net_D: nn.Module, fake: torch.Tensor) -> torch.Tensor:
    """WGAN: ``-E f(G(z))``; JS GAN: the non-saturating ``-E log D(G(z))`` (Goodfellow 2014)."""
    if cfg.loss == "js":
        return F.softplus(-net_D(fake)).mean()
    return -net_D(fake).mean()


def _evaluate(cfg, net_G, net_D, real_eval, z_eval) -> dict:
    """Exact W1, the discriminator's distance estimate and the critic's largest slope on the eval batch."""
    with torch.no_grad():
        fake = net_G(z_eval)
        d_real, d_fake = net_D(real_eval), net_D(fake)
    if cfg.loss == "js":
        estimate = math.log(2) - 0.5 * (F.softplus(-d_real).mean() + F.softplus(d_fake).mean()).item()
    else:
        estimate = (d_real.mean() - d_fake.mean()).item()
    x_hat = (0.5 * (real_eval + fake)).requires_grad_(True)
    (grad,) = torch.autograd.grad(net_D(x_hat).sum(), x_hat)
    return {"estimate": estimate, "exact_w1": w1_lp(real_eval.numpy(), None, fake.numpy(), None),
            "slope": grad.norm(dim=1).max().item(), "samples": fake.numpy()}


def train_toy_gan(cfg: ToyGANConfig) -> dict:
    """Train on 8 Gaussians; return ``{"iteration", "estimate", "exact_w1", "slope"}`` arrays plus the config,
    the final generated eval batch ``samples`` (n_eval, 2), the eval data ``real`` and the trained nets."""
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    net_G, net_D = make_mlp(2, cfg.hidden, 2, gen), make_mlp(2, cfg.hidden, 1, gen)
    opt_G = torch.optim.Adam(net_G.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    opt_D = torch.optim.Adam(net_D.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    real_eval = torch.from_numpy(eight_gaussians(cfg.n_eval, rng))
    z_eval = torch.randn(cfg.n_eval, 2, generator=gen)
    history = {"iteration": [], "estimate": [], "exact_w1": [], "slope": []}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # these nets are tiny: thread hand-offs cost more than they save on 2 cores
    try:
        for it in range(cfg.n_iters + 1):
            if it > 0:  # as in gan_toy.py: the critic gets a head start at iteration 0
                fake = net_G(torch.randn(cfg.batch_size, 2, generator=gen))
                opt_G.zero_grad()
                generator_loss(cfg, net_D, fake).backward()
                opt_G.step()
            for _ in range(cfg.critic_steps):
                _critic_step(cfg, net_G, net_D, opt_D, rng, gen)
            if it % cfg.eval_every == 0 or it == cfg.n_iters:
                point = _evaluate(cfg, net_G, net_D, real_eval, z_eval)
                history["iteration"].append(it)
                for key in ("estimate", "exact_w1", "slope"):
                    history[key].append(point[key])
    finally:
        torch.set_num_threads(threads)
    out = {key: np.asarray(val) for key, val in history.items()}
    out.update(config=asdict(cfg), samples=point["samples"], real=real_eval.numpy(), net_G=net_G, net_D=net_D)
    return out


def summarize_run(run: dict) -> dict[str, float]:
    """How well a run's loss-based estimate tracks the exact W1.

    ``corr``: correlation over all checkpoints; over the second half of training (after the critic has caught
    up): ``ratio`` median estimate / exact, ``relerr`` median |estimate - exact| / exact, ``slope`` median
    critic slope; ``final``: the last exact W1. For the JS GAN ratio and relerr compare a JS value with a
    distance and are reported as NaN.
    """
    late = run["iteration"] >= run["iteration"][-1] / 2
    est, exact = run["estimate"][late], run["exact_w1"][late]
    is_wgan = run["config"]["loss"] == "wgan-gp"
    return {"corr": float(np.corrcoef(run["estimate"], run["exact_w1"])[0, 1]),
            "ratio": float(np.median(est / exact)) if is_wgan else float("nan"),
            "relerr": float(np.median(np.abs(est - exact) / exact)) if is_wgan else float("nan"),
            "slope": float(np.median(run["slope"][late])), "final": float(run["exact_w1"][-1])}


def _train_without_nets(cfg: ToyGANConfig) -> dict:
    run = train_toy_gan(cfg)
    del run["net_G"], run["net_D"]
    return run


def train_many(configs, workers: int = 2) -> list[dict]:
    """``train_toy_gan`` for each config, in ``workers`` processes (one thread each); the runs lack the nets.

    Each run is seeded by its own config, so the results do not depend on ``workers``.
    """
    configs = list(configs)
    workers = check_int(workers, "workers", low=1)
    if workers == 1:
        return [_train_without_nets(c) for c in configs]
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        return list(pool.map(_train_without_nets, configs))


def _critic_step(cfg, net_G, net_D, opt_D, rng, gen) -> None:
    real = torch.from_numpy(eight_gaussians(cfg.batch_size, rng))
    with torch.no_grad():
        fake = net_G(torch.randn(cfg.batch_size, 2, generator=gen))
    alpha = torch.rand(cfg.batch_size, 1, generator=gen)
    opt_D.zero_grad()
    discriminator_loss(cfg, net_D, real, fake, alpha).backward()
    opt_D.step()
