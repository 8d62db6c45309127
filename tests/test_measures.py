"""The musical measures against their controls: real chorales must score clearly better than the same music
detuned by +50 cents, pitch-scrambled or replaced by noise, and the note fit must agree with the scores."""
import numpy as np
import pytest
import torch

from musicgan import continuity, measures, notes
from musicgan.chorales import chorale_paths, chorale_to_midi, synthesize_harmonic
from musicgan.controls import detune, scramble_pitches, shaped_noise
from musicgan.mel import MEL_PRESETS, MelConfig, log_mel_spectrogram

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SR = 16_000
CFG = MelConfig()
CLIP = CFG.clip_samples


def _clips(audio, every=2):
    n = len(audio) // CLIP
    return audio[: n * CLIP].reshape(n, CLIP)[::every].astype(np.float32)


@pytest.fixture(scope="module")
def scores():
    return [chorale_to_midi(p) for p in chorale_paths()[10:250:80]]


@pytest.fixture(scope="module")
def sets(scores):
    real = np.concatenate([_clips(synthesize_harmonic(m, SR))[:6] for m in scores])
    scrambled = np.concatenate([_clips(synthesize_harmonic(scramble_pitches(m, i), SR))[:6]
                                for i, m in enumerate(scores)])
    detuned = detune(real, SR, 50.0)
    detuned = np.pad(detuned, ((0, 0), (0, CLIP - detuned.shape[1])))
    noise = shaped_noise(real, len(real), CLIP, 0)
    audio = {"real": real, "detuned": detuned, "scrambled": scrambled, "noise": noise}
    return {k: (a, log_mel_spectrogram(torch.as_tensor(a), CFG).numpy()) for k, a in audio.items()}


def _tone(freqs, seconds=1.0, partials=6):
    t = np.arange(int(SR * seconds)) / SR
    return sum(np.sin(2 * np.pi * k * f * t) / k for f in np.atleast_1d(freqs) for k in range(1, partials + 1))


def test_cents_off_grid_wraps_to_the_nearest_note():
    f = 440.0 * 2.0 ** (np.array([0.0, 0.1, -0.2, 0.49, 12.0, -3.0]) / 12)
    np.testing.assert_allclose(measures.cents_off_grid(f), [0, 10, -20, 49, 0, 0], atol=1e-9)
    assert measures.cents_off_grid(440.0 * 2 ** (0.5 / 12)) == pytest.approx(-50.0)


@pytest.mark.parametrize("cents, expected", [(0.0, 1.0), (30.0, 0.0), (-25.0, 0.0), (7.0, 1.0)])
def test_peak_tuning_of_pure_tones(cents, expected):
    freqs = 440.0 * 2.0 ** ((np.array([-9, -5, 0]) + cents / 100) / 12)       # C, E, A near A4
    result = measures.peak_tuning(_tone(freqs), SR)
    assert result["in_tune"][0] == pytest.approx(expected)
    assert result["cents_off"][0] == pytest.approx(abs(cents), abs=1.5)


def test_peak_tuning_controls(sets):
    score = {k: np.nanmean(measures.peak_tuning(a, SR)["in_tune"]) for k, (a, _) in sets.items()}
    assert score["real"] >= 0.9
    assert score["detuned"] <= 0.05
    assert 0.1 <= score["noise"] <= 0.32           # chance: 20 cents of every 100
    assert score["scrambled"] >= 0.9               # scrambled notes are still equal-tempered


def test_silence_has_no_peaks_and_no_tuning():
    result = measures.peak_tuning(np.zeros((1, CLIP), np.float32), SR)
    assert np.isnan(result["in_tune"][0])


def test_key_strength_finds_the_rotated_profiles():
    for k in (0, 5, 11):
        major = measures.key_strength(np.roll(measures.KK_MAJOR, k)[None])
        minor = measures.key_strength(np.roll(measures.KK_MINOR, k)[None])
        assert major["key"][0] == k and major["key_corr"][0] == pytest.approx(1.0)
        assert minor["key"][0] == 12 + k and minor["key_corr"][0] == pytest.approx(1.0)
    triad = np.zeros(12)
    triad[[0, 4, 7]] = 1.0                         # C major triad: in the scale of C major
    assert measures.key_strength(triad[None])["in_scale"][0] == pytest.approx(1.0)
    assert np.isnan(measures.key_strength(np.ones((1, 12)))["key_corr"][0])
    with pytest.raises(ValueError, match="non-negative"):
        measures.key_strength(-np.ones((1, 12)))


def test_audio_key_controls(sets):
    corr = {k: np.nanmean(measures.audio_key(a, SR)["key_corr"]) for k, (a, _) in sets.items()}
    assert corr["real"] >= 0.7
    assert corr["real"] - corr["scrambled"] >= 0.1
    assert corr["real"] - corr["noise"] >= 0.1


def test_note_templates_are_normalised_and_distinct():
    w = notes.note_templates(CFG)
    assert w.shape == (CFG.n_mels, notes.NOTE_RANGE.size)
    np.testing.assert_allclose(w.sum(0), 1.0)
    shifted = notes.note_templates(CFG, cents=50.0)
    assert np.abs(w - shifted).sum(0).min() > 0.2


def test_fitted_notes_of_a_chord_and_its_tuning():
    chord = np.array([60, 64, 67])
    mel = log_mel_spectrogram(torch.as_tensor(_tone(440.0 * 2.0 ** ((chord - 69) / 12))), CFG).numpy()[None]
    h, _ = notes.fit_activations(mel, CFG)
    roll = notes.notes_sounding(h)[0]
    found = set(notes.NOTE_RANGE[roll[:, 5:-5].mean(-1) > 0.9])
    assert found == set(chord.tolist())
    assert notes.mel_tuning(mel, CFG)[0] >= 0.95
    off = log_mel_spectrogram(torch.as_tensor(_tone(440.0 * 2.0 ** ((chord - 69.5) / 12))), CFG).numpy()[None]
    assert notes.mel_tuning(off, CFG)[0] <= 0.05


