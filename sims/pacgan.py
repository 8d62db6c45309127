"""GAN, PacGAN and minibatch discrimination on the 2-D ring and grid, many runs trained as one batched model.

Every run of an experiment (a seed, possibly on another data set) is one *member* of a group. Each layer
holds the weights of all members in one tensor of shape ``(S, fan_in, fan_out)`` and applies them with
``torch.baddbmm``, so one Python step trains ``S`` independent networks. Members never share a number:
each has its own ``torch.Generator`` for its initial weights, noise and data, its loss is a separate term
of the summed loss, and Adam acts element by element. A group of one member is therefore the plain
per-seed trainer, and a group of ``S`` gives the same runs as ``S`` separate calls (tested).

Nets follow PacGAN's toy experiments, narrower and trained far shorter (see ``TrainConfig``): the
generator is an MLP with batch normalisation and ReLU; the discriminator sees ``pack`` samples side by
side, each embedded with fixed random Fourier features, through leaky-ReLU (or maxout) layers; with
``minibatch_kernels > 0`` its last hidden layer is followed by minibatch discrimination. The
discriminator's loss carries the R1 penalty of Mescheder et al. (2018) on real packs (``r1_gamma``).
"""
from __future__ import annotations

import argparse
import copy
import math
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from sims.checks import check_int, check_positive
from sims.mode_metrics import mixture

__all__ = ["TrainConfig", "METHODS", "Group", "init_group", "generate", "discriminate", "train_step", "train_group",
           "train_branches", "sample_group"]


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one method. PacGAN's values in the comments; ours buy speed (see the chapter)."""

    pack: int = 1                 # samples per discriminator input (PacGAN m; 1 = plain GAN)
    minibatch_kernels: int = 0    # minibatch-discrimination kernels B (0 = off)
    kernel_dim: int = 4           # rows C of each kernel
    kernel_group: int = 8         # inputs compared with each other by minibatch discrimination
    steps: int = 1500             # 400 epochs x 1000 batches = 400,000
    batch: int = 512              # generated samples per step, in batch // pack packs: 100 packs (100 m samples)
    lr: float = 1.5e-3            # 1e-4, then linear decay to 0 over the last ``decay`` of the steps
    decay: float = 0.3            # (no decay)
    d_lr_scale: float = 0.3       # discriminator lr / generator lr (1)
    beta1: float = 0.5            # 0.8
    beta2: float = 0.999          # 0.999
    g_width: int = 64             # 400
    g_depth: int = 4              # 4 hidden layers, batch norm + ReLU
    d_width: int = 64             # 200
    d_depth: int = 3              # 3
    d_pieces: int = 0             # maxout pieces: 5 (0 = leaky ReLU, 5x cheaper)
    fourier_features: int = 64    # random Fourier features of each sample fed to D (none)
    fourier_scale: float = 0.6    # std of their frequencies, in cycles per data RMS
    r1_gamma: float = 0.1         # R1 penalty (gamma/2) E|grad_x D|^2 on real packs, x in RMS units (none)
    r1_every: int = 4             # lazy R1: the penalty x r1_every on every r1_every-th step (speed only)
    latent_dim: int = 2           # 2
    chunk: int = 50               # steps of noise and data drawn at once (speed only)


METHODS = {
    "GAN": TrainConfig(),
    "PacGAN2": TrainConfig(pack=2),
    "PacGAN3": TrainConfig(pack=3),
    "PacGAN4": TrainConfig(pack=4),
    "minibatch disc.": TrainConfig(minibatch_kernels=8),
}


@dataclass
class Group:
    """Weights, optimiser state and random streams of ``S`` members trained together."""

    config: TrainConfig
    mixtures: list
    g_params: dict
    d_params: dict
    optimizer: torch.optim.Optimizer
    streams: list
    scales: torch.Tensor          # (S, 1, 1): the nets see data divided by its per-coordinate RMS
    fourier: torch.Tensor         # (S, 2, F): fixed frequencies of the discriminator's input features


