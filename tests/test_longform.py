"""Issue 14: pieces of any length. The note output layer plays in-tune notes, the conv generator is one
convolution along time (shift-equivariant, so no chunks and no seams), the recurrent one carries its state (a
long piece starts as a short one does), training crops come in pairs from one piece, and ``sample --seconds``
writes pieces of the asked length, the same for a seed."""
import json

import numpy as np
import pytest
import soundfile as sf
import torch

from musicgan.__main__ import main
from musicgan.config import ModelConfig, apply_overrides, load_config, preset
from musicgan.continuity import join_jump_ratio
from musicgan.dataset import Normalizer
from musicgan.mel import MEL_PRESETS
from musicgan.models import ConvSeqGenerator, RecurrentGenerator, build_generator
from musicgan.note_synth import N_NOISE, SYNTH_NOTES, NoteSynth
from musicgan.notes import NOTE_RANGE, fit_activations
from musicgan.pieces import PieceCrops, piece_sequences
from musicgan.runs import frames_for_seconds, generate, load_for_sampling
from musicgan.train import Trainer, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CFG = MEL_PRESETS["pitch256"]


def _synth():
    synth = NoteSynth(CFG.n_mels)
    normalizer = Normalizer(np.full(CFG.n_mels, -20.0), np.full(CFG.n_mels, 15.0))
    synth.set_rendering(CFG, normalizer)
    return synth, normalizer


def test_note_synth_plays_the_note_it_is_given():
    synth, normalizer = _synth()
    for midi in (43, 60, 77):
        u = torch.full((1, len(SYNTH_NOTES) + N_NOISE, 4), -30.0)
        u[0, list(SYNTH_NOTES).index(midi)] = 0.0
        mel_db = normalizer.denormalize(synth(u)[:, 0].detach().numpy())
        h, _ = fit_activations(mel_db, CFG)
        assert NOTE_RANGE[int(h[0, :, 0].argmax())] == midi


def test_note_synth_noise_bands_fill_their_own_bands():
    synth, normalizer = _synth()
    u = torch.full((1, len(SYNTH_NOTES) + N_NOISE, 1), -40.0)
    u[0, len(SYNTH_NOTES) + 3] = 20.0                      # the fourth noise band, loud
    mel = synth(u)[0, 0, :, 0].detach()
    group = CFG.n_mels // N_NOISE
    inside = mel[3 * group:4 * group]
    assert inside.min() > mel[:3 * group].max() and inside.min() > mel[4 * group:].max()


def test_note_synth_refuses_to_run_without_templates_and_stays_in_range():
    with pytest.raises(ValueError, match="set_rendering"):
        NoteSynth(CFG.n_mels)(torch.zeros(1, len(SYNTH_NOTES) + N_NOISE, 2))
    synth, _ = _synth()
    u = torch.randn(2, len(SYNTH_NOTES) + N_NOISE, 8, requires_grad=True) * 10
    x = synth(u)
    assert x.shape == (2, 1, CFG.n_mels, 8) and x.abs().max() <= 1
    x.sum().backward()


def test_conv_generator_is_one_convolution_along_time():
    """Shifting the local latents by one vector shifts the piece by 16 frames: no chunk boundaries exist."""
    torch.manual_seed(0)
    net_G = ConvSeqGenerator(8, 32, 64, channels=4, output="mel").eval()
    z = torch.randn(1, 1 + 12, 8)
    shifted = torch.cat([z[:, :1], z[:, 2:], torch.randn(1, 1, 8)], dim=1)
    a, b = net_G(z), net_G(shifted)
    assert a.shape[-1] == 16 * (12 - 2)
    torch.testing.assert_close(a[..., 16:16 * 8], b[..., 0:16 * 7])
    assert net_G.latent_shape_for(64) == (1 + 4 + 2, 8) and net_G(torch.randn(2, 7, 8)).shape[-1] == 64