@pytest.mark.parametrize("preset", ["pitch256", "legacy64"])
def test_fitted_notes_match_the_score(scores, preset):
    """Frame-level note F1 of the template fit against the chorales' own scores (rendered by the harmonic
    synthesiser): the fit hears the notes that are written."""
    cfg = MEL_PRESETS[preset]
    tp = fp = fn = 0
    for midi in scores:
        audio = synthesize_harmonic(midi, SR)[: SR * 15].astype(np.float32)
        mel = log_mel_spectrogram(torch.as_tensor(audio), cfg).numpy()[None]
        roll = notes.notes_sounding(notes.fit_activations(mel, cfg)[0])[0]
        times = np.arange(roll.shape[1]) * cfg.hop_length / SR
        ref = midi.get_piano_roll(fs=SR / cfg.hop_length, times=times)[notes.NOTE_RANGE] > 0
        tp, fp, fn = tp + np.sum(roll & ref), fp + np.sum(roll & ~ref), fn + np.sum(~roll & ref)
    f1 = 2 * tp / (2 * tp + fp + fn)
    assert f1 >= (0.9 if preset == "pitch256" else 0.8)


def test_mel_measures_controls(sets):
    m = {k: notes.mel_note_measures(mel, CFG) for k, (_, mel) in sets.items()}
    mean = {k: {name: np.nanmean(v) for name, v in r.items()} for k, r in m.items()}
    assert mean["real"]["mel_in_tune"] >= 0.9
    assert mean["detuned"]["mel_in_tune"] <= 0.1
    assert mean["noise"]["mel_in_tune"] <= 0.35            # chance 1/8
    assert mean["scrambled"]["mel_in_tune"] >= 0.9
    assert mean["real"]["key_corr"] - mean["scrambled"]["key_corr"] >= 0.1
    assert mean["real"]["key_corr"] - mean["noise"]["key_corr"] >= 0.1
    assert 3.0 <= mean["real"]["notes_per_frame"] <= 5.0   # four voices
    assert mean["noise"]["pitch_classes"] >= 2 * mean["real"]["pitch_classes"]
    assert mean["real"]["in_scale"] > mean["scrambled"]["in_scale"] + 0.05


def test_onset_rate_counts_clicks():
    audio = np.zeros(4 * SR, np.float32)
    audio[(np.arange(0.25, 4, 0.5) * SR).astype(int)] = 1.0                  # 8 clicks, 2 per second
    mel = log_mel_spectrogram(torch.as_tensor(audio), CFG).numpy()[None]
    assert measures.onset_rate(mel, CFG)[0] == pytest.approx(2.0, abs=0.3)


def test_ioi_regularity_grid_versus_random():
    rng = np.random.default_rng(0)
    grid = np.zeros(20 * SR, np.float32)
    grid[(np.arange(0.2, 19.8, 0.4) * SR).astype(int)] = 1.0
    random = np.zeros(20 * SR, np.float32)
    random[(np.sort(rng.uniform(0.2, 19.8, 49)) * SR).astype(int)] = 1.0
    mel = log_mel_spectrogram(torch.as_tensor(np.stack([grid, random])), CFG).numpy()
    regular, irregular = measures.ioi_regularity(mel, CFG)
    assert regular >= 0.95
    assert irregular <= 0.5                        # random onsets: about 0.3


def test_join_jump_ratio_sees_seams(scores):
    audio = synthesize_harmonic(scores[0], SR).astype(np.float32)[: 6 * SR]
    mel = log_mel_spectrogram(torch.as_tensor(audio), CFG).numpy()
    joins = [64, 128, 192, 256]
    seamless = continuity.join_jump_ratio(mel, joins)["ratio"]
    chunks = [mel[:, i * 64:(i + 1) * 64] for i in range(5)]
    rng = np.random.default_rng(1)
    shuffled = np.concatenate([chunks[i] + rng.normal(0, 6) for i in rng.permutation(5)], axis=1)
    assert seamless < 1.6
    assert continuity.join_jump_ratio(shuffled, joins)["ratio"] > 2 * seamless
    with pytest.raises(ValueError, match="join_frames"):
        continuity.join_jump_ratio(mel, [0])


def test_distance_per_second_grows_with_drift():
    rng = np.random.default_rng(0)
    train = rng.uniform(-1, 1, (50, 8, 16)).astype(np.float32)
    piece = np.concatenate([train[i] for i in range(5)], axis=1)
    drift = piece + np.linspace(0, 2, piece.shape[1])[None]
    assert np.allclose(continuity.distance_per_second(piece, train, 16), 0.0, atol=1e-5)
    d = continuity.distance_per_second(drift, train, 16)
    assert np.all(np.diff(d) > 0)


def test_key_persistence_real_versus_scrambled(scores):
    midi = scores[1]
    real = log_mel_spectrogram(torch.as_tensor(synthesize_harmonic(midi, SR)[: 12 * SR].astype(np.float32)),
                               CFG).numpy()
    scr = log_mel_spectrogram(torch.as_tensor(
        synthesize_harmonic(scramble_pitches(midi, 3), SR)[: 12 * SR].astype(np.float32)), CFG).numpy()
    assert np.nanmean(continuity.key_persistence(real, CFG)) >= 0.6
    assert np.nanmean(continuity.key_persistence(real, CFG)) > np.nanmean(continuity.key_persistence(scr, CFG)) + 0.1
