"""The prepared data set: chorale rendering, the versioned cache file, normalisation and splits by piece."""
import json
import shutil

import numpy as np
import pretty_midi
import pytest
import torch

from musicgan import chorales
from musicgan.dataset import (FORMAT_VERSION, MelAccumulator, Normalizer, PreparedSet, clip_source_audio,
                              ensure_default_dataset, load_prepared, read_params, save_prepared, split_by_source)
from musicgan.display import AudioTable, plot_mel
from musicgan.mel import MelConfig, log_mel_spectrogram

# ---------------------------------------------------------------- rendering the chorales


@pytest.fixture(scope="module")
def two_chorales():
    paths = chorales.chorale_paths()
    assert len(paths) > 400                                         # music21's corpus ships ~410 MusicXML files
    return [p for p in paths if p.name in ("bwv1.6.mxl", "bwv10.7.mxl")]


def test_vectorised_synthesis_equals_pretty_midi(two_chorales):
    midi = chorales.chorale_to_midi(two_chorales[1])
    ours = chorales.synthesize_harmonic(midi, 16000)
    reference = midi.synthesize(16000, wave=chorales.harmonic_wave)   # pretty_midi's loop over notes
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, atol=1e-12)
    assert np.abs(ours).max() == pytest.approx(1.0)


