"""Generator terms against mode collapse (mode seeking, feature matching) and the batch diversity diagnostic."""
import numpy as np
import pytest
import torch

from musicgan import metrics
from musicgan.config import LossConfig, apply_overrides, preset
from musicgan.losses import feature_matching_value, generator_regularisers, mode_seeking_value
from musicgan.models import ConvDiscriminator, RecurrentDiscriminator, pack_clips
from musicgan.runs import checkpoint_paths, load_checkpoint
from musicgan.tblog import read_scalars
from musicgan.train import batch_diversity, train


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_mode_seeking_is_the_inverse_distance_ratio_of_the_two_halves():
    fake, z = _randn(6, 1, 4, 4), _randn(6, 3, seed=1)
    term, ratio = mode_seeking_value(fake, z)
    expected = (fake[:3] - fake[3:]).abs().mean() / (z[:3] - z[3:]).abs().mean()
    assert torch.allclose(ratio, expected) and torch.allclose(term, 1 / (expected + 1e-5))
    collapsed = fake[:3].repeat(2, 1, 1, 1)                    # both halves give the same clips
    assert mode_seeking_value(collapsed, z)[0] > 1e4 > term
    spread, _ = mode_seeking_value(3 * fake, z)                # clips further apart: a smaller penalty
    assert torch.allclose(spread, 1 / (3 * expected + 1e-5))
    with pytest.raises(ValueError, match="at least 2 clips"):
        mode_seeking_value(fake[:1], z[:1])


def test_mode_seeking_gradient_pushes_the_halves_apart():
    fake = _randn(4, 1, 2, 2).requires_grad_(True)
    term, _ = mode_seeking_value(fake, _randn(4, 5, seed=2))
    term.backward()
    step = fake.detach() - 0.01 * fake.grad                    # one gradient step on the penalty
    before = (fake[:2] - fake[2:]).abs().mean()
    assert (step[:2] - step[2:]).abs().mean() > before


def test_feature_matching_compares_batch_means_and_leaves_the_real_side_alone():
    real, fake = _randn(5, 7), _randn(3, 7, seed=1).requires_grad_(True)
    value = feature_matching_value(real, fake)
    assert torch.allclose(value, (real.mean(0) - fake.mean(0)).pow(2).mean())
    shuffled = fake.detach()[[2, 0, 1]] + 0.0                  # the same batch mean: no penalty
    assert feature_matching_value(fake.detach(), shuffled).item() == pytest.approx(0, abs=1e-12)
    value.backward()
    assert torch.allclose(fake.grad, -2 * (real.mean(0) - fake.detach().mean(0)).expand(3, 7) / (3 * 7))


@pytest.mark.parametrize("net_D, width", [(ConvDiscriminator(16, 16, 4, pack=2), 8 * 4 * 4),
                                          (RecurrentDiscriminator(16, hidden=6, layers=1, pack=2), 12)])
def test_discriminators_expose_their_last_features(net_D, width):
    x = pack_clips(_randn(8, 1, 16, 16), 2)
    assert net_D.feature_vector(x).shape == (4, width)


def test_generator_regularisers_are_off_by_default_and_weighted_when_on():
    net_D = ConvDiscriminator(16, 16, 4, pack=2)
    fake, z, real = _randn(8, 1, 16, 16), _randn(8, 16, 4, seed=1), _randn(8, 1, 16, 16, seed=2)
    total, stats = generator_regularisers(net_D, fake, z, None, LossConfig())
    assert total.item() == 0 and stats == {}
    total, stats = generator_regularisers(net_D, fake, z, real, LossConfig(mode_seeking=0.5, feature_matching=3.0))
    fm = feature_matching_value(net_D.feature_vector(pack_clips(real, 2)), net_D.feature_vector(pack_clips(fake, 2)))
    assert torch.allclose(total, 0.5 * mode_seeking_value(fake, z)[0] + 3.0 * fm)
    assert set(stats) == {"G/mode_seeking_ratio", "G/feature_matching"}


def test_regulariser_weights_are_validated():
    with pytest.raises(ValueError, match="loss.mode_seeking must be >= 0"):
        apply_overrides(preset("cpu"), ["loss.mode_seeking=-1"])
    with pytest.raises(TypeError, match="loss.feature_matching must be a real number"):
        LossConfig(feature_matching="much")


