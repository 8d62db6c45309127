"""Simulations 1 and 3 of the chapter on diminished gradients (book/vanishing_gradients.md).

Data live on a one-dimensional curve in the plane (a sine "wave"), the generator maps a one-dimensional latent
to the plane, so both distributions sit on 1-D manifolds of R^2 and a perfect discriminator exists
(Arjovsky & Bottou 2017, Theorems 2.1-2.2).

Replicates are trained *together*: ``BatchedMLP`` holds ``n_models`` independent networks and evaluates them
with one batched matrix product, so five seeds cost little more than one. Each model's loss is a mean over its
own batch and the total is a sum over models, so gradients (and Adam's element-wise updates) never mix models.

- Simulation 1 (``discriminator_sweep``): freeze a generator, train a fresh discriminator, and record the norm
  of the generator's gradient under the saturating loss log(1 - D) and the non-saturating loss -log D, together
  with the Theorem 2.4 bound M eps/(1 - eps) evaluated on the same batch.
- Simulation 3 (``train_gan``): train GANs with and without annealed instance noise and track the earth-mover
  distance between generated samples and data (POT's exact solver).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import ot
import torch
import torch.nn.functional as F

from sims.checks import check_choice, check_int, check_positive

__all__ = [
    "BatchedMLP",
    "Arm",
    "WAVE_AMPLITUDE",
    "WAVE_OFFSET",
    "sample_wave",
    "sample_latent",
    "generator_loss",
    "generator_gradient_norms",
    "vanishing_bound",
    "discriminator_sweep",
    "emd_to_data",
    "GanConfig",
    "train_gan",
    "stack_generators",
]

WAVE_AMPLITUDE = 0.5   # the data curve is (u, WAVE_OFFSET + 0.5 sin(pi u)), u ~ U[-1, 1]
WAVE_OFFSET = 2.0      # the curve sits 2 units above the origin, where an untrained generator puts its samples
LATENT_DIM = 1         # a 1-D latent: the generator's samples lie on a curve, like the data
LEAKY_SLOPE = 0.2
LOSSES = ("saturating", "non_saturating")


class BatchedMLP(torch.nn.Module):
    """``n_models`` independent MLPs run as one: input (n_models, batch, sizes[0]) -> (n_models, batch, sizes[-1]).

    Weights are (n_models, d_in, d_out) and drawn like ``torch.nn.Linear``'s default, U(-1/sqrt(d_in), ...),
    from the explicit ``generator``; hidden layers use LeakyReLU(0.2).
    """

    def __init__(self, n_models: int, sizes: tuple[int, ...], generator: torch.Generator):
        super().__init__()
        check_int(n_models, "n_models", low=1)
        self.weights, self.biases = torch.nn.ParameterList(), torch.nn.ParameterList()
        for d_in, d_out in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(d_in)
            for shape, store in (((n_models, d_in, d_out), self.weights), ((n_models, 1, d_out), self.biases)):
                store.append(torch.nn.Parameter((2 * torch.rand(*shape, generator=generator) - 1) * bound))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        hidden = inputs
        last = len(self.weights) - 1
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            hidden = torch.baddbmm(bias, hidden, weight)
            if i < last:
                hidden = F.leaky_relu(hidden, LEAKY_SLOPE)
        return hidden


@dataclass(frozen=True)
class Arm:
    """One experimental condition of Simulation 3: the generator loss and the initial instance-noise std."""

    loss: str
    noise_std: float = 0.0


def sample_wave(n_models: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """Data samples (n_models, n, 2) on the curve (u, WAVE_OFFSET + WAVE_AMPLITUDE sin(pi u)), u ~ U[-1, 1]."""
    u = 2 * torch.rand(n_models, n, 1, generator=generator) - 1
    return torch.cat([u, WAVE_OFFSET + WAVE_AMPLITUDE * torch.sin(math.pi * u)], dim=-1)


def sample_latent(n_models: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """Latent codes (n_models, n, LATENT_DIM), uniform on [-1, 1]."""
    return 2 * torch.rand(n_models, n, LATENT_DIM, generator=generator) - 1


def generator_loss(logits: torch.Tensor, saturating: torch.Tensor) -> torch.Tensor:
    """Per-model generator loss (n_models,) from discriminator logits (n_models, batch, 1).

    ``saturating`` (bool, (n_models,)) picks log(1 - D) = -softplus(l); otherwise -log D = softplus(-l).
    Both are written with softplus so that D = sigmoid(l) never under- or overflows.
    """
    per_sample = torch.where(saturating[:, None, None], -F.softplus(logits), F.softplus(-logits))
    return per_sample.mean(dim=(1, 2))


def _per_model_norm(grads) -> torch.Tensor:
    return torch.sqrt(sum(g.pow(2).flatten(1).sum(1) for g in grads))


def generator_gradient_norms(net_G: BatchedMLP, net_D: BatchedMLP, z: torch.Tensor) -> dict[str, np.ndarray]:
    """Norm of d(loss)/d(generator parameters) for each loss and model: {loss: (n_models,)}."""
    logits = net_D(net_G(z))
    norms = {}
    for name in LOSSES:
        flags = torch.full((z.shape[0],), name == "saturating")
        loss = generator_loss(logits, flags).sum()
        grads = torch.autograd.grad(loss, list(net_G.parameters()), retain_graph=True)
        norms[name] = _per_model_norm(grads).detach().numpy()
    return norms


def _jacobian_sq_spectral_norms(net_G: BatchedMLP, z: torch.Tensor) -> torch.Tensor:
    """||J_theta g_theta(z_i)||_2^2 for every model and sample: (n_models, batch). One backward per output."""
    fake = net_G(z)
    params = list(net_G.parameters())
    n_models, batch, n_out = fake.shape
    norms = torch.empty(n_models, batch)
    for i in range(batch):
        rows = [torch.cat([g.flatten(1) for g in torch.autograd.grad(fake[:, i, k].sum(), params,
                                                                        retain_graph=True)], dim=1)
                for k in range(n_out)]
        jac = torch.stack(rows, dim=1)                              # (n_models, n_out, n_params)
        norms[:, i] = torch.linalg.eigvalsh(jac @ jac.transpose(1, 2))[:, -1]
    return norms


def vanishing_bound(net_G: BatchedMLP, net_D: BatchedMLP, z: torch.Tensor,
                    jac_sq: torch.Tensor) -> np.ndarray:
    """Theorem 2.4's bound M eps/(1 - eps) on the batch ``z``, per model: (n_models,).

    On the batch, eps = max_i max(D(x_i), ||grad_x D(x_i)||) with x_i = G(z_i) (D* = 0 and grad D* = 0 on the
    generator's support) and M^2 = mean_i ||J_theta G(z_i)||_2^2; the proof's Jensen and chain-rule steps then
    bound the norm of the batch-mean gradient of log(1 - D(G(z))) exactly.
    """
    fake = net_G(z).detach().requires_grad_(True)
    prob = torch.sigmoid(net_D(fake))
    (grad_x,) = torch.autograd.grad(prob.sum(), fake)  # each D(x_i) depends on x_i only
    eps = torch.maximum(prob.squeeze(-1), grad_x.norm(dim=-1)).amax(dim=1)
    big_m = jac_sq.mean(dim=1).sqrt()
    bound = torch.where(eps < 1, big_m * eps / (1 - eps), torch.inf)  # vacuous until eps < 1
    return bound.detach().numpy()


def discriminator_sweep(net_G: BatchedMLP, *, n_steps: int = 2000, eval_every: int = 50, batch_size: int = 128,
                        n_eval: int = 64, lr: float = 1e-3, hidden: int = 32, seed: int = 0) -> dict:
    """Simulation 1: with ``net_G`` frozen, train a fresh discriminator per model and watch the generator gradient.

    Returns ``steps`` (n_evals,) and (n_evals, n_models) arrays: ``saturating`` and ``non_saturating`` gradient
    norms, ``bound`` (Theorem 2.4 on the evaluation batch), ``d_fake`` (mean D on generated samples).
    """
    check_int(n_steps, "n_steps", low=1)
    check_int(eval_every, "eval_every", low=1)
    check_positive(lr, "lr")
    gen = torch.Generator().manual_seed(seed)
    n_models = net_G.weights[0].shape[0]
    net_D = BatchedMLP(n_models, (2, hidden, hidden, 1), gen)
    opt = torch.optim.Adam(net_D.parameters(), lr=lr, betas=(0.5, 0.999))
    z_eval = sample_latent(n_models, n_eval, gen)          # one fixed batch: curves differ only through D
    jac_sq = _jacobian_sq_spectral_norms(net_G, z_eval)
    out = {key: [] for key in ("steps", *LOSSES, "bound", "d_fake")}
    for step in range(n_steps + 1):
        if step % eval_every == 0:
            _record_sweep(out, step, net_G, net_D, z_eval, jac_sq)
        with torch.no_grad():
            fake = net_G(sample_latent(n_models, batch_size, gen))
        real = sample_wave(n_models, batch_size, gen)
        loss = (F.softplus(-net_D(real)) + F.softplus(net_D(fake))).mean(dim=(1, 2)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {key: np.asarray(val) for key, val in out.items()}


def _record_sweep(out: dict, step: int, net_G, net_D, z_eval, jac_sq) -> None:
    norms = generator_gradient_norms(net_G, net_D, z_eval)
    out["steps"].append(step)
    for name in LOSSES:
        out[name].append(norms[name])
    out["bound"].append(vanishing_bound(net_G, net_D, z_eval, jac_sq))
    with torch.no_grad():
        out["d_fake"].append(torch.sigmoid(net_D(net_G(z_eval))).mean(dim=(1, 2)).numpy())


def emd_to_data(samples: np.ndarray, data: np.ndarray) -> float:
    """Exact earth-mover distance W_1 between equal-weight point clouds (n, 2) and (m, 2), by ``ot.emd2``.

    A diverged generator (non-finite samples) gets ``inf``, so it cannot pass for a good one.
    """
    if not np.all(np.isfinite(samples)):
        return float("inf")
    cost = ot.dist(samples, data, metric="euclidean")  # W_1 needs the Euclidean, not the default squared, cost
    return float(ot.emd2(np.full(len(samples), 1.0 / len(samples)), np.full(len(data), 1.0 / len(data)), cost))


@dataclass(frozen=True)
class GanConfig:
    """Settings of the GAN runs (Simulations 1 and 3); the defaults are the page's."""

    n_replicates: int = 5
    n_steps: int = 1000        # generator updates
    d_steps: int = 3           # discriminator updates per generator update: a strong D, the theory's regime
    anneal_steps: int = 600    # the instance-noise std falls linearly to 0 at this generator step
    batch_size: int = 64
    hidden: int = 32
    lr_g: float = 1e-3         # Adam(0.5, 0.999) for both players ...
    lr_d: float = 0.02         # ... but the discriminator learns 20x faster: it wins, the regime of the theory
    eval_every: int = 50
    n_eval: int = 256          # samples per EMD evaluation
    seed: int = 0


def _noise_std(arms: list[Arm], n_replicates: int, step: int, anneal_steps: int) -> torch.Tensor:
    """Per-model instance-noise std (n_models, 1, 1), annealed linearly from each arm's value to 0."""
    fraction = max(0.0, 1.0 - step / anneal_steps)
    return torch.tensor([arm.noise_std * fraction for arm in arms for _ in range(n_replicates)]).view(-1, 1, 1)


def _make_nets(n_models: int, config: GanConfig, gen: torch.Generator):
    net_G = BatchedMLP(n_models, (LATENT_DIM, config.hidden, config.hidden, 2), gen)
    net_D = BatchedMLP(n_models, (2, config.hidden, config.hidden, 1), gen)
    opt_G = torch.optim.Adam(net_G.parameters(), lr=config.lr_g, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(net_D.parameters(), lr=config.lr_d, betas=(0.5, 0.999))
    return net_G, net_D, opt_G, opt_D


def train_gan(arms: list[Arm], config: GanConfig = GanConfig(), snapshot_steps: tuple[int, ...] = ()) -> dict:
    """Simulation 3: a GAN for every arm x replicate, all trained together, with instance noise on D's inputs.

    Noise N(0, s^2 I), s annealed linearly to 0 at ``config.anneal_steps``, is added to real *and* generated
    samples, for the discriminator's updates and the generator's (whose gradient then flows through noised
    samples, as in Arjovsky & Bottou's Corollary 3.2). Returns ``steps`` (n_evals,), ``emd`` (n_evals, n_arms,
    n_replicates), final ``samples`` (n_arms, n_replicates, n_eval, 2), ``data_floor`` (EMD between two data
    samples of size n_eval), ``logit_fake`` (n_evals, n_arms, n_replicates: D's mean logit on noise-free
    generated samples; a logit, because D itself underflows once the discriminator wins),
    ``reference`` (n_eval, 2) and ``snapshots`` {step: generator state_dict}.
    """
    for arm in arms:
        check_choice(arm.loss, "arm.loss", LOSSES)
        check_positive(arm.noise_std, "arm.noise_std", allow_zero=True)
    check_int(config.n_steps, "config.n_steps", low=1)
    check_int(config.anneal_steps, "config.anneal_steps", low=1)
    gen = torch.Generator().manual_seed(config.seed)
    gen_eval = torch.Generator().manual_seed(config.seed + 1)  # evaluation draws never shift the training stream
    saturating = torch.tensor([arm.loss == "saturating" for arm in arms for _ in range(config.n_replicates)])
    nets = _make_nets(len(saturating), config, gen)
    reference = sample_wave(1, config.n_eval, gen_eval)[0].numpy()
    shape = (len(arms), config.n_replicates)
    steps, emd, logit_fake, snapshots = [], [], [], {}
    for step in range(config.n_steps + 1):
        if step % config.eval_every == 0 or step == config.n_steps:
            distances, mean_logit = _evaluate(nets[0], nets[1], reference, gen_eval)
            steps.append(step)
            emd.append(distances.reshape(shape))
            logit_fake.append(mean_logit.reshape(shape))
        if step in snapshot_steps:
            snapshots[step] = {k: v.detach().clone() for k, v in nets[0].state_dict().items()}
        if step < config.n_steps:
            std = _noise_std(arms, config.n_replicates, step, config.anneal_steps)
            _gan_step(*nets, saturating, std, config, gen)
    with torch.no_grad():
        final = nets[0](sample_latent(len(saturating), config.n_eval, gen_eval)).numpy()
    return {"steps": np.asarray(steps), "emd": np.asarray(emd), "logit_fake": np.asarray(logit_fake), "reference": reference,
            "samples": final.reshape(len(arms), config.n_replicates, config.n_eval, 2),
            "data_floor": emd_to_data(sample_wave(1, config.n_eval, gen_eval)[0].numpy(), reference),
            "snapshots": snapshots}


def _gan_step(net_G, net_D, opt_G, opt_D, saturating, std, config: GanConfig, gen) -> None:
    """``config.d_steps`` discriminator updates, then one generator update; D always sees noised inputs."""
    n_models, batch = saturating.shape[0], config.batch_size

    def noised(inputs: torch.Tensor) -> torch.Tensor:
        return inputs + std * torch.randn(inputs.shape, generator=gen)

    for _ in range(config.d_steps):
        with torch.no_grad():
            fake = net_G(sample_latent(n_models, batch, gen))
        real = sample_wave(n_models, batch, gen)
        d_loss = (F.softplus(-net_D(noised(real))) + F.softplus(net_D(noised(fake)))).mean(dim=(1, 2))
        opt_D.zero_grad()
        d_loss.sum().backward()
        opt_D.step()
    g_loss = generator_loss(net_D(noised(net_G(sample_latent(n_models, batch, gen)))), saturating)
    opt_G.zero_grad()
    g_loss.sum().backward()
    opt_G.step()


def _evaluate(net_G: BatchedMLP, net_D: BatchedMLP, reference: np.ndarray, gen: torch.Generator):
    """EMD to the reference data and D's mean logit on noise-free generated samples, per model: two (n_models,)."""
    with torch.no_grad():
        fake = net_G(sample_latent(net_G.weights[0].shape[0], len(reference), gen))
        mean_logit = net_D(fake).mean(dim=(1, 2)).numpy()
    return np.array([emd_to_data(s, reference) for s in fake.numpy()]), mean_logit


def stack_generators(states: list[dict], models: list[np.ndarray], config: GanConfig = GanConfig()) -> BatchedMLP:
    """One BatchedMLP holding the generators ``models[k]`` (model indices) of each state_dict ``states[k]``."""
    merged = {key: torch.cat([state[key][idx] for state, idx in zip(states, models)])
              for key in states[0]}
    n_models = next(iter(merged.values())).shape[0]
    net_G = BatchedMLP(n_models, (LATENT_DIM, config.hidden, config.hidden, 2), torch.Generator())
    net_G.load_state_dict(merged)
    return net_G.requires_grad_(True)