def _grouped_linear(sizes, streams, prefix, bias=True):
    """Weights (S, fan_in, fan_out) and biases (S, 1, fan_out) uniform in +-1/sqrt(fan_in), torch's default.

    Random biases matter here: with zero biases every first-layer kink passes through the origin and the
    discriminator needs thousands of steps to move them between the modes of the grid.
    """
    params = {}
    for i, (fan_in, fan_out) in enumerate(sizes):
        bound = 1 / math.sqrt(fan_in)
        uniform = lambda *shape: torch.stack([(torch.rand(*shape, generator=g) * 2 - 1) * bound  # noqa: E731
                                              for g in streams])
        params[f"{prefix}{i}.w"] = uniform(fan_in, fan_out)
        if bias:
            params[f"{prefix}{i}.b"] = uniform(1, fan_out)
    return params


def _init_generator(c: TrainConfig, streams) -> dict:
    """Generator weights: ``g_depth`` bias-free layers (batch norm supplies the shift) and an output layer."""
    n = len(streams)
    sizes = [(c.latent_dim, c.g_width)] + [(c.g_width, c.g_width)] * (c.g_depth - 1)
    params = _grouped_linear(sizes, streams, "g", bias=False)
    for i in range(c.g_depth):
        params[f"bn{i}.gain"] = torch.ones(n, 1, c.g_width)
        params[f"bn{i}.shift"] = torch.zeros(n, 1, c.g_width)
    params.update(_grouped_linear([(c.g_width, 2)], streams, "gout"))
    return params


def _init_discriminator(c: TrainConfig, streams) -> dict:
    """Discriminator weights: hidden layers (x pieces for maxout), minibatch kernels T, output layer."""
    pieces = max(c.d_pieces, 1)
    per_sample = 2 + 2 * c.fourier_features                      # raw coordinates, sines and cosines
    sizes = [(per_sample * c.pack, c.d_width * pieces)] + [(c.d_width, c.d_width * pieces)] * (c.d_depth - 1)
    params = _grouped_linear(sizes, streams, "d")
    if c.minibatch_kernels:
        params.update(_grouped_linear([(c.d_width, c.minibatch_kernels * c.kernel_dim)], streams, "T", bias=False))
    params.update(_grouped_linear([(c.d_width + c.minibatch_kernels, 1)], streams, "dout"))
    return params


def init_group(config: TrainConfig, datasets, seeds) -> Group:
    """Build ``S = len(seeds)`` members; member ``s`` learns ``datasets[s]`` (a name) from seed ``seeds[s]``."""
    if len(datasets) != len(seeds) or not seeds:
        raise ValueError(f"datasets and seeds must be non-empty and equally long, got {len(datasets)}, {len(seeds)}")
    seeds = [check_int(s, "seed", low=0) for s in seeds]
    c = config
    n_inputs = check_int(c.batch, "batch", low=check_int(c.pack, "pack", low=1)) // c.pack
    check_positive(c.r1_gamma, "r1_gamma", allow_zero=True)
    check_int(c.r1_every, "r1_every", low=1)
    if c.minibatch_kernels and n_inputs % min(c.kernel_group, n_inputs):
        raise ValueError(f"batch // pack = {n_inputs} must be a multiple of kernel_group = {c.kernel_group}")
    streams = [torch.Generator().manual_seed(s) for s in seeds]
    mixtures = [mixture(name) for name in datasets]
    g_params, d_params = _init_generator(c, streams), _init_discriminator(c, streams)
    for p in [*g_params.values(), *d_params.values()]:
        p.requires_grad_(True)
    optimizer = torch.optim.Adam([{"params": list(g_params.values()), "scale": 1.0},
                                  {"params": list(d_params.values()), "scale": c.d_lr_scale}],
                                 lr=c.lr, betas=(c.beta1, c.beta2), fused=True)   # speed only; see set_grads
    # the grid spans +-4 and the ring +-1; both nets work in units of the data's RMS, as with normalised data
    scales = torch.tensor([np.sqrt(np.mean(m.means ** 2) + m.std ** 2) for m in mixtures],
                          dtype=torch.float32).view(-1, 1, 1)
    fourier = c.fourier_scale * torch.stack([torch.randn(2, c.fourier_features, generator=g) for g in streams])
    return Group(config, mixtures, g_params, d_params, optimizer, streams, scales, fourier)


