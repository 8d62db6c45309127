"""The batched PacGAN trainer: shapes, packing, minibatch features, and batched == per-seed training."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from sims import pacgan
from sims.pacgan import METHODS, TrainConfig, init_group, sample_group, train_group

TINY = TrainConfig(steps=6, batch=16, g_width=16, g_depth=2, d_width=8, fourier_features=4, chunk=4)


def _flat(group, member):
    return torch.cat([p[member].flatten() for p in [*group.g_params.values(), *group.d_params.values()]])


@pytest.mark.parametrize("config", [TINY, replace(TINY, pack=3), replace(TINY, minibatch_kernels=5),
                                    replace(TINY, d_pieces=3)])
def test_a_few_steps_run_and_sample(config):
    group = init_group(config, ["ring", "grid"], [0, 1])
    losses = train_group(group)
    assert losses.shape == (config.steps, 2) and np.all(np.isfinite(losses))
    samples = sample_group(group, 50, seed=3)
    assert samples.shape == (2, 50, 2) and np.all(np.isfinite(samples))


@pytest.mark.parametrize("config", [replace(TINY, pack=2), replace(TINY, minibatch_kernels=3)])
def test_batched_training_equals_per_seed_training(config):
    datasets, seeds = ["ring", "grid", "grid"], [4, 5, 6]
    together = init_group(config, datasets, seeds)
    train_group(together)
    for member, (name, seed) in enumerate(zip(datasets, seeds)):
        alone = init_group(config, [name], [seed])
        train_group(alone)
        assert torch.allclose(_flat(together, member), _flat(alone, 0), rtol=1e-4, atol=1e-5)
    alone_samples = sample_group(alone, 40, seed=9)[0]
    assert np.allclose(sample_group(together, 40, seed=9)[-1], alone_samples, atol=1e-4)


def test_members_do_not_share_anything():
    group = init_group(TINY, ["grid", "grid"], [7, 8])
    assert not torch.equal(_flat(group, 0), _flat(group, 1))
    same = init_group(TINY, ["grid", "grid"], [7, 7])
    train_group(same)
    assert torch.equal(_flat(same, 0), _flat(same, 1))             # same seed, same data: same run


def test_packing_puts_consecutive_samples_side_by_side():
    config = replace(TINY, pack=3)
    group = init_group(config, ["ring"], [0])
    x = torch.arange(2 * 3 * 4, dtype=torch.float32).view(1, 12, 2)    # 12 samples -> 4 packs of 3
    packed = x.reshape(1, 4, 6)
    embedded = pacgan.fourier_embed(packed, group.fourier)
    per_sample = 2 + 2 * config.fourier_features
    assert embedded.shape == (1, 4, 3 * per_sample)
    # the first coordinates of the second sample in the first pack are sample 1 of the flat batch
    assert torch.equal(embedded[0, 0, per_sample:per_sample + 2], x[0, 1])


def test_minibatch_similarity_counts_near_duplicates():
    kernels = torch.eye(2).view(1, 2, 2)                             # B = 1 kernel of C = 2 rows, M = h
    h = torch.tensor([[[0.0, 0.0], [0.0, 0.0], [5.0, 5.0]]])          # two identical samples, one far away
    o = pacgan._minibatch_similarity(h, kernels, n_kernels=1)[0, :, 0]
    expected = torch.tensor([1.0 + np.exp(-10), 1.0 + np.exp(-10), 2 * np.exp(-10)], dtype=torch.float32)
    assert torch.allclose(o, expected, atol=1e-6)            # float32: subtracting the self term costs 1e-7


def test_methods_are_the_five_of_the_chapter():
    assert list(METHODS) == ["GAN", "PacGAN2", "PacGAN3", "PacGAN4", "minibatch disc."]
    assert [c.pack for c in METHODS.values()] == [1, 2, 3, 4, 1]
    assert METHODS["minibatch disc."].minibatch_kernels > 0


def test_validation_messages():
    with pytest.raises(ValueError, match="equally long"):
        init_group(TINY, ["ring"], [0, 1])
    with pytest.raises(ValueError, match="name must be one of"):
        init_group(TINY, ["spiral"], [0])
    with pytest.raises(ValueError, match="must be a multiple of kernel_group"):
        init_group(replace(TINY, batch=20, minibatch_kernels=2, kernel_group=8), ["ring"], [0])
    with pytest.raises(ValueError, match=r"batch must lie in \[4, inf\]"):
        init_group(replace(TINY, batch=3, pack=4), ["ring"], [0])
    with pytest.raises(ValueError, match=r"n must lie in \[2, inf\]"):
        sample_group(init_group(TINY, ["ring"], [0]), 1, seed=0)


def test_r1_penalty_is_the_input_gradient_of_each_members_own_packs():
    config = replace(TINY, pack=2, r1_gamma=0.5, r1_every=3)
    group = init_group(config, ["ring", "grid"], [0, 1])
    z, real = (x[0] for x in pacgan._draw_chunk(group))
    packs = real.reshape(2, -1, 2 * config.pack).requires_grad_(True)
    logits = pacgan.discriminate(group.d_params, packs, group.fourier, config)
    (grad_x,) = torch.autograd.grad(logits.sum(), packs)
    # independent route: the Jacobian of one member's logit for one pack, all inputs of both members
    for member, pack in [(0, 0), (1, 3)]:
        def one_logit(x, member=member, pack=pack):
            return pacgan.discriminate(group.d_params, x, group.fourier, config)[member, pack]
        jac = torch.autograd.functional.jacobian(one_logit, packs.detach())
        expected = torch.zeros_like(jac)
        expected[member, pack] = grad_x[member, pack]
        assert torch.allclose(jac, expected, atol=1e-6)
    # the loss carries (gamma / 2) x the mean squared input-gradient norm, per member
    plain = init_group(replace(config, r1_gamma=0.0), ["ring", "grid"], [0, 1])
    penalised_loss, _ = pacgan.train_step(group, z, real)
    plain_loss, _ = pacgan.train_step(plain, z, real)
    penalty = pacgan.r1_penalty(grad_x).mean().item()
    assert penalised_loss - plain_loss == pytest.approx(0.5 * config.r1_gamma * 3 * penalty, rel=1e-4)
    # on the steps between, no penalty: the same loss as without R1
    lazy = init_group(config, ["ring", "grid"], [0, 1])
    fresh = init_group(replace(config, r1_gamma=0.0), ["ring", "grid"], [0, 1])
    assert pacgan.train_step(lazy, z, real, penalise=False)[0] == pytest.approx(
        pacgan.train_step(fresh, z, real)[0], rel=1e-6)


def test_r1_settings_are_validated():
    with pytest.raises(ValueError, match="r1_gamma"):
        init_group(replace(TINY, r1_gamma=-1.0), ["ring"], [0])
    with pytest.raises(ValueError, match="r1_every"):
        init_group(replace(TINY, r1_every=0), ["ring"], [0])
