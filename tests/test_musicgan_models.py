"""Generators, discriminators and losses: shapes, packing, and penalties checked against closed forms."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from musicgan.config import LossConfig, ModelConfig
from musicgan.dataset import Normalizer
from musicgan.mel import MelConfig
from musicgan.losses import discriminator_loss, generator_loss, gradient_penalty_value, r1_penalty_value
from musicgan.models import (ConvDiscriminator, ConvGenerator, RecurrentGenerator, build_discriminator,
                             build_generator, count_parameters, pack_clips)

SHAPES = [(16, 16), (64, 64), (32, 64)]


@pytest.mark.parametrize("family", ["conv-vector", "conv", "lstm", "gru"])
@pytest.mark.parametrize("output", ["mel", "notes"])
@pytest.mark.parametrize("shape", SHAPES)
def test_generators_emit_clips_in_range(family, output, shape):
    if family == "conv-vector" and output == "notes":
        pytest.skip("the fixed-size conv generator has no note output")
    generator, _, latent = family.partition("-")
    cfg = ModelConfig(generator=generator, output=output, conv_latent=latent or "sequence", latent_dim=8,
                      g_channels=4, rnn_hidden=8)
    net_G = build_generator(cfg, *shape)
    if output == "notes":
        net_G.synth.set_rendering(MelConfig(n_mels=shape[0]), Normalizer(np.zeros(shape[0]), np.ones(shape[0])))
    z = torch.randn(3, *net_G.latent_shape, generator=torch.Generator().manual_seed(0))
    x = net_G(z)
    assert x.shape == (3, 1, *shape)
    assert x.abs().max() <= 1


@pytest.mark.parametrize("family", ["conv", "lstm"])
@pytest.mark.parametrize("pack", [1, 2])
def test_discriminators_give_one_logit_per_pack(family, pack):
    net_D = build_discriminator(ModelConfig(discriminator=family, d_channels=4, rnn_hidden=8), 16, 32, pack)
    assert net_D(pack_clips(torch.zeros(4, 1, 16, 32), pack)).shape == (4 // pack,)


def test_recurrent_generator_is_causal_in_its_noise():
    # frame t may depend only on the noise of frames <= t: the sequence view of C-RNN-GAN
    net_G = RecurrentGenerator(4, 16, 16, hidden=8, layers=1)
    z = torch.randn(2, 16, 4)
    z2 = z.clone()
    z2[:, 10:] += 1.0
    a, b = net_G(z), net_G(z2)
    assert torch.equal(a[..., :10], b[..., :10])
    assert not torch.allclose(a[..., 10:], b[..., 10:])


def test_family_sizes_are_comparable():
    """At the cpu preset's widths on 256 x 64 clips: conv 122k parameters, lstm 255k (its two layers of 128
    units carry the state); within a factor of 2.5 of each other."""
    conv, lstm = (count_parameters(build_generator(ModelConfig(generator=g), 256, 64)) for g in ("conv", "lstm"))
    assert 1 / 2.5 < conv / lstm < 2.5


def test_bad_clip_shapes_are_refused():
    with pytest.raises(ValueError, match="n_frames must be a multiple of"):
        ConvGenerator(8, 64, 60)
    with pytest.raises(ValueError, match="not a multiple of pack=3"):
        pack_clips(torch.zeros(4, 1, 8, 8), 3)


class Linear(torch.nn.Module):
    """D(x) = <w, x> + b: its input gradient is w everywhere, so the penalties have closed forms."""

    def __init__(self, n):
        super().__init__()
        self.w = torch.nn.Parameter(torch.linspace(-1, 1, n))
        self.b = torch.nn.Parameter(torch.tensor(0.3))

    def forward(self, x):
        return x.flatten(1) @ self.w + self.b


def test_penalties_match_closed_forms_for_a_linear_critic():
    net_D, gen = Linear(2 * 8 * 8), torch.Generator().manual_seed(0)
    real, fake = torch.randn(6, 1, 8, 8, generator=gen), torch.randn(6, 1, 8, 8, generator=gen)
    w2 = net_D.w.detach().pow(2).sum()
    cfg = LossConfig(kind="ns_r1", r1_gamma=2.0, r1_every=1, pack=2)
    loss, stats = discriminator_loss(net_D, real, fake, cfg, d_step=0, rng=gen)
    assert torch.allclose(stats["penalty/r1"], w2)                     # ||grad D||^2 = ||w||^2 per pack
    logit_real, logit_fake = net_D(pack_clips(real, 2)), net_D(pack_clips(fake, 2))
    expected = F.softplus(-logit_real).mean() + F.softplus(logit_fake).mean() + 0.5 * 2.0 * w2
    assert torch.allclose(loss, expected)
    cfg = LossConfig(kind="wgan_gp", gp_lambda=10.0, pack=2)
    loss, stats = discriminator_loss(net_D, real, fake, cfg, d_step=0, rng=gen)
    assert torch.allclose(stats["penalty/gp"], (w2.sqrt() - 1) ** 2)
    assert torch.allclose(loss, logit_fake.mean() - logit_real.mean() + 10.0 * (w2.sqrt() - 1) ** 2)


def test_lazy_r1_is_applied_every_k_steps_and_scaled():
    net_D, gen = Linear(64), torch.Generator().manual_seed(1)
    real, fake = torch.randn(4, 1, 8, 8, generator=gen), torch.randn(4, 1, 8, 8, generator=gen)
    cfg = LossConfig(r1_gamma=1.0, r1_every=4, pack=1)
    with_r1, s0 = discriminator_loss(net_D, real, fake, cfg, d_step=8, rng=gen)
    without, s1 = discriminator_loss(net_D, real, fake, cfg, d_step=9, rng=gen)
    assert "penalty/r1" in s0 and "penalty/r1" not in s1
    assert torch.allclose(with_r1 - without, 0.5 * 1.0 * 4 * net_D.w.detach().pow(2).sum())


def test_penalty_helpers_and_generator_losses():
    grad = torch.tensor([[3.0, 4.0], [0.0, 1.0]])
    assert r1_penalty_value(grad, 2) == pytest.approx((25 + 1) / 2)
    assert gradient_penalty_value(grad) == pytest.approx((16 + 0) / 2)
    net_D, fake = Linear(64), torch.zeros(2, 1, 8, 8)
    ns, _ = generator_loss(net_D, fake, LossConfig(kind="ns_r1", pack=1))
    w, _ = generator_loss(net_D, fake, LossConfig(kind="wgan_gp", pack=1))
    assert ns.item() == pytest.approx(F.softplus(torch.tensor(-0.3)).item())   # -log sigmoid(b)
    assert w.item() == pytest.approx(-0.3)


def test_conv_discriminator_has_no_normalisation_layers():
    # R1 and the gradient penalty assume D scores each clip on its own, which batch norm would break
    net_D = ConvDiscriminator(64, 64, 8)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in net_D.modules())


def test_minibatch_std_sees_collapse_within_contiguous_groups():
    from musicgan.models import MinibatchStd

    x = torch.randn(8, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    x[4:] = x[4]                                          # the second group (a "fake" half) has collapsed
    spread = MinibatchStd(group=4)(x)[:, -1, 0, 0]
    assert torch.all(spread[4:] == 0) and torch.all(spread[:4] > 0.5)
    assert torch.allclose(spread[:4], x[:4].std(dim=0, unbiased=False).mean().expand(4))
    net_D = ConvDiscriminator(16, 16, 4, pack=2, minibatch_std=True)
    assert net_D(torch.zeros(6, 2, 16, 16)).shape == (6,)   # 6 is not a multiple of 4: groups of 3