def generate(g_params, z, depth):
    """Generator forward pass: z (S, N, latent_dim) -> samples (S, N, 2); batch statistics per member."""
    h = z
    for i in range(depth):
        h = torch.bmm(h, g_params[f"g{i}.w"])
        h = h - h.mean(1, keepdim=True)           # batch norm by hand: 2x faster than var_mean on axis 1
        h = h * torch.rsqrt(h.square().mean(1, keepdim=True) + 1e-5)
        h = torch.relu(h * g_params[f"bn{i}.gain"] + g_params[f"bn{i}.shift"])
    return torch.baddbmm(g_params["gout0.b"], h, g_params["gout0.w"])


def fourier_embed(x, fourier):
    """Embed every 2-D sample of a pack separately: x (S, N, 2*pack) -> (S, N, (2 + 2F)*pack).

    Features sin(2 pi x.b), cos(2 pi x.b) with fixed random b (Tancik et al. 2020) let an MLP learn the
    fine structure of the modes in thousands of steps instead of hundreds of thousands; the raw
    coordinates stay, so that the discriminator can still tell that a far-away sample is fake. The
    embedding acts on each sample alone: the packed input is still m samples side by side.
    """
    n_members, n, _ = x.shape
    samples = x.reshape(n_members, -1, 2)                                      # (S, N*pack, 2)
    angles = 2 * math.pi * torch.bmm(samples, fourier)                         # (S, N*pack, F)
    features = torch.cat([samples, torch.sin(angles), torch.cos(angles)], dim=-1)
    return features.reshape(n_members, n, -1)


def discriminate(d_params, x, fourier, config: TrainConfig):
    """Discriminator logits: packed inputs x (S, N, 2*pack) -> (S, N); the batch is one set for minibatch disc."""
    h = fourier_embed(x, fourier)
    for i in range(config.d_depth):
        h = torch.baddbmm(d_params[f"d{i}.b"], h, d_params[f"d{i}.w"])
        if config.d_pieces == 0:
            h = F.leaky_relu(h, 0.2)
        else:   # maxout; max() rather than amax(): its backward is a scatter instead of a tie-splitting mask
            h = h.unflatten(-1, (config.d_width, config.d_pieces)).max(-1).values
    if config.minibatch_kernels:
        h = torch.cat([h, _minibatch_similarity(h, d_params["T0.w"], config.minibatch_kernels,
                                                config.kernel_group)], dim=-1)
    return torch.baddbmm(d_params["dout0.b"], h, d_params["dout0.w"]).squeeze(-1)