def test_rendering_from_the_notes_cache_equals_rendering_the_score(two_chorales, tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICGAN_DATA_DIR", str(tmp_path))
    expected = {p.name: chorales.synthesize_harmonic(chorales.chorale_to_midi(p), 16000).astype(np.float32)
                for p in two_chorales}
    rendered = dict(chorales.iter_rendered_chorales(16000, paths=two_chorales, workers=1))
    assert list(rendered) == [p.name for p in two_chorales] and len(list(tmp_path.glob("chorale-notes-*.npz"))) == 1
    for name, audio in rendered.items():
        np.testing.assert_array_equal(audio, expected[name])          # the same samples, bit for bit

    def no_parsing(*args, **kwargs):
        raise AssertionError("the score was parsed again")

    monkeypatch.setattr(chorales, "chorale_to_midi", no_parsing)      # later renderings read the cache
    np.testing.assert_array_equal(chorales.render_chorale(two_chorales[1], 16000), expected[two_chorales[1].name])
    again = dict(chorales.iter_rendered_chorales(16000, paths=two_chorales, workers=2))
    np.testing.assert_array_equal(again[two_chorales[0].name], expected[two_chorales[0].name])


def test_notes_match_music21_strip_ties_and_tempo(two_chorales):
    from music21 import converter

    score = converter.parseFile(two_chorales[0], forceSource=True, storePickle=False)
    midi = chorales.chorale_to_midi(two_chorales[0])
    bpm = score.metronomeMarkBoundaries()[0][2].getQuarterBPM()
    for part, instrument in zip(score.parts, midi.instruments):
        tied = [(float(n.offset), float(n.offset + n.quarterLength), p.midi)
                for n in part.stripTies().flatten().notes for p in n.pitches]   # music21's own tie merging
        ours = [(n.start * bpm / 60, n.end * bpm / 60, n.pitch) for n in instrument.notes]
        np.testing.assert_allclose(np.array(sorted(ours)), np.array(sorted(tied)), atol=1e-9)


@pytest.mark.skipif(chorales.find_soundfont() is None or shutil.which("fluidsynth") is None,
                    reason="fluidsynth or a soundfont is missing")
def test_fluidsynth_renderer_when_present():
    midi = pretty_midi.PrettyMIDI()
    organ = pretty_midi.Instrument(program=chorales.ORGAN_PROGRAM)
    organ.notes.append(pretty_midi.Note(100, 69, 0.0, 0.5))
    midi.instruments.append(organ)
    audio = chorales.render_fluidsynth(midi, 16000)
    assert audio.ndim == 1 and audio.size > 8000 and np.abs(audio).max() == pytest.approx(1.0)
    spectrum = np.abs(np.fft.rfft(audio[:8000]))
    strongest = np.fft.rfftfreq(8000, 1 / 16000)[spectrum.argmax()]   # an organ's strongest partial varies by stop
    assert strongest / 440.0 == pytest.approx(round(strongest / 440.0), abs=0.03)   # ... but is a harmonic of A4


# ---------------------------------------------------------------- normalisation


def test_normaliser_round_trip_numpy_and_torch():
    rng = np.random.default_rng(0)
    mels = (rng.normal(-30, 12, size=(50, 8, 16)) + np.linspace(-20, 20, 8)[:, None]).astype(np.float32)
    norm = Normalizer.fit(mels)
    x = norm.normalize(mels)
    assert x.dtype == np.float32 and x.min() >= -1 and x.max() <= 1
    inside = np.abs((mels - norm.mean[:, None]) / norm.std[:, None]) < 3
    assert 0.95 < inside.mean() < 1.0                                 # a few values are clipped
    back = norm.denormalize(x)
    np.testing.assert_allclose(back[inside], mels[inside], atol=1e-4)
    bound = norm.mean[:, None] + 3 * norm.std[:, None] * np.sign(mels - norm.mean[:, None])
    np.testing.assert_allclose(back[~inside], np.broadcast_to(bound, mels.shape)[~inside], atol=1e-4)
    xt = norm.normalize(torch.from_numpy(mels).double())
    assert xt.dtype == torch.float64
    torch.testing.assert_close(norm.denormalize(xt)[torch.from_numpy(inside)],
                               torch.from_numpy(mels).double()[torch.from_numpy(inside)])
    np.testing.assert_allclose(xt.numpy(), x, atol=1e-6)


def test_normaliser_statistics_and_errors():
    mels = np.stack([np.full((2, 4), v, np.float32) + np.array([[0.0], [10.0]]) for v in (0.0, 2.0)])
    norm = Normalizer.fit(mels)
    np.testing.assert_allclose(norm.mean, [1.0, 11.0])
    np.testing.assert_allclose(norm.std, [1.0, 1.0])
    with pytest.raises(ValueError, match="std must be > 0"):
        Normalizer.fit(np.zeros((3, 2, 4)))
    with pytest.raises(ValueError, match="mels_db must have shape"):
        Normalizer.fit(np.zeros((2, 4)))


# ---------------------------------------------------------------- the file


def _small_set(path, n=12, cfg=MelConfig(), params=None):
    rng = np.random.default_rng(1)
    acc = MelAccumulator(cfg, batch=5)
    for k in range(3):
        clips = (0.3 * rng.standard_normal((n // 3, cfg.clip_samples))).astype(np.float32)
        acc.add(f"piece{k}", clips, np.arange(n // 3) * cfg.clip_samples)
    params = params or {"format_version": FORMAT_VERSION, "mel": cfg.to_dict(), "source": {"kind": "test"}}
    return save_prepared(path, acc, params), acc


def test_save_and_load_round_trip(tmp_path):
    path, _ = _small_set(tmp_path / "s.npz")
    prepared = load_prepared(path)
    assert isinstance(prepared, PreparedSet) and prepared.mels.dtype == np.float32
    assert prepared.mels.shape == (12, 256, 64) and prepared.mel_config == MelConfig()
    assert prepared.sources == ["piece0"] * 4 + ["piece1"] * 4 + ["piece2"] * 4
    np.testing.assert_array_equal(prepared.starts[:4], np.arange(4) * MelConfig().clip_samples)
    np.testing.assert_allclose(prepared.normalizer.mean, prepared.mels.mean(axis=(0, 2)), rtol=1e-6)
    assert read_params(path)["source"] == {"kind": "test"}


def test_float16_storage_error_is_negligible(tmp_path):
    cfg = MelConfig()
    path, acc = _small_set(tmp_path / "s.npz")
    rng = np.random.default_rng(1)                                     # the same clips again, in float32
    clips = np.concatenate([(0.3 * rng.standard_normal((4, cfg.clip_samples))).astype(np.float32) for _ in range(3)])
    exact = log_mel_spectrogram(clips, cfg).numpy()
    stored = load_prepared(path).mels
    assert np.abs(stored - exact).max() <= 2.0 ** -11 * np.abs(exact).max()   # float16: 11 significant bits
    assert np.abs(stored - exact).max() < 0.02                                 # dB, for levels below 40 dB
    norm = load_prepared(path).normalizer
    assert np.abs(norm.normalize(stored) - norm.normalize(exact)).max() < 1e-3


def test_other_format_version_is_refused(tmp_path):
    cfg = MelConfig()
    path, _ = _small_set(tmp_path / "old.npz", params={"format_version": 0, "mel": cfg.to_dict(), "source": {}})
    with pytest.raises(ValueError, match="format version 0, this code reads version 1"):
        load_prepared(path)


def test_split_by_source_keeps_pieces_apart():
    sources = [f"p{i % 7}" for i in range(70)] + ["big"] * 30
    train, held = split_by_source(sources, 0.25, rng=3)
    assert len(train) + len(held) == 100 and len(held) >= 25
    assert not {sources[i] for i in train} & {sources[i] for i in held}
    again = split_by_source(sources, 0.25, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(again[1], held)
    with pytest.raises(ValueError, match="held_out_fraction must be < 1"):
        split_by_source(sources, 1.0, rng=0)
    with pytest.raises(ValueError, match="at least 2 distinct sources"):
        split_by_source(["a"] * 5, 0.5, rng=0)


# ---------------------------------------------------------------- the default set's cache


def test_default_set_cache_is_reused_only_for_the_same_parameters(tmp_path, monkeypatch, two_chorales):
    monkeypatch.setattr(chorales, "chorale_paths", lambda: list(two_chorales))
    cfg = MelConfig(clip_frames=32)
    first = ensure_default_dataset(cfg, cache_dir=tmp_path, workers=1)
    stamp = first.stat().st_mtime_ns
    assert ensure_default_dataset(cfg, cache_dir=tmp_path, workers=1) == first
    assert first.stat().st_mtime_ns == stamp                          # reused, not rebuilt
    other = ensure_default_dataset(MelConfig(clip_frames=32, n_mels=40), cache_dir=tmp_path, workers=1)
    assert other != first and load_prepared(other).mels.shape[1:] == (40, 32)
    prepared = load_prepared(first)
    assert prepared.source_names == ["bwv1.6.mxl", "bwv10.7.mxl"] and prepared.n_clips > 80
    params = read_params(first)                                       # a file whose record disagrees is rebuilt
    shutil.copy(other, first)
    assert ensure_default_dataset(cfg, cache_dir=tmp_path, workers=1) == first
    assert read_params(first) == params
    i = prepared.n_clips // 2                                         # each clip's audio can be recovered
    audio = clip_source_audio(prepared, i)
    np.testing.assert_allclose(log_mel_spectrogram(audio, cfg).numpy(), prepared.mels[i], atol=0.05)
    assert json.dumps(params)                                          # the record is plain JSON
    parallel = ensure_default_dataset(cfg, cache_dir=tmp_path / "two", workers=2)
    np.testing.assert_array_equal(load_prepared(parallel).mels, prepared.mels)  # workers change nothing


@pytest.mark.slow
def test_default_set_is_big_enough_and_small_enough():
    path = ensure_default_dataset()
    prepared = load_prepared(path)
    train, held = split_by_source(prepared, 0.15, rng=0)
    assert prepared.mels.shape[1:] == (256, 64)
    assert len(held) >= 1000 and len(train) >= 3000
    assert path.stat().st_size < 600e6


# ---------------------------------------------------------------- showing the data


def test_audio_table_players_in_html_and_a_plain_table_for_latex():
    clip = np.sin(np.arange(8000) / 5.0).astype(np.float32)
    table = AudioTable(["piece", "clip", "score"], [["bwv1.6", clip, 0.4321]], 16000)
    html = table._repr_html_()
    assert html.count("<audio") == 1 and "data:audio/wav;base64," in html and "<td>0.432</td>" in html
    markdown = table._repr_markdown_().splitlines()
    assert markdown[0] == "| piece | clip | score |"
    assert markdown[2] == "| bwv1.6 | (0.50 s: player in the HTML version) | 0.432 |"
    with pytest.raises(ValueError, match="row 0 has 2 cells, the header has 3"):
        AudioTable(["a", "b", "c"], [[1, 2]], 16000)


def test_plot_mel_labels_time_and_frequency():
    import matplotlib.pyplot as plt

    cfg = MelConfig()
    fig, ax = plt.subplots()
    plot_mel(ax, np.zeros((cfg.n_mels, cfg.clip_frames)), cfg)
    assert ax.get_xlabel() == "time (s)" and ax.get_ylabel() == "frequency (Hz)"
    assert ax.get_xlim()[1] == pytest.approx(cfg.clip_frames * cfg.hop_length / cfg.sample_rate)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["100", "250", "500", "1000", "2000", "4000"]        # 8000 Hz lies above the last centre
    ticks = ax.get_yticks()
    assert np.all(np.diff(ticks) > 0) and ticks[3] == pytest.approx(np.interp(
        1000.0, mel_band_centres(cfg), np.arange(cfg.n_mels)))
    plt.close(fig)


def mel_band_centres(cfg):
    from musicgan.mel import mel_band_edges

    return mel_band_edges(cfg.n_mels, cfg.fmin, cfg.fmax)[1:-1]
