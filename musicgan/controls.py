"""Control inputs for the musical measures: real music spoiled in one known way.

A measure is trusted only once it scores these worse than the real music they come from:

- :func:`detune` -- the same audio with every frequency raised by a number of cents (+50 cents puts every
  partial of an equal-tempered piece exactly half-way between two notes of the grid);
- :func:`scramble_pitches` -- a score whose notes each move by a random number of semitones, so the rhythm
  and the number of voices stay but the key is gone;
- :func:`shaped_noise` -- Gaussian noise whose long-term spectrum is that of the real audio: loud where the
  music is loud, with no pitch and no key.
"""
from __future__ import annotations

import copy

import numpy as np

from sims.checks import check_finite, check_int
from sims.seeding import as_generator

__all__ = ["detune", "scramble_pitches", "shaped_noise"]


def detune(audio, sample_rate: int, cents: float) -> np.ndarray:
    """``audio`` ``(..., samples)`` with every frequency multiplied by 2^(cents / 1200), float32.

    The samples are resampled as if they had been recorded at ``sample_rate * 2^(cents / 1200)`` Hz
    (librosa's soxr resampler), so pitch and tempo both change by that ratio (+50 cents: 2.9 % faster,
    2.9 % fewer samples) and nothing else does: no phase-vocoder artefacts enter the control.
    """
    import librosa

    check_int(sample_rate, "sample_rate", low=1)
    ratio = 2.0 ** (float(check_finite(cents, "cents")) / 1200.0)
    x = np.asarray(audio, dtype=np.float32)
    return librosa.resample(x, orig_sr=sample_rate * ratio, target_sr=sample_rate, res_type="soxr_hq",
                            axis=-1).astype(np.float32)


def scramble_pitches(midi, rng, *, low: int = -6, high: int = 5):
    """A copy of a ``pretty_midi.PrettyMIDI`` whose every note moves by an independent random shift.

    Shifts are integers drawn uniformly from ``[low, high]`` semitones (one octave's worth by default), so
    each note lands on a random pitch class near where it was: onsets, durations and the number of voices
    are kept, the key is destroyed. ``rng``: a seed or ``numpy.random.Generator``. Pitches stay in 0..127.
    """
    check_int(low, "low")
    check_int(high, "high", low=low)
    gen = as_generator(rng)
    out = copy.deepcopy(midi)
    for instrument in out.instruments:
        for note in instrument.notes:
            note.pitch = int(np.clip(note.pitch + gen.integers(low, high + 1), 0, 127))
    return out


def shaped_noise(audio, n: int, n_samples: int, rng, *, n_fft: int = 256) -> np.ndarray:
    """``n`` noise signals ``(n, n_samples)`` float32 with the average power spectrum of ``audio``.

    ``audio``: ``(..., samples)`` real music; its Welch power spectrum (scipy, Hann windows of ``n_fft``
    samples: 62.5 Hz resolution at 16 kHz by default, too coarse to carry the music's notes, so the noise has
    the music's spectral envelope but no pitch) shapes white Gaussian noise in the frequency domain. Each signal
    is scaled to the RMS of ``audio``.
    """
    import scipy.signal

    check_int(n, "n", low=1)
    check_int(n_samples, "n_samples", low=n_fft)
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    _, psd = scipy.signal.welch(x, nperseg=n_fft)
    gen = as_generator(rng)
    spectrum = np.fft.rfft(gen.standard_normal((n, n_samples)), axis=-1)
    freqs = np.linspace(0.0, 1.0, spectrum.shape[-1])
    gain = np.sqrt(np.interp(freqs, np.linspace(0.0, 1.0, psd.size), psd))
    noise = np.fft.irfft(spectrum * gain, n=n_samples, axis=-1)
    noise *= np.sqrt(np.mean(x**2)) / np.sqrt(np.mean(noise**2, axis=-1, keepdims=True))
    return noise.astype(np.float32)