def test_recurrent_generator_carries_its_state():
    """The first n frames of a long piece are the piece of n frames drawn from the same vectors."""
    torch.manual_seed(0)
    net_G = RecurrentGenerator(8, 32, 16, hidden=8, layers=1, clip_code=True).eval()
    z = torch.randn(2, 100, 8)
    torch.testing.assert_close(net_G(z)[..., :30], net_G(z[:, :30]))


def test_piece_sequences_rebuild_the_piece_and_crops_come_in_pairs():
    frames, hop = 8, 4
    whole = {"a": np.arange(2 * 36, dtype=np.float32).reshape(2, 36), "b": -np.arange(2 * 15).reshape(2, 15) - 1.0}
    mels, sources, starts = [], [], []
    for name, seq in whole.items():
        for k in range(0, seq.shape[1] - frames + 1, frames - 1):
            mels.append(seq[:, k:k + frames]), sources.append(name), starts.append(k * hop)
    joined = dict(piece_sequences(np.stack(mels), sources, np.array(starts), hop))
    np.testing.assert_array_equal(joined["a"], whole["a"][:, :joined["a"].shape[1]])
    assert joined["a"].shape[1] == 36 and joined["b"].shape[1] == 15
    crops = PieceCrops(list(joined.items()), 5)
    batch = crops.draw(40, torch.Generator().manual_seed(0), group=2)[:, 0].numpy()   # (40, 2, 5)
    pieces = np.sign(batch[:, 0, 0])                       # piece a holds values >= 0, piece b < 0
    assert np.all(pieces[0::2] == pieces[1::2]) and len(set(pieces)) == 2
    for crop in batch:                                     # every crop is a slice of its piece
        seq = whole["a"] if crop[0, 0] >= 0 else whole["b"]
        start = int(np.flatnonzero(seq[0] == crop[0, 0])[0])
        np.testing.assert_array_equal(crop, seq[:, start:start + 5])


def _tiny(generator, out, steps=6, extra=()):
    cfg = apply_overrides(preset("tiny"), [f"model.generator={generator}", f"train.steps={steps}",
                                           "train.image_every=1000", "train.music_clips=0", *extra])
    train(cfg, out, log=lambda m: None)
    return out


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("longform")
    return {g: _tiny(g, root / g, steps=40) for g in ("conv", "lstm")}


def test_packs_share_the_piece_vector(tiny_runs):
    cfg = load_config(str(tiny_runs["conv"] / "config.json"), saved=True)
    trainer = Trainer(cfg, tiny_runs["conv"].parent / "fresh", log=lambda m: None)
    z = trainer._latent()
    assert z.shape[1] == trainer.net_G.latent_shape_for(trainer.shape[1] + 16)[0]
    torch.testing.assert_close(z[0::2, 0], z[1::2, 0])
    assert not torch.equal(z[0::2, 1:], z[1::2, 1:])
    assert trainer._generate(z).shape[-1] == trainer.shape[1]


@pytest.mark.parametrize("family", ["conv", "lstm"])
def test_sample_seconds_writes_pieces_of_that_length_the_same_for_a_seed(tiny_runs, family, tmp_path):
    run = tiny_runs[family]
    for out in ("a", "b"):
        assert main(["sample", "--run", str(run), "--seconds", "30", "-n", "2", "--out", str(tmp_path / out)]) == 0
    audio, sr = sf.read(tmp_path / "a" / "sample-00.wav")
    assert abs(len(audio) / sr - 30.0) < 0.05
    assert (tmp_path / "a" / "sample-01.wav").read_bytes() == (tmp_path / "b" / "sample-01.wav").read_bytes()
    assert main(["sample", "--run", str(run), "--seconds", "30", "-n", "1", "--seed", "1",
                 "--out", str(tmp_path / "c")]) == 0
    assert (tmp_path / "c" / "sample-00.wav").read_bytes() != (tmp_path / "a" / "sample-00.wav").read_bytes()