def _minibatch_similarity(h, kernels, n_kernels, group=8):
    """o(x_i)_b = sum_{j != i} exp(-|M_ib - M_jb|_1) with M = h T, in groups.

    h (S, N, A), kernels (S, A, B*C) -> (S, N, B). Comparing all N inputs
    costs N^2; groups of ``group`` inputs keep it linear in N (Salimans et
    al. compared within minibatches of about 100).
    """
    n_members, n, _ = h.shape
    group = min(group, n)
    shape = (n_members, n // group, group, n_kernels, -1)
    m = torch.bmm(h, kernels).view(shape)                    # (S, G, n, B, C)
    dist = (m.unsqueeze(3) - m.unsqueeze(2)).abs().sum(-1)   # (S, G, n, n, B)
    o = torch.exp(-dist).sum(3) - 1.0      # drop j = i: its term is exp(0) = 1
    return o.reshape(n_members, n, n_kernels)


def _draw_chunk(group: Group):
    """Noise and real samples for ``chunk`` steps of every member, each from its own stream."""
    c = group.config
    n = (c.batch // c.pack) * c.pack
    z, real = [], []
    for g, mix in zip(group.streams, group.mixtures):
        z.append(torch.randn(c.chunk, n, c.latent_dim, generator=g))
        idx = torch.randint(len(mix.means), (c.chunk, n), generator=g)
        eps = torch.randn(c.chunk, n, 2, generator=g)
        real.append(torch.as_tensor(mix.means, dtype=torch.float32)[idx] + mix.std * eps)
    return torch.stack(z, 1), torch.stack(real, 1) / group.scales  # (chunk, S, n, .), real data normalised


def train_step(group: Group, z, real, penalise: bool = True):
    """One simultaneous update of both players, as in PacGAN's code.

    z (S, m*N, latent_dim), real (S, m*N, 2); returns the mean (loss_D, loss_G). With ``penalise`` the
    discriminator's loss includes the R1 penalty, weighted ``r1_every`` times (lazy regularisation, as in
    StyleGAN2: the same penalty on average at a fraction of the cost).
    """
    c = group.config
    n_packs = c.batch // c.pack
    fake = generate(group.g_params, z, c.g_depth)
    # a pack is m consecutive samples side by side: (S, n_packs, 2m)
    r1 = penalise and c.r1_gamma > 0
    real_packs = real.reshape(-1, n_packs, 2 * c.pack).requires_grad_(r1)
    d_real = discriminate(group.d_params, real_packs, group.fourier, c)
    d_fake = discriminate(group.d_params, fake.reshape(-1, n_packs, 2 * c.pack),
                          group.fourier, c)
    # a mean over each member's batch, summed over members: gradients stay apart
    loss_d = (F.softplus(-d_real) + F.softplus(d_fake)).mean(1).sum()
    if r1:                  # a member's logits depend on its own packs only: the penalty stays per member
        (grad_x,) = torch.autograd.grad(d_real.sum(), real_packs, create_graph=True)
        loss_d = loss_d + 0.5 * c.r1_gamma * c.r1_every * r1_penalty(grad_x).sum()
    loss_g = F.softplus(-d_fake).mean(1).sum()        # non-saturating G loss
    d_list = list(group.d_params.values())
    g_list = list(group.g_params.values())
    grads_d = torch.autograd.grad(loss_d, d_list, retain_graph=True)
    grads_g = torch.autograd.grad(loss_g, g_list)
    set_grads(d_list + g_list, grads_d + grads_g)
    group.optimizer.step()
    return loss_d.item() / z.shape[0], loss_g.item() / z.shape[0]


def set_grads(params, grads) -> None:
    """Hand the optimiser its gradients, contiguous: torch 2.13's fused CPU Adam misreads strided ones
    (autograd's weight gradients under R1 are transposed views), a test checks the update against plain Adam."""
    for p, grad in zip(params, grads):
        p.grad = grad.contiguous()


def r1_penalty(grad_x):
    """Mean squared norm of the discriminator's input gradient per member: (S, N, 2m) -> (S,)."""
    return grad_x.square().sum(-1).mean(1)


def train_group(group: Group, *, progress: bool = False, desc: str = "training", step=None) -> np.ndarray:
    """Run ``config.steps`` steps; return the mean losses per step, shape (steps, 2) = (loss_D, loss_G).

    ``step`` is the update function, by default ``sims.pacgan_grads.fast_train_step`` (hand-written
    gradients, tested equal to :func:`train_step`) where it supports the configuration, else :func:`train_step`.
    """
    return train_branches(group, [group.config.steps], progress=progress, desc=desc, step=step)[0][1]


def train_branches(group: Group, step_counts, *, progress: bool = False, desc: str = "training",
                   step=None) -> list:
    """Train ``group`` for each number of steps in ``step_counts``; return ``[(group, losses)]`` in that order.

    Runs that differ only in length share their learning rate until the shorter one starts to decay, and
    draw the same noise and data, so up to there they are one run: the longest trains ``group`` itself,
    and each shorter one is a copy taken where its schedule leaves the longest's, trained on from there.
    The results are those of separate runs (tested), at the cost of the longest plus the shorter ones' tails.
    """
    from tqdm.auto import tqdm

    from sims import pacgan_grads

    c = group.config
    counts = [check_int(n, "steps", low=1) for n in step_counts]
    longest = max(counts)
    if step is None:
        step = pacgan_grads.fast_train_step if pacgan_grads.supports(c) else train_step
    fork_at = {n: next((i for i in range(n) if _lr_factor(c, n, i) != _lr_factor(c, longest, i)), n)
               for n in set(counts) - {longest}}
    bar = tqdm(total=longest + sum(n - i for n, i in fork_at.items()), disable=not progress, desc=desc)
    losses, forks, chunk = np.empty((longest, 2)), {}, None
    for i in range(longest):
        for n in (n for n, at in fork_at.items() if at == i):
            forks[n] = (copy.deepcopy(group), chunk, losses[:i].copy())
        chunk = _run_steps(group, step, longest, range(i, i + 1), losses, chunk, bar)
    runs = {longest: (group, losses)}
    for n, (fork, fork_chunk, prefix) in forks.items():
        fork.config = replace(c, steps=n)
        runs[n] = (fork, np.concatenate([prefix, np.empty((n - len(prefix), 2))]))
        _run_steps(fork, step, n, range(fork_at[n], n), runs[n][1], fork_chunk, bar)
    bar.close()
    return [runs[n] for n in counts]


def _lr_factor(c: TrainConfig, steps: int, i: int) -> float:
    """Learning rate of step ``i`` of ``steps``, over ``c.lr``: 1, then down to 0 over the last ``decay``."""
    return min(1.0, (steps - i) / max(c.decay * steps, 1))


def _run_steps(group: Group, step, steps: int, indices: range, losses, chunk, bar):
    """Steps ``indices`` of a run of ``steps`` steps; ``chunk`` is the (noise, data) chunk drawn last, returned."""
    c = group.config
    for i in indices:
        for param_group in group.optimizer.param_groups:
            param_group["lr"] = param_group["scale"] * c.lr * _lr_factor(c, steps, i)
        if i % c.chunk == 0:
            chunk = _draw_chunk(group)
        zs, reals = chunk
        losses[i] = step(group, zs[i % c.chunk], reals[i % c.chunk], penalise=i % c.r1_every == 0)
        bar.update()
    return chunk


@torch.no_grad()
def sample_group(group: Group, n: int, seed: int) -> np.ndarray:
    """``n`` samples of every member's generator in data units, shape (S, n, 2).

    Every member gets the same latent draws (from ``seed``), so a member's samples do not depend on the
    group it was trained in; batch normalisation uses the statistics of the n samples.
    """
    n = check_int(n, "n", low=2)
    g = torch.Generator().manual_seed(check_int(seed, "seed", low=0))
    z = torch.randn(n, group.config.latent_dim, generator=g).expand(len(group.streams), n, -1)
    return (generate(group.g_params, z, group.config.g_depth) * group.scales).numpy()


def main(argv=None) -> None:
    """Command line: train every method on both data sets and print Table 1 (progress bars on stderr)."""
    parser = argparse.ArgumentParser(prog="python -m sims.pacgan", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="runs per method and data set (default 5)")
    parser.add_argument("--steps", type=int, default=TrainConfig.steps, help="training steps per run")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes, one thread each")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS), metavar="M")
    parser.add_argument("--datasets", nargs="+", default=["ring", "grid"], choices=["ring", "grid"])
    parser.add_argument("--out", help="write per-run metrics, samples and the configs to this .npz file")
    args = parser.parse_args(argv)
    if args.seeds < 2 or args.steps < 1 or args.workers < 1:
        parser.error(f"need --seeds >= 2, --steps >= 1, --workers >= 1; got {args.seeds}, {args.steps}, {args.workers}")
    from sims.pacgan_experiment import run_experiment, summary_rows

    methods = {name: replace(METHODS[name], steps=args.steps) for name in args.methods}
    exp = run_experiment(methods, args.datasets, range(args.seeds), workers=args.workers, progress=True)
    header = ["method", "modes (paper)", "HQ % (paper)", "reverse KL (paper)", "EMD"]
    for dataset in args.datasets:
        print(f"\n{dataset} (mean ± s.e. over {args.seeds} seeds)")
        print(" | ".join(header))
        for row in summary_rows(exp.records, methods, dataset):
            print(" | ".join(row))
    print(f"\nwall {exp.wall_s:.1f} s, CPU {exp.cpu_s:.1f} s")
    if args.out:
        np.savez_compressed(args.out, records=np.array([list(r.values()) for r in exp.records], dtype=object),
                            columns=list(exp.records[0]), configs=repr({n: asdict(c) for n, c in methods.items()}),
                            **{f"{n}|{d}": x for (n, d), x in exp.samples.items()})
        print("wrote", args.out)


if __name__ == "__main__":
    main()
