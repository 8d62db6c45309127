"""Adversarial objectives, chosen with the theory chapters in mind.

- ``ns_r1``: the non-saturating loss (Goodfellow et al.), whose generator gradient does not vanish when D
  wins, plus the R1 penalty gamma/2 E_real ||grad_x D(x)||^2 (Mescheder et al. 2018), which makes the
  equilibrium locally convergent. Applied lazily every ``r1_every`` D steps and scaled by it (StyleGAN2).
- ``wgan_gp``: the Wasserstein critic loss with the two-sided gradient penalty lambda E (||grad D|| - 1)^2 on
  random interpolates (Gulrajani et al. 2017).
- ``pack > 1`` (PacGAN, Lin et al.): D sees ``pack`` clips stacked as channels, which makes a collapsed
  generator easy to detect.

Both losses run D once on real and fake (and interpolated) clips concatenated: one forward pass per step
is cheaper, and it is what DistributedDataParallel expects.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from musicgan.models import pack_clips

__all__ = ["discriminator_loss", "generator_loss", "r1_penalty_value", "gradient_penalty_value"]


def _split(logits: torch.Tensor, n: int):
    return logits[:n], logits[n:2 * n], logits[2 * n:]


def r1_penalty_value(grad: torch.Tensor, n_packed: int) -> torch.Tensor:
    """Mean over packed samples of the squared gradient norm: E ||grad_x D(x)||^2."""
    return grad.pow(2).sum() / n_packed


def gradient_penalty_value(grad: torch.Tensor) -> torch.Tensor:
    """E (||grad_x D(x)|| - 1)^2 for ``grad`` of shape (batch, ...)."""
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def _ns_r1(net_D, real, fake, loss_cfg, apply_r1: bool):
    real = real.detach().requires_grad_(apply_r1)
    real_p, fake_p = pack_clips(real, loss_cfg.pack), pack_clips(fake.detach(), loss_cfg.pack)
    logit_real, logit_fake, _ = _split(net_D(torch.cat([real_p, fake_p])), real_p.shape[0])
    loss = F.softplus(-logit_real).mean() + F.softplus(logit_fake).mean()
    stats = {"loss/D": loss.detach(), "D/logit_real": logit_real.detach().mean(),
             "D/logit_fake": logit_fake.detach().mean()}
    if apply_r1:
        (grad,) = torch.autograd.grad(logit_real.sum(), real, create_graph=True)
        r1 = r1_penalty_value(grad, real_p.shape[0])
        loss = loss + 0.5 * loss_cfg.r1_gamma * loss_cfg.r1_every * r1
        stats["penalty/r1"] = r1.detach()
    return loss, stats


def _wgan_gp(net_D, real, fake, loss_cfg, rng):
    real_p, fake_p = pack_clips(real.detach(), loss_cfg.pack), pack_clips(fake.detach(), loss_cfg.pack)
    n = real_p.shape[0]
    eps = torch.rand(n, 1, 1, 1, generator=rng).to(real_p)         # rng lives on the CPU
    mixed = (eps * real_p + (1 - eps) * fake_p).requires_grad_(True)
    logit_real, logit_fake, logit_mixed = _split(net_D(torch.cat([real_p, fake_p, mixed])), n)
    (grad,) = torch.autograd.grad(logit_mixed.sum(), mixed, create_graph=True)
    gp = gradient_penalty_value(grad)
    critic_gap = logit_real.mean() - logit_fake.mean()        # the critic's estimate of W1
    loss = -critic_gap + loss_cfg.gp_lambda * gp
    stats = {"loss/D": loss.detach(), "D/logit_real": logit_real.detach().mean(),
             "D/logit_fake": logit_fake.detach().mean(), "penalty/gp": gp.detach(),
             "wgan/critic_gap": critic_gap.detach()}
    return loss, stats


def discriminator_loss(net_D, real, fake, loss_cfg, *, d_step: int, rng: torch.Generator):
    """Loss to minimise for D and a dict of detached scalars for logging.

    ``real`` and ``fake`` are (batch, 1, n_mels, n_frames); ``d_step`` counts D updates (for lazy R1);
    ``rng`` draws the interpolation weights of WGAN-GP.
    """
    if loss_cfg.kind == "ns_r1":
        apply_r1 = loss_cfg.r1_gamma > 0 and d_step % loss_cfg.r1_every == 0
        return _ns_r1(net_D, real, fake, loss_cfg, apply_r1)
    return _wgan_gp(net_D, real, fake, loss_cfg, rng)


def generator_loss(net_D, fake, loss_cfg):
    """Loss to minimise for G: -log D(G(z)) (non-saturating) or -D(G(z)) (Wasserstein)."""
    logit = net_D(pack_clips(fake, loss_cfg.pack))
    loss = F.softplus(-logit).mean() if loss_cfg.kind == "ns_r1" else -logit.mean()
    return loss, {"loss/G": loss.detach()}
