"""The mel scale, the filterbank and the log-mel spectrogram against librosa; their inverse to audio; the
sympy statements of the chapter."""
import itertools
import warnings

import librosa
import numpy as np
import pytest
import sympy as sp
import torch

from musicgan.mel import (MelConfig, griffin_lim, hz_to_mel, log_mel_spectrogram, mel_filterbank, mel_to_audio,
                          mel_to_hz, mel_to_linear, power_spectrogram, spectral_convergence)
from theory import music_mel as T


pytestmark = pytest.mark.usefixtures("one_torch_thread")

# ---------------------------------------------------------------- the algebra (sympy)


def test_inverse_formula_inverts_the_scale_both_ways():
    assert sp.simplify(T.mel_inverse(T.mel()) - T.f) == 0
    assert sp.simplify(T.mel(T.mel_inverse()) - T.m) == 0
    wrong = 700 * (sp.exp(T.m / 2595) - 1)                        # natural log mistaken for log10
    assert sp.simplify(wrong.subs(T.m, T.mel()) - T.f) != 0


def test_slope_and_linear_regime():
    assert sp.simplify(T.mel_slope() - 2595 / (sp.log(10) * (700 + T.f))) == 0
    assert float(T.slope_at_zero()) == pytest.approx(1.6100, abs=1e-4)
    series = T.linear_regime_series(3)
    assert sp.simplify(series.coeff(T.f, 1) - T.slope_at_zero()) == 0
    assert series.coeff(T.f, 2) < 0                                # concave: the scale bends below the line


def test_log_regime_gap_vanishes_and_bands_widen_linearly():
    assert sp.limit(T.log_regime_gap(), T.f, sp.oo) == 0
    fp = sp.Symbol("fp", positive=True)                              # log(f / 700) needs f > 0
    gap = T.log_regime_gap(fp) - 2595 * sp.log(1 + 700 / fp, 10)
    assert sp.simplify(sp.expand_log(sp.together(gap), force=True)) == 0
    assert sp.simplify(T.band_edge_after() - T.f - T.band_width()) == 0
    assert sp.simplify(T.band_edge_after() - T.f - T.delta) != 0   # not a constant width in Hz
    assert float(T.mel().subs(T.f, 1000)) == pytest.approx(1000.0, abs=0.05)


def test_slaney_triangles_have_unit_area_and_normaliser_inverts():
    left, centre, right = sp.symbols("l c r", positive=True)
    area = T.triangle_area(left, centre, right, 2 / (right - left))
    assert sp.simplify(area - 1) == 0
    assert sp.simplify(T.triangle_area(left, centre, right, 1) - 1) != 0  # norm=None: area is half the width
    v, mu, s, k = sp.symbols("v mu s k", positive=True)
    assert sp.simplify(T.denormalise(T.normalise(v, mu, s, k), mu, s, k) - v) == 0


# ---------------------------------------------------------------- the scale and the filterbank


def test_hz_to_mel_matches_formula_and_librosa_htk():
    f = np.array([0.0, 100.0, 700.0, 1000.0, 4000.0, 8000.0])
    np.testing.assert_allclose(hz_to_mel(f), 2595 * np.log10(1 + f / 700), rtol=1e-15)
    np.testing.assert_allclose(hz_to_mel(f), librosa.hz_to_mel(f, htk=True), rtol=1e-12)
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(f)), f, atol=1e-9)
    assert isinstance(hz_to_mel(700.0), float) and hz_to_mel(700.0) == pytest.approx(2595 * np.log10(2))
    assert not np.allclose(hz_to_mel(f[1:]), librosa.hz_to_mel(f[1:]))   # librosa's default (Slaney) differs


@pytest.mark.parametrize("bad", [-1.0, np.nan])
def test_hz_to_mel_rejects_bad_frequencies(bad):
    with pytest.raises(ValueError, match="f_hz must"):
        hz_to_mel([100.0, bad])


FILTERBANK_GRID = list(itertools.product([8000, 16000, 22050, 44100], [512, 1024, 2048], [32, 64, 128],
                                         [(0.0, None), (30.0, 4000.0), (60.0, 7600.0)], ["slaney", None]))