@pytest.mark.parametrize("family", ["conv", "lstm"])
def test_long_pieces_of_a_trained_toy_have_no_seams(tiny_runs, family):
    """At every multiple of the training clip length, the level step of a long piece is the step inside (ratio
    near 1); the toy's own training clips joined in random order jump there (the control that shows the
    measure sees a seam on this data)."""
    from musicgan.runs import load_data

    net_G, cfg, shape, _step, normalizer, mel_cfg = load_for_sampling(tiny_runs[family])
    clip = shape[1]
    n_frames = 40 * clip
    piece = normalizer.denormalize(generate(net_G, 1, seed=0, n_frames=n_frames)[0])
    real = load_data(cfg.data).mels
    joined = np.concatenate(real[np.random.default_rng(0).permutation(len(real))[:40]], axis=-1)
    joins = np.arange(clip, n_frames, clip)
    assert join_jump_ratio(piece, joins)["ratio"] < 1.3 < join_jump_ratio(joined, joins)["ratio"]


def test_fixed_size_generator_refuses_seconds_with_one_line(tmp_path, capsys):
    run = _tiny("conv", tmp_path / "old", extra=("model.conv_latent=vector", "model.output=mel",
                                                  "loss.pack_same_piece=false"))
    assert main(["sample", "--run", str(run), "--seconds", "5", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fixed length" in err[0] and not (tmp_path / "s").exists()


def test_runs_saved_before_issue_14_load_as_they_were_trained(tmp_path):
    saved = preset("cpu").to_dict()
    for section, key in (("model", "output"), ("model", "conv_latent"), ("loss", "pack_same_piece")):
        del saved[section][key]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    cfg = load_config(str(tmp_path / "config.json"), saved=True)
    assert (cfg.model.output, cfg.model.conv_latent, cfg.loss.pack_same_piece) == ("mel", "vector", False)
    assert type(build_generator(cfg.model, 64, 64)).__name__ == "ConvGenerator"
    assert type(build_generator(ModelConfig(), 256, 64)).__name__ == "ConvSeqGenerator"


def test_frames_for_seconds_covers_the_length():
    n = frames_for_seconds(30, CFG)
    assert (n - 1) * CFG.hop_length >= 30 * CFG.sample_rate > (n - 2) * CFG.hop_length


def test_note_synth_sounds_at_most_max_notes_per_frame():
    """With max_notes=4 the output is exactly what the 4 loudest notes of each frame make alone."""
    synth = NoteSynth(CFG.n_mels, max_notes=4)
    synth.set_rendering(CFG, Normalizer(np.full(CFG.n_mels, -20.0), np.full(CFG.n_mels, 15.0)))
    u = torch.randn(3, len(SYNTH_NOTES) + N_NOISE, 5, generator=torch.Generator().manual_seed(0))
    notes = u[:, :len(SYNTH_NOTES)]
    kept = notes.masked_fill(notes < notes.topk(4, dim=1).values[:, -1:], -torch.inf)
    alone = NoteSynth(CFG.n_mels)
    alone.load_state_dict(synth.state_dict())
    torch.testing.assert_close(synth(u), alone(torch.cat([kept, u[:, len(SYNTH_NOTES):]], dim=1)))
    assert not torch.allclose(synth(u), alone(u))


def test_musical_report_pools_the_seeds_of_a_family(tmp_path):
    from musicgan.evaluate import musical_report
    from musicgan.runs import load_data, split_data

    gens = {}
    for seed in (0, 1):
        run = _tiny("conv", tmp_path / f"conv-s{seed}", extra=(f"train.seed={seed}",))
        gens[f"conv/{seed}"] = load_for_sampling(run)[0]
    cfg = load_config(str(tmp_path / "conv-s0" / "config.json"), saved=True)
    prepared = load_data(cfg.data)
    _, held = split_data(prepared, cfg.data)
    table = musical_report(gens, prepared, held, n=6, seed=0)
    assert "conv" in table and not any("/" in name for name in table)
    assert table["conv"]["key_corr"]["n"] == 6
