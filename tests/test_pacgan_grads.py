"""Hand-written gradients of the PacGAN trainer against autograd, and shared prefixes of runs of several lengths."""
from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch

from sims import pacgan, pacgan_grads
from sims.pacgan import TrainConfig, init_group, train_branches, train_group

TINY = TrainConfig(steps=6, batch=48, g_width=16, g_depth=2, d_width=8, fourier_features=4, chunk=4,
                   r1_gamma=0.5)
CONFIGS = [TINY, replace(TINY, pack=3), replace(TINY, d_depth=2, pack=2),
           replace(TINY, minibatch_kernels=3, kernel_dim=2, kernel_group=4),
           replace(TINY, pack=4, minibatch_kernels=2, kernel_group=16)]      # 12 packs: one group of 12


def _params(group):
    return {**group.g_params, **group.d_params}


@pytest.mark.parametrize("config", CONFIGS, ids=["gan", "pack3", "depth2", "minibatch", "small-batch"])
@pytest.mark.parametrize("penalise", [True, False], ids=["r1", "no-r1"])
def test_fast_step_gives_autograd_gradients_and_losses(config, penalise):
    group = init_group(config, ["ring", "grid"], [0, 1])
    train_group(group, step=pacgan.train_step)                # away from the initial weights
    twin = copy.deepcopy(group)
    z, real = (x[1] for x in pacgan._draw_chunk(group))
    reference = pacgan.train_step(group, z, real, penalise=penalise)
    fast = pacgan_grads.fast_train_step(twin, z, real, penalise=penalise)
    assert fast == pytest.approx(reference, rel=1e-5)
    for name, p in _params(group).items():
        q = _params(twin)[name]
        scale = p.grad.abs().max().clamp_min(1e-30)
        assert ((p.grad - q.grad).abs().max() / scale).item() < 1e-4, name
        assert torch.allclose(p, q, rtol=1e-4, atol=1e-6), name        # the same Adam update


def test_fused_adam_update_is_plain_adams_with_strided_gradients():
    """The reference step under R1 gets transposed-view weight gradients from autograd (the case that torch
    2.13's fused CPU Adam misreads); the optimiser's update must be plain Adam's."""
    group = init_group(TINY, ["ring", "grid"], [0, 1])
    params = list(_params(group).values())
    plain = torch.optim.Adam([p.detach().clone().requires_grad_(True) for p in params], lr=TINY.lr,
                             betas=(TINY.beta1, TINY.beta2), foreach=False)
    z, real = (x[0] for x in pacgan._draw_chunk(group))
    for param_group in group.optimizer.param_groups:
        param_group["lr"] = TINY.lr                                  # the D group's scale aside
    pacgan.train_step(group, z, real, penalise=True)
    for p, q in zip(params, plain.param_groups[0]["params"]):
        q.grad = p.grad.clone()
    plain.step()
    for p, q in zip(params, plain.param_groups[0]["params"]):
        torch.testing.assert_close(p.detach(), q.detach(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("config", [TINY, CONFIGS[-1]], ids=["gan", "minibatch"])
def test_r1_backward_is_the_penalty_gradient(config):
    """The hand-written double backward against autograd on the penalty alone."""
    group = init_group(config, ["grid", "ring"], [3, 4])
    train_group(group)
    _, real = (x[0] for x in pacgan._draw_chunk(group))
    packs = real.reshape(2, -1, 2 * config.pack)
    n_real, coef = packs.shape[1], 0.7
    with torch.no_grad():                                          # real rows first, as in a training step
        both = torch.cat([packs, torch.randn_like(packs)], dim=1)
        logits, cache = pacgan_grads.discriminator_forward(group.d_params, both, group.fourier, config)
        if config.minibatch_kernels:
            penalty, grads = pacgan_grads.r1_backward_minibatch(group.d_params, cache, config, n_real, coef)
        else:
            weight = torch.ones_like(logits)
            _, _, das = pacgan_grads.discriminator_backward(group.d_params, cache, config, weight, weight)
            penalty, grads = pacgan_grads.r1_backward(group.d_params, cache, das, config, n_real, coef)
    x = packs.clone().requires_grad_(True)
    (grad_x,) = torch.autograd.grad(pacgan.discriminate(group.d_params, x, group.fourier, config).sum(), x,
                                    create_graph=True)
    expected = coef * pacgan.r1_penalty(grad_x).sum()
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-5)
    names = list(group.d_params)
    for name, grad in zip(names, torch.autograd.grad(expected, [group.d_params[n] for n in names],
                                                     allow_unused=True, materialize_grads=True)):
        torch.testing.assert_close(grads.get(name, torch.zeros_like(grad)), grad, rtol=1e-4, atol=1e-7)
    # without minibatch features the biases move no input gradient; with them they do (through E)
    assert any(n.endswith(".b") for n in grads) == bool(config.minibatch_kernels)


def test_maxout_falls_back_to_autograd():
    assert not pacgan_grads.supports(replace(TINY, d_pieces=3)) and pacgan_grads.supports(TINY)
    losses = train_group(init_group(replace(TINY, d_pieces=3), ["ring"], [0]))
    assert np.all(np.isfinite(losses))


def test_branches_are_the_separate_runs():
    config = replace(TINY, steps=14)
    runs = train_branches(init_group(config, ["ring", "grid"], [5, 6]), [6, 14, 9])
    for (group, losses), steps in zip(runs, [6, 14, 9]):
        alone = init_group(replace(config, steps=steps), ["ring", "grid"], [5, 6])
        alone_losses = train_group(alone)
        assert group.config.steps == steps and losses.shape == (steps, 2)
        np.testing.assert_array_equal(losses, alone_losses)
        for name, p in _params(alone).items():
            assert torch.equal(_params(group)[name], p), (steps, name)


def test_branches_share_the_prefix_until_the_shorter_schedule_decays():
    # 6 steps with decay 0.3 keep the full rate for steps 0..4; 14 steps for 0..9: step 5 is the first apart
    assert [pacgan._lr_factor(TINY, 6, i) for i in range(6)][:5] == [1.0] * 5
    assert pacgan._lr_factor(TINY, 6, 5) < 1.0 == pacgan._lr_factor(TINY, 14, 5)
    counted = []
    train_branches(init_group(TINY, ["ring"], [0]), [14, 6],
                   step=lambda *args, **kwargs: counted.append(1) or pacgan_grads.fast_train_step(*args, **kwargs))
    assert len(counted) == 14 + (6 - 5)                            # not 14 + 6
