"""Musical measures of a set of clips: tuning, notes, key, rhythm -- on audio and on the mel matrices themselves.

Each function takes a batch and returns one value per clip (``(n,)`` float64, NaN where a clip has nothing to
measure, e.g. silence), so that :mod:`musicgan.stats` can resample pieces for intervals. What real music scores
is given in each docstring; `tests/test_measures.py` holds every measure to its controls (detuned, pitch-scrambled
and noise inputs from :mod:`musicgan.controls` must score worse than the real chorales).

Audio measures use librosa: ``piptrack`` (peaks refined by parabolic interpolation), ``chroma_stft`` with the
tuning fixed at A4 = 440 Hz (librosa would otherwise estimate and undo a detuning) and ``onset_detect``.
Mel measures fit 12-TET note templates (:mod:`musicgan.notes`) to each mel frame.
"""
from __future__ import annotations

import warnings

import numpy as np

from musicgan.mel import MelConfig
from sims.checks import check_int, check_positive

__all__ = ["A4_HZ", "KK_MAJOR", "KK_MINOR", "SCALES", "IN_TUNE_CENTS", "cents_off_grid", "spectral_peaks",
           "peak_tuning", "key_strength", "audio_chroma", "audio_key", "onset_rate", "ioi_regularity",
           "audio_measures"]

A4_HZ = 440.0
IN_TUNE_CENTS = 10.0           # a peak within this many cents of the 12-TET grid counts as in tune
# Krumhansl & Kessler (1982) probe-tone ratings, from the tonic C upwards.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# The pitch classes of a key, from its tonic: the major scale, and harmonic minor (the raised leading note of
# Bach's minor-key cadences belongs to the key).
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 11)}
PEAK_FMIN, PEAK_FMAX = 100.0, 2000.0       # Hz: the voices and their first partials


def cents_off_grid(freqs_hz, a4_hz: float = A4_HZ) -> np.ndarray:
    """Signed distance (cents, in [-50, 50)) from each frequency to the nearest note of 12-TET at ``a4_hz``."""
    cents = 1200.0 * np.log2(np.asarray(freqs_hz, dtype=np.float64) / a4_hz)
    return (cents + 50.0) % 100.0 - 50.0


def spectral_peaks(audio, sample_rate: int, *, n_peaks: int = 4, fmin: float = PEAK_FMIN, fmax: float = PEAK_FMAX,
                   win_length: int = 4096, n_fft: int = 16384, hop_length: int = 1024,
                   threshold: float = 0.1) -> list[np.ndarray]:
    """The ``n_peaks`` strongest spectral peaks of each frame between ``fmin`` and ``fmax`` Hz.

    audio: ``(n, samples)`` or ``(samples,)``. A 256 ms Hann window (at 16 kHz) zero-padded 4x, so
    ``librosa.piptrack``'s parabolic interpolation places a peak to a small fraction of a 1 Hz bin; only local
    maxima above ``threshold`` times the frame's largest magnitude count, so silent frames give none.
    Returns one array of peak frequencies (Hz) per clip, all frames together.
    """
    import librosa

    check_int(n_peaks, "n_peaks", low=1)
    clips = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    out = []
    for clip in clips:
        with warnings.catch_warnings():      # a 1-s clip is shorter than n_fft; the window is win_length
            warnings.filterwarnings("ignore", message="n_fft=.* is too large")
            spectrum = np.abs(librosa.stft(clip, n_fft=n_fft, hop_length=hop_length, win_length=win_length))
        pitches, mags = librosa.piptrack(S=spectrum, sr=sample_rate, n_fft=n_fft, fmin=fmin, fmax=fmax,
                                         threshold=threshold)
        top = np.argsort(mags, axis=0)[-n_peaks:]                   # (n_peaks, frames) strongest bins
        f = np.take_along_axis(pitches, top, axis=0)
        m = np.take_along_axis(mags, top, axis=0)
        out.append(f[(m > 0) & (f > 0)])
    return out