def test_batch_diversity_is_the_nearest_neighbour_distance_of_the_batch():
    clips = _randn(10, 1, 4, 6)
    expected = metrics.nearest_neighbour_distances(clips.squeeze(1).numpy()).mean()
    assert batch_diversity(clips).item() == pytest.approx(float(expected), rel=1e-5)
    twins = torch.cat([clips[:5], clips[:5]])                  # every clip has an exact twin
    assert batch_diversity(twins).item() == pytest.approx(0, abs=1e-5)


def test_a_regularised_run_logs_its_terms_and_resumes_exactly(tmp_path):
    cfg = apply_overrides(preset("tiny"), ["train.image_every=100", "model.generator=lstm",
                                           "loss.mode_seeking=1", "loss.feature_matching=10"])
    train(cfg, tmp_path / "whole", log=lambda m: None)
    train(apply_overrides(cfg, ["train.steps=3"]), tmp_path / "split", log=lambda m: None)
    train(cfg, tmp_path / "split", resume=True, log=lambda m: None)
    whole, split = (load_checkpoint(checkpoint_paths(tmp_path / run)[-1]) for run in ("whole", "split"))
    for key in ("G", "D", "G_ema"):
        assert all(torch.equal(whole[key][name], split[key][name]) for name in whole[key])
    tags = set(read_scalars(tmp_path / "whole"))
    assert {"G/mode_seeking_ratio", "G/feature_matching", "diversity/fake", "diversity/real"} <= tags
    ratio = read_scalars(tmp_path / "whole")["G/mode_seeking_ratio"][1]
    assert np.all(np.isfinite(ratio)) and np.all(ratio > 0)


def test_clip_code_feeds_the_first_vector_to_every_step_and_stays_causal():
    from musicgan.models import RecurrentGenerator

    plain = RecurrentGenerator(4, 16, 16, hidden=8, layers=1)
    coded = RecurrentGenerator(4, 16, 16, hidden=8, layers=1, clip_code=True)
    assert coded.rnn.input_size == 2 * plain.rnn.input_size and coded.latent_shape == plain.latent_shape
    z = _randn(2, 16, 4)
    later = z.clone()
    later[:, 10:] += 1.0
    with torch.no_grad():
        assert torch.equal(coded(z)[..., :10], coded(later)[..., :10])    # still causal in the per-step noise
        steps = torch.cat([z, z[:, :1].expand_as(z)], dim=2)             # what each step reads
        frames, _ = coded.rnn(steps, coded._state(z[:, 0]))
        assert torch.allclose(coded(z), torch.tanh(coded.to_frame(frames)).transpose(1, 2).unsqueeze(1))


def test_pooled_mode_seeking_ignores_flicker_finer_than_the_pool():
    z = _randn(4, 3)
    base = _randn(2, 1, 8, 8).repeat(2, 1, 1, 1)                 # both halves the same clips...
    flicker = torch.tensor([1.0, -1.0]).repeat(4)                  # ...but one half alternates frame by frame
    fake = base.clone()
    fake[2:] += 0.5 * flicker
    assert mode_seeking_value(fake, z)[1] > 0.4                    # pixel distance: counted as diversity
    assert mode_seeking_value(fake, z, pool=2)[1] < 1e-6           # pooled over 2 frames: no diversity
    with pytest.raises(ValueError, match="loss.mode_seeking_pool must lie in"):
        apply_overrides(preset("cpu"), ["loss.mode_seeking_pool=0"])


class _FirstVectorOnly(torch.nn.Module):
    """A toy 'recurrent generator' whose clips depend on the first frame's vector alone."""
    latent_shape = (8, 3)

    def forward(self, z):
        return z[:, :1, :1].expand(-1, 8, 8).unsqueeze(1)


def test_latent_sensitivity_finds_a_generator_that_ignores_its_per_step_noise():
    from musicgan.diagnose import latent_sensitivity

    result = latent_sensitivity(_FirstVectorOnly(), n=50, seed=0)
    assert result["per_step"] == pytest.approx(0, abs=1e-6)      # same first vector: identical clips
    assert result["first"] == pytest.approx(result["all"]) and result["all"] > 0
    from musicgan.models import ConvGenerator, RecurrentGenerator

    net_G = RecurrentGenerator(4, 16, 16, hidden=8, layers=1)
    assert set(latent_sensitivity(net_G, n=20)) == {"all", "first", "per_step"}
    with pytest.raises(ValueError, match="one vector per frame"):
        latent_sensitivity(ConvGenerator(4, 16, 16, 4), n=20)
