"""Adversarial objectives, chosen with the theory chapters in mind.

- ``ns_r1``: the non-saturating loss (Goodfellow et al.), whose generator gradient does not vanish when D
  wins, plus the R1 penalty gamma/2 E_real ||grad_x D(x)||^2 (Mescheder et al. 2018), which makes the
  equilibrium locally convergent. Applied lazily every ``r1_every`` D steps and scaled by it (StyleGAN2).
- ``wgan_gp``: the Wasserstein critic loss with the two-sided gradient penalty lambda E (||grad D|| - 1)^2 on
  random interpolates (Gulrajani et al. 2017).
- ``pack > 1`` (PacGAN, Lin et al.): D sees ``pack`` clips stacked as channels, which makes a collapsed
  generator easy to detect.

Optional generator terms against collapse (off by default; ``generator_regularisers``):

- ``mode_seeking`` (MSGAN, Mao et al. 2019): lambda / (mean |G(z1) - G(z2)| / mean |z1 - z2| + eps) over
  the two halves of the batch. It grows without bound as two latent draws give the same clip, so the
  generator is pushed to turn different noise into different clips. ``mode_seeking_pool`` measures the
  clip distance after average pooling (our variant; 1 is MSGAN's pixel distance).
- ``feature_matching`` (Salimans et al. 2016, used by C-RNN-GAN): lambda * mean_j (E f_j(x) - E f_j(G(z)))^2
  over the features f of D's last hidden layer, which asks the batch of clips to match the real batch's
  average features rather than to fool D one clip at a time.

Both losses run D once on real and fake (and interpolated) clips concatenated: one forward pass per step
is cheaper, and it is what DistributedDataParallel expects.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from musicgan.models import pack_clips

__all__ = ["discriminator_loss", "generator_loss", "r1_penalty_value", "gradient_penalty_value",
           "mode_seeking_value", "feature_matching_value", "generator_regularisers"]


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


def mode_seeking_value(fake: torch.Tensor, z: torch.Tensor, pool: int = 1,
                       eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """MSGAN's term 1 / (ratio + eps) and the ratio mean |G(z1) - G(z2)| / mean |z1 - z2| itself.

    ``fake`` (batch, 1, n_mels, n_frames) = G(z) for ``z`` (batch, ...); the pairs are the first and second
    halves of the batch. With ``pool > 1`` the clips are first averaged over ``pool x pool`` cells, so that
    differences in fine detail (frame-to-frame flicker) do not count as diversity.
    """
    half = fake.shape[0] // 2
    if half == 0:
        raise ValueError(f"mode seeking needs a batch of at least 2 clips, got {fake.shape[0]}")
    if pool > 1:
        fake = F.avg_pool2d(fake, pool)
    ratio = ((fake[:half] - fake[half:2 * half]).abs().mean()
             / (z[:half] - z[half:2 * half]).abs().mean())
    return 1.0 / (ratio + eps), ratio


def feature_matching_value(features_real: torch.Tensor, features_fake: torch.Tensor) -> torch.Tensor:
    """Mean over features of the squared difference of the batch means: (batch, d), (batch, d) -> scalar."""
    return (features_real.detach().mean(dim=0) - features_fake.mean(dim=0)).pow(2).mean()


def generator_regularisers(net_D, fake, z, real, loss_cfg) -> tuple[torch.Tensor, dict]:
    """The weighted sum of the optional generator terms and their values for logging.

    ``real`` is only read by feature matching and may be None when it is off.
    """
    total, stats = fake.new_zeros(()), {}
    if loss_cfg.mode_seeking > 0:
        term, ratio = mode_seeking_value(fake, z, loss_cfg.mode_seeking_pool)
        total = total + loss_cfg.mode_seeking * term
        stats["G/mode_seeking_ratio"] = ratio.detach()
    if loss_cfg.feature_matching > 0:
        with torch.no_grad():
            features_real = net_D.feature_vector(pack_clips(real, loss_cfg.pack))
        fm = feature_matching_value(features_real, net_D.feature_vector(pack_clips(fake, loss_cfg.pack)))
        total = total + loss_cfg.feature_matching * fm
        stats["G/feature_matching"] = fm.detach()
    return total, stats