def peak_tuning(audio, sample_rate: int, *, tolerance_cents: float = IN_TUNE_CENTS, **kwargs) -> dict:
    """How close the strongest spectral peaks lie to the 12-TET grid (A4 = 440 Hz), per clip.

    Returns ``{"in_tune": share of peaks within +-tolerance_cents, "cents_off": mean |deviation| in cents}``,
    each ``(n,)`` (NaN for a clip with no peak). Peaks as :func:`spectral_peaks`. Rendered chorales score about
    0.95 and a few cents; a uniform spread of peaks (noise) 2 * tolerance / 100 = 0.2 and 25 cents; chorales
    detuned by +50 cents, near 0 and near 50 cents.
    """
    check_positive(tolerance_cents, "tolerance_cents")
    in_tune, off = [], []
    for freqs in spectral_peaks(audio, sample_rate, **kwargs):
        dev = np.abs(cents_off_grid(freqs))
        in_tune.append(np.mean(dev <= tolerance_cents) if dev.size else np.nan)
        off.append(dev.mean() if dev.size else np.nan)
    return {"in_tune": np.array(in_tune), "cents_off": np.array(off)}


def key_strength(chroma) -> dict:
    """Key of each chroma vector by the Krumhansl-Kessler profiles (Krumhansl 1990; Temperley 1999).

    chroma: ``(n, 12)`` non-negative, pitch class C first. For each vector the Pearson correlation with all 24
    rotated major and minor profiles; returns ``{"key_corr": the best correlation, "in_scale": share of the
    chroma's mass on the 7 pitch classes of that key (major / harmonic minor scale), "key": index 0-11 major,
    12-23 minor}``, each ``(n,)``. Bach chorale clips of 1 s score about 0.8 and 0.9; a flat chroma scores
    NaN correlation (no key at all) and 7/12 in scale.
    """
    c = np.atleast_2d(np.asarray(chroma, dtype=np.float64))
    if c.shape[-1] != 12 or np.any(c < 0):
        raise ValueError(f"chroma must be non-negative of shape (n, 12), got shape {c.shape}")
    profiles = np.stack([np.roll(p, k) for p in (KK_MAJOR, KK_MINOR) for k in range(12)])      # (24, 12)
    pz = (profiles - profiles.mean(1, keepdims=True)) / profiles.std(1, keepdims=True)
    centred = c - c.mean(1, keepdims=True)
    scale = c.std(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (centred / scale) @ pz.T / 12.0                                                  # (n, 24)
    best = np.argmax(np.nan_to_num(corr, nan=-2.0), axis=1)
    masks = np.zeros((24, 12))
    for k in range(24):
        masks[k, [(k % 12 + s) % 12 for s in SCALES["major" if k < 12 else "minor"]]] = 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        in_scale = (c * masks[best]).sum(1) / c.sum(1)
    return {"key_corr": corr[np.arange(len(c)), best], "in_scale": in_scale, "key": best.astype(float)}


def audio_chroma(audio, sample_rate: int, *, n_fft: int = 4096, hop_length: int = 512) -> np.ndarray:
    """Chroma ``(n, 12, frames)`` of audio ``(n, samples)`` by ``librosa.feature.chroma_stft`` with the tuning
    fixed at 0 (A4 = 440 Hz): a detuned piece must not be re-tuned by the measure."""
    import librosa

    clips = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    return np.stack([librosa.feature.chroma_stft(y=x, sr=sample_rate, n_fft=n_fft, hop_length=hop_length,
                                                 tuning=0.0, norm=None) for x in clips])


def audio_key(audio, sample_rate: int) -> dict:
    """:func:`key_strength` of each clip's chroma summed over its frames."""
    return key_strength(audio_chroma(audio, sample_rate).sum(-1))


def _onsets(envelope: np.ndarray, cfg: MelConfig, *, delta: float = 0.07) -> np.ndarray:
    """Onset times (s) from an onset-strength envelope by the rule of ``librosa.onset.onset_detect`` with its
    defaults (``librosa.util.peak_pick``): with the envelope scaled to [0, 1], frame n is an onset if it is the
    largest of frames n - 30 ms .. n + 1 frame, exceeds the mean of frames n - 100 ms .. n + 100 ms + 1 frame by
    ``delta``, and comes at least 30 ms after the previous onset. Written out here because librosa 0.11's
    numba peak picker crashes (segfault) with numba 0.68 on this platform."""
    fps = cfg.sample_rate / cfg.hop_length
    e = np.asarray(envelope, dtype=np.float64)
    span = e.max() - e.min() if e.size else 0.0
    if span <= 0:
        return np.zeros(0)
    e = (e - e.min()) / span
    pre_max, post_max = int(0.03 * fps), 1
    pre_avg, post_avg = int(0.10 * fps), int(0.10 * fps) + 1
    wait, last, onsets = int(0.03 * fps), -np.inf, []
    for n in range(e.size):
        if e[n] < e[max(0, n - pre_max):n + post_max].max():
            continue
        if e[n] < e[max(0, n - pre_avg):n + post_avg].mean() + delta or n <= last + wait:
            continue
        onsets.append(n)
        last = n
    return np.array(onsets) / fps


def _as_batch(mels_db) -> np.ndarray:
    m = np.asarray(mels_db, dtype=np.float32)
    if m.ndim not in (2, 3):
        raise ValueError(f"mels_db must have shape (n_mels, n_frames) or (n, n_mels, n_frames), got {m.shape}")
    return m[None] if m.ndim == 2 else m


def onset_rate(mels_db, cfg: MelConfig) -> np.ndarray:
    """Onsets per second of each clip ``(n, n_mels, n_frames)`` in dB, by librosa's spectral-flux onset
    strength on the mel matrix and the peak picking rule of librosa's onset detector. Chorales in crotchets at 60-100 bpm: about 1-4 per second."""
    import librosa

    mels = _as_batch(mels_db)
    hop_s = cfg.hop_length / cfg.sample_rate
    env = librosa.onset.onset_strength(S=mels, sr=cfg.sample_rate, hop_length=cfg.hop_length)   # (n, frames)
    return np.array([_onsets(e, cfg).size / (mels.shape[-1] * hop_s) for e in np.atleast_2d(env)])


def ioi_regularity(mels_db, cfg: MelConfig, *, tolerance: float = 0.1) -> np.ndarray:
    """How metrical the onsets of each (long) piece are: the share of inter-onset intervals within
    +-``tolerance`` units of a whole multiple of the piece's unit, its shortest common interval (the 20th
    percentile of its intervals). Onsets on a beat grid score near 1; intervals drawn at random land within
    the tolerance of a multiple with probability 2 x tolerance = 0.2 once they span several units (the short
    ones, near the unit itself, score higher: uniform random onsets give about 0.3). NaN with fewer than 4
    onsets."""
    import librosa

    mels = _as_batch(mels_db)
    env = np.atleast_2d(librosa.onset.onset_strength(S=mels, sr=cfg.sample_rate, hop_length=cfg.hop_length))
    out = []
    for e in env:
        ioi = np.diff(_onsets(e, cfg))
        if ioi.size < 3:
            out.append(np.nan)
            continue
        ratio = ioi / np.percentile(ioi, 20)
        out.append(np.mean(np.abs(ratio - np.round(ratio)) <= tolerance))
    return np.array(out)


def audio_measures(audio, sample_rate: int) -> dict:
    """Every audio measure of each clip ``(n, samples)``: tuning (:func:`peak_tuning`) and key
    (:func:`audio_key`); ``{name: (n,) array}``."""
    tuning = peak_tuning(audio, sample_rate)
    key = audio_key(audio, sample_rate)
    return {"in_tune": tuning["in_tune"], "cents_off": tuning["cents_off"], "key_corr": key["key_corr"],
            "in_scale": key["in_scale"]}
