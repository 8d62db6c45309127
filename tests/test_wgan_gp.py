"""The toy WGAN-GP / JS GAN: the gradient penalty by hand, the losses, and a few training steps."""
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from sims import wgan_gp as wg


def _tiny_critic() -> nn.Sequential:
    """f(x) = v . relu(W x + c) + d with hand-set weights."""
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 0.5], [-1.0, 3.0]]))
        net[0].bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
        net[2].weight.copy_(torch.tensor([[2.0, -1.0, 0.5]]))
        net[2].bias.fill_(0.7)
    return net


def test_gradient_penalty_equals_a_hand_computation():
    net = _tiny_critic()
    real = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    fake = torch.tensor([[0.0, 0.0], [2.0, 1.0], [0.5, -0.5]])
    alpha = torch.tensor([[0.25], [0.5], [1.0]])
    W = np.array([[1.0, -2.0], [0.5, 0.5], [-1.0, 3.0]])
    c, v = np.array([0.1, -0.2, 0.3]), np.array([2.0, -1.0, 0.5])
    x_hat = alpha.numpy() * real.numpy() + (1 - alpha.numpy()) * fake.numpy()
    active = (x_hat @ W.T + c) > 0               # (3 points, 3 units): which ReLUs pass
    grads = (active * v) @ W                     # grad f(x) = W^T (v * 1[active]), (3, 2)
    expected = np.mean((np.linalg.norm(grads, axis=1) - 1) ** 2)
    got = wg.gradient_penalty(net, real, fake, alpha).item()
    assert got == pytest.approx(expected, rel=1e-6)
    assert got != pytest.approx(np.mean(np.linalg.norm(grads, axis=1) ** 2 - 1), rel=1e-3)  # not ||g||^2 - 1


def test_gradient_penalty_of_a_linear_critic():
    net = nn.Linear(2, 1)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[3.0, 4.0]]))  # |grad| = 5 everywhere
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    assert wg.gradient_penalty(net, real, fake, torch.rand(8, 1)).item() == pytest.approx(16.0)


def test_losses_of_a_constant_discriminator():
    zero = nn.Linear(2, 1)
    nn.init.zeros_(zero.weight)
    nn.init.zeros_(zero.bias)
    real, fake = torch.randn(4, 2), torch.randn(4, 2)
    js = replace(wg.TINY, loss="js")
    # D = 1/2 everywhere: -log(1/2) - log(1/2) = log 4, i.e. a JS estimate of 0
    assert wg.discriminator_loss(js, zero, real, fake).item() == pytest.approx(math.log(4))
    assert wg.generator_loss(js, zero, fake).item() == pytest.approx(math.log(2))
    wgan = replace(wg.TINY, gp_weight=2.0)  # f = 0: no critic value, and a penalty of 2 * (0 - 1)^2
    loss = wg.discriminator_loss(wgan, zero, real, fake, torch.rand(4, 1)).item()
    assert loss == pytest.approx(2.0)


def test_eight_gaussians_has_the_gan_toy_geometry():
    points = wg.eight_gaussians(4000, 0)
    assert points.shape == (4000, 2) and points.dtype == np.float32
    radius = np.linalg.norm(points, axis=1)
    assert np.all(np.abs(radius - 2 / 1.414) < 6 * 0.02 / 1.414 * np.sqrt(2))
    angles = np.round(np.arctan2(points[:, 1], points[:, 0]) / (np.pi / 4)) % 8
    assert len(np.unique(angles)) == 8


@pytest.mark.parametrize("loss", ["wgan-gp", "js"])
def test_a_few_training_steps_record_a_history(loss):
    out = wg.train_toy_gan(replace(wg.TINY, loss=loss))
    assert list(out["iteration"]) == [0, 1, 2, 3]
    for key in ("estimate", "exact_w1", "slope"):
        assert out[key].shape == (4,) and np.all(np.isfinite(out[key]))
    assert np.all(out["exact_w1"] > 0)
    assert out["samples"].shape == (wg.TINY.n_eval, 2)


def test_training_is_reproducible_and_leaves_torch_state_alone():
    threads = torch.get_num_threads()
    state = torch.random.get_rng_state()
    first = wg.train_toy_gan(wg.TINY)
    second = wg.train_toy_gan(wg.TINY)
    np.testing.assert_array_equal(first["estimate"], second["estimate"])
    np.testing.assert_array_equal(first["exact_w1"], second["exact_w1"])
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.random.get_rng_state(), state)


def test_summarize_run_on_a_synthetic_history():
    run = {"iteration": np.arange(5) * 10, "estimate": np.array([0.1, 0.5, 0.8, 0.6, 0.4]),
           "exact_w1": np.array([1.0, 0.9, 0.8, 0.6, 0.5]), "slope": np.array([1, 2, 3, 4, 5.0]),
           "config": {"loss": "wgan-gp"}}
    out = wg.summarize_run(run)
    late = slice(2, 5)  # iterations 20, 30, 40 >= 40 / 2
    assert out["ratio"] == pytest.approx(np.median(run["estimate"][late] / run["exact_w1"][late]))
    assert out["relerr"] == pytest.approx(np.median([0.0, 0.0, 0.2]))
    assert out["slope"] == 4.0 and out["final"] == 0.5
    assert out["corr"] == pytest.approx(np.corrcoef(run["estimate"], run["exact_w1"])[0, 1])
    run["config"] = {"loss": "js"}  # a JS value over a distance means nothing
    assert np.isnan(wg.summarize_run(run)["ratio"])


@pytest.mark.parametrize("kwargs, message", [
    ({"loss": "wgan"}, "loss must be one of"),
    ({"hidden": 0}, r"hidden must lie in \[1, inf\], got 0"),
    ({"gp_weight": -1.0}, "gp_weight must be >= 0"),
    ({"lr": 0.0}, "lr must be > 0"),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        replace(wg.TINY, **kwargs)


def test_train_many_matches_single_runs_and_drops_the_nets():
    configs = [replace(wg.TINY, seed=s) for s in (0, 1)]
    parallel = wg.train_many(configs, workers=2)
    for cfg, run in zip(configs, parallel):
        single = wg.train_toy_gan(cfg)
        assert "net_G" not in run and "net_D" not in run
        np.testing.assert_allclose(run["exact_w1"], single["exact_w1"])
        np.testing.assert_allclose(run["estimate"], single["estimate"])
