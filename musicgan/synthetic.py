"""Synthetic music for tests: random chords of harmonic notes, turned into a prepared mel data set.

Each "piece" has a key (a major scale on a random tonic); each clip holds one or two chords of that key,
every note a sum of decaying harmonics on the equal-tempered grid. The clips are cheap to make, clearly
pitched, and structured enough (keys, chord changes) for a GAN to learn something in a few steps.
"""
from __future__ import annotations

import numpy as np

from musicgan.dataset import Normalizer, PreparedSet
from musicgan.mel import MelConfig, log_mel_spectrogram
from musicgan.metrics import midi_to_hz
from sims.checks import check_int
from sims.seeding import as_generator

__all__ = ["synthetic_mel_config", "synthetic_audio", "synthetic_prepared_set"]

MAJOR_SCALE = np.array([0, 2, 4, 5, 7, 9, 11])       # semitones above the tonic
HARMONICS = 6                                          # partials per note, amplitude 1/k


def synthetic_mel_config(size: int = 64) -> MelConfig:
    """The default mel parameters with ``size`` mel bands and ``size`` frames per clip."""
    check_int(size, "size", low=8)
    return MelConfig(n_mels=size, clip_frames=size)


def _chord(tonic: int, rng: np.random.Generator) -> np.ndarray:
    """MIDI numbers of a triad (or its subset) on a random degree of the major scale on ``tonic``."""
    degree = rng.integers(7)
    steps = degree + np.array([0, 2, 4])
    midi = tonic + 12 * (steps // 7) + MAJOR_SCALE[steps % 7]
    return midi[: rng.integers(1, 4)]


def _render_chord(midi: np.ndarray, n_samples: int, sr: int) -> np.ndarray:
    t = np.arange(n_samples) / sr
    k = np.arange(1, HARMONICS + 1)[:, None, None]                     # (harmonics, 1, 1)
    phase = 2 * np.pi * k * midi_to_hz(midi)[None, :, None] * t         # (harmonics, notes, samples)
    tone = (np.sin(phase) / k).sum(axis=(0, 1))
    envelope = np.minimum(1.0, t / 0.01) * np.exp(-1.5 * t)           # 10 ms attack, slow decay
    return tone * envelope / (HARMONICS * len(midi))


def synthetic_audio(n_clips: int, n_pieces: int, cfg: MelConfig, rng) -> tuple[np.ndarray, list[str]]:
    """``n_clips`` clips of ``cfg.clip_samples`` samples, float32 ``(n_clips, samples)``, and each clip's piece."""
    check_int(n_clips, "n_clips", low=1)
    check_int(n_pieces, "n_pieces", low=1)
    rng = as_generator(rng)
    tonics = rng.integers(48, 60, size=n_pieces)                       # C3..B3
    n = cfg.clip_samples
    audio, sources = np.zeros((n_clips, n), dtype=np.float32), []
    for i in range(n_clips):
        piece = i % n_pieces
        change = rng.integers(n // 4, n) if rng.random() < 0.5 else n  # half the clips change chord once
        audio[i, :change] = _render_chord(_chord(tonics[piece], rng), change, cfg.sample_rate)
        if change < n:
            audio[i, change:] = _render_chord(_chord(tonics[piece], rng), n - change, cfg.sample_rate)
        sources.append(f"synthetic-{piece:03d}")
    return audio, sources


def synthetic_prepared_set(n_clips: int = 256, n_pieces: int = 16, size: int = 64, seed: int = 0) -> PreparedSet:
    """A :class:`PreparedSet` of synthetic clips, ``mels`` float32 ``(n_clips, size, size)`` in dB."""
    cfg = synthetic_mel_config(size)
    audio, sources = synthetic_audio(n_clips, n_pieces, cfg, seed)
    mels = log_mel_spectrogram(audio, cfg).numpy().astype(np.float32)
    return PreparedSet(mels=mels, mel_config=cfg, sources=sources, starts=np.zeros(n_clips, dtype=np.int64),
                       normalizer=Normalizer.fit(mels),
                       params={"source": {"kind": "synthetic", "seed": seed, "n_clips": n_clips, "n_pieces": n_pieces}})