def test_filterbank_matches_librosa_over_a_grid():
    worst = 0.0
    for sr, n_fft, n_mels, (fmin, fmax), norm in FILTERBANK_GRID:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")                   # a few grid points have empty filters in both
            ours = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, norm)
            ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=True,
                                      norm=norm)
        assert ours.shape == (n_mels, 1 + n_fft // 2)
        worst = max(worst, float(np.abs(ours - ref).max()))
    assert worst < 1e-6
    assert not np.allclose(mel_filterbank(16000, 1024, 64),
                           librosa.filters.mel(sr=16000, n_fft=1024, n_mels=64, fmax=8000))  # Slaney scale


def test_unnormalised_triangles_sum_to_one_between_first_and_last_peak():
    fb = mel_filterbank(16000, 2048, 40, 0.0, 8000.0, norm=None)
    bins = np.linspace(0, 8000, fb.shape[1])
    peaks = bins[fb.argmax(axis=1)]
    inside = (bins >= peaks[0] + 50) & (bins <= peaks[-1] - 50)
    np.testing.assert_allclose(fb.sum(axis=0)[inside], 1.0, atol=1e-12)   # adjacent triangles overlap to 1
    assert fb.max() <= 1.0 and (fb > 0).sum(axis=0).max() <= 2


def test_empty_filters_warn():
    with pytest.warns(UserWarning, match="contain no FFT bin"):
        mel_filterbank(8000, 256, 128)


# ---------------------------------------------------------------- the log-mel spectrogram


def _test_signal(n_samples, sr, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / sr
    tones = sum(a * np.sin(2 * np.pi * f0 * t * (1 + 0.05 * t)) for a, f0 in [(0.5, 196.0), (0.3, 523.3), (0.1, 1800.0)])
    return tones * np.exp(-t) + 0.01 * rng.standard_normal(n_samples)


def _librosa_log_mel(clip, cfg):
    mel = librosa.feature.melspectrogram(y=clip, sr=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                                         n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax, htk=True, norm=cfg.norm)
    return librosa.power_to_db(mel, ref=1.0, amin=cfg.amin, top_db=cfg.top_db)


LOG_MEL_GRID = [MelConfig(), MelConfig(norm=None, top_db=None), MelConfig(sample_rate=22050, n_fft=2048, hop_length=512,
                n_mels=128, fmin=30.0, fmax=11025.0, clip_frames=40), MelConfig(n_fft=512, hop_length=128, n_mels=40,
                fmin=50.0, fmax=4000.0, top_db=60.0)]


@pytest.mark.parametrize("cfg", LOG_MEL_GRID, ids=lambda c: f"sr{c.sample_rate}-fft{c.n_fft}-mels{c.n_mels}-{c.norm}")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_mel_matches_librosa(cfg, dtype):
    clips = np.stack([_test_signal(cfg.clip_samples, cfg.sample_rate, seed) * scale
                      for seed, scale in [(0, 1.0), (1, 0.1), (2, 0.3)]]).astype(dtype)
    ours = log_mel_spectrogram(torch.from_numpy(clips), cfg).numpy()
    assert ours.shape == (3, cfg.n_mels, cfg.clip_frames) and ours.dtype == dtype
    for clip, mine in zip(clips, ours):
        ref = _librosa_log_mel(clip, cfg)
        above = ref > -60.0
        assert above.mean() > 0.3
        assert np.abs(mine - ref)[above].max() < 1e-3               # dB: the criterion
        assert np.abs(mine - ref).max() < 1e-3                      # ... and in fact everywhere here


def test_log_mel_batch_equals_clip_by_clip_and_numpy_input():
    cfg = MelConfig()
    clips = np.stack([_test_signal(cfg.clip_samples, cfg.sample_rate, s) for s in range(3)]).astype(np.float32)
    batch = log_mel_spectrogram(clips, cfg, chunk=2)
    for i, clip in enumerate(clips):
        torch.testing.assert_close(log_mel_spectrogram(torch.from_numpy(clip), cfg), batch[i])
    assert log_mel_spectrogram(np.zeros((0, cfg.clip_samples), np.float32), cfg).shape == (0, cfg.n_mels, cfg.clip_frames)


def test_log_mel_top_db_floor_is_per_clip():
    cfg = MelConfig(top_db=40.0)
    loud = _test_signal(cfg.clip_samples, cfg.sample_rate)
    db = log_mel_spectrogram(torch.from_numpy(np.stack([loud, 1e-3 * loud])), cfg)
    for clip in db:
        assert float(clip.max() - clip.min()) == pytest.approx(40.0, abs=1e-6)
    assert float(db[0].max() - db[1].max()) == pytest.approx(60.0, abs=1e-3)   # 1e-3 in amplitude = 60 dB


def test_log_mel_rejects_bad_input():
    with pytest.raises(TypeError, match="audio must hold floats"):
        log_mel_spectrogram(torch.zeros(10, dtype=torch.int64), MelConfig())
    with pytest.raises(ValueError, match="audio must have shape"):
        log_mel_spectrogram(torch.zeros(1, 2, 3000), MelConfig())


@pytest.mark.parametrize("field, value, message", [("n_mels", 0, "n_mels must lie"), ("fmax", 9000.0, "fmax <= sample_rate / 2"),
                                                   ("norm", "l2", "norm must be one of"), ("hop_length", 4096, "hop_length must lie")])
def test_mel_config_validates(field, value, message):
    with pytest.raises(ValueError, match=message):
        MelConfig(**{field: value})


def test_mel_config_clip_length_and_round_trip():
    cfg = MelConfig()
    assert cfg.clip_samples == 16128 and cfg.clip_seconds == pytest.approx(1.008)
    assert log_mel_spectrogram(np.zeros(cfg.clip_samples, np.float32), cfg).shape == (256, 64)
    assert MelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown MelConfig field"):
        MelConfig.from_dict({**cfg.to_dict(), "win_length": 400})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_log_mel_on_gpu_equals_cpu():
    cfg = MelConfig()
    clips = torch.from_numpy(np.stack([_test_signal(cfg.clip_samples, cfg.sample_rate, s) for s in range(4)]))
    torch.testing.assert_close(log_mel_spectrogram(clips.cuda(), cfg).cpu(), log_mel_spectrogram(clips, cfg))


# ---------------------------------------------------------------- back to audio


def test_nnls_fits_the_mel_better_than_the_pseudo_inverse_and_librosa():
    cfg = MelConfig()
    clip = _test_signal(cfg.clip_samples, cfg.sample_rate)
    mel_power = 10 ** (_librosa_log_mel(clip, MelConfig(top_db=None)) / 10)
    fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax, cfg.norm)

    def residual(spec):
        return np.linalg.norm(fb @ spec - mel_power) / np.linalg.norm(mel_power)

    ours = mel_to_linear(torch.from_numpy(mel_power)[None], cfg).numpy()[0]
    pinv = mel_to_linear(torch.from_numpy(mel_power)[None], cfg, method="pinv").numpy()[0]
    ref = librosa.feature.inverse.mel_to_stft(mel_power, sr=cfg.sample_rate, n_fft=cfg.n_fft, htk=True, norm=cfg.norm,
                                              fmin=cfg.fmin, fmax=cfg.fmax, power=1.0)   # NNLS on the same matrix
    assert ours.min() >= 0 and residual(ours) < 5e-3
    assert residual(ours) < residual(pinv) and residual(ours) <= residual(ref) + 1e-6


def test_griffin_lim_recovers_a_signal_from_its_true_magnitude():
    cfg = MelConfig()
    clip = torch.from_numpy(_test_signal(cfg.clip_samples, cfg.sample_rate))
    magnitude = power_spectrogram(clip, cfg).sqrt()
    few = griffin_lim(magnitude, cfg, n_iter=2)[0]
    many = griffin_lim(magnitude, cfg, n_iter=64)[0]
    assert few.shape == clip.shape
    assert spectral_convergence(clip, many, cfg) < 0.5 * spectral_convergence(clip, few, cfg)
    assert spectral_convergence(clip, many, cfg) < 0.15


def test_mel_to_audio_shapes_reproducibility_and_fidelity():
    cfg = MelConfig()
    clips = np.stack([_test_signal(cfg.clip_samples, cfg.sample_rate, s) for s in range(2)]).astype(np.float32)
    mel_db = log_mel_spectrogram(clips, cfg)
    audio = mel_to_audio(mel_db, cfg, n_iter=32)
    assert audio.shape == clips.shape and audio.dtype == np.float32
    np.testing.assert_array_equal(mel_to_audio(mel_db[0].numpy(), cfg, n_iter=32), audio[0])   # seeded phases
    again_db = log_mel_spectrogram(audio, cfg)
    assert float((again_db - mel_db).abs().mean()) < 3.0              # dB: the mel is reproduced closely
    with pytest.raises(ValueError, match="mel_db must have shape"):
        mel_to_audio(np.zeros((32, 64)), cfg)
