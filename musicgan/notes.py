"""Notes in a mel matrix: a non-negative fit of 12-TET note templates to every frame.

A note template is the mel power spectrum of a steady harmonic tone at an equal-tempered pitch (A4 = 440 Hz,
optionally offset by some cents), computed with the same :class:`~musicgan.mel.MelConfig` as the clips, so it
holds exactly what the mel filterbank makes of that note. Each frame's mel power is explained as a non-negative
mix of templates by minimising the generalised Kullback-Leibler divergence with multiplicative updates (Lee &
Seung 2001; the usual choice for music transcription by NMF with fixed templates, Smaragdis & Brown 2003).
The activations give the notes sounding in each frame, a chroma that needs no audio, and -- by fitting
templates detuned by a few offsets and asking which explains a frame best -- a tuning measure on the mel
matrix itself, so that no decoder can make a generator look in tune.
"""
from __future__ import annotations

import functools

import numpy as np
import torch

from musicgan.mel import MelConfig, db_to_power, power_spectrogram, _filterbank_tensor
from sims.checks import check_int, check_positive

__all__ = ["NOTE_RANGE", "N_PARTIALS", "note_templates", "partial_templates", "fit_activations", "notes_sounding", "mel_chroma",
           "mel_tuning", "mel_note_measures", "TUNING_OFFSETS"]

NOTE_RANGE = np.arange(36, 85)        # MIDI C2..C6 (65 Hz - 1.05 kHz): the chorales' four voices
N_PARTIALS = 8                        # partials of a template, amplitudes 1/k: a generic bright harmonic tone
TUNING_OFFSETS = (-37.5, -25.0, -12.5, 0.0, 12.5, 25.0, 37.5, 50.0)   # cents; 0 is in tune, chance 1/8
NOTE_FLOOR = 0.2   # a note sounds at >= this share of the frame's largest activation: best F1 against the scores


@functools.lru_cache(maxsize=32)
def _templates(cfg: MelConfig, cents: float, n_partials: int) -> torch.Tensor:
    sr, seconds = cfg.sample_rate, 0.5
    t = np.arange(int(sr * seconds)) / sr
    freqs = 440.0 * 2.0 ** ((NOTE_RANGE - 69) / 12.0 + cents / 1200.0)
    k = np.arange(1, n_partials + 1)
    amps = np.where(k[None] * freqs[:, None] < sr / 2, 1.0 / k[None], 0.0)            # (notes, partials)
    tones = np.einsum("nk,nkt->nt", amps, np.sin(2 * np.pi * (k[None, :, None] * freqs[:, None, None]) * t))
    power = power_spectrogram(torch.as_tensor(tones), cfg)[..., 2:-2].mean(-1)          # (notes, n_freqs)
    mel = power @ _filterbank_tensor(cfg, "cpu", torch.float64).T                        # (notes, n_mels)
    mel = mel / mel.sum(-1, keepdim=True)
    return mel.T.contiguous()                                                            # (n_mels, notes)


@functools.lru_cache(maxsize=8)
def _partials(cfg: MelConfig, midi: tuple, n_partials: int, cents: float) -> torch.Tensor:
    sr, seconds = cfg.sample_rate, 0.5
    t = np.arange(int(sr * seconds)) / sr
    freqs = 440.0 * 2.0 ** ((np.asarray(midi) - 69) / 12.0 + cents / 1200.0)
    k = np.arange(1, n_partials + 1)
    partial_hz = k[:, None] * freqs[None]                                                 # (partials, notes)
    sines = np.sin(2 * np.pi * partial_hz[..., None] * t) * (partial_hz < sr / 2)[..., None]
    power = power_spectrogram(torch.as_tensor(sines.reshape(-1, t.size)), cfg)[..., 2:-2].mean(-1)
    mel = power @ _filterbank_tensor(cfg, "cpu", torch.float64).T                         # (partials*notes, n_mels)
    return mel.reshape(n_partials, len(midi), cfg.n_mels).transpose(1, 2).float().contiguous()


def partial_templates(cfg: MelConfig, midi, n_partials: int = N_PARTIALS, cents: float = 0.0) -> torch.Tensor:
    """Mel power of each partial of each note: ``(n_partials, n_mels, len(midi))``, float32.

    Entry ``[k - 1, :, i]`` is the mean mel power spectrum (power spectrogram and mel filterbank of ``cfg``)
    of a unit-amplitude sine at k times the 12-TET frequency of MIDI note ``midi[i]`` (A4 = 440 Hz, shifted by
    ``cents``); partials above the Nyquist frequency are zero. A weighted sum over k is the template of a
    harmonic tone with those partial powers, so a timbre is ``n_partials`` numbers (:class:`musicgan.note_synth.NoteSynth`).
    """
    check_int(n_partials, "n_partials", low=1)
    return _partials(cfg, tuple(int(m) for m in midi), n_partials, float(cents)).clone()


def note_templates(cfg: MelConfig, cents: float = 0.0, n_partials: int = N_PARTIALS) -> np.ndarray:
    """Mel power templates ``(n_mels, len(NOTE_RANGE))`` of the notes C2..C6, each summing to 1.

    Note ``i`` is MIDI ``NOTE_RANGE[i]`` at 440 * 2^((midi - 69) / 12 + cents / 1200) Hz with ``n_partials``
    partials of amplitude 1/k, through the power spectrogram and mel filterbank of ``cfg``.
    """
    check_int(n_partials, "n_partials", low=1)
    return _templates(cfg, float(cents), n_partials).numpy().copy()


def fit_activations(mels_db, cfg: MelConfig, *, cents: float = 0.0, n_iter: int = 60) -> tuple[torch.Tensor, torch.Tensor]:
    """Non-negative note activations of every frame, and each frame's fit error.

    mels_db: ``(n, n_mels, n_frames)`` log-mel in dB (as the data sets hold them). Returns activations
    ``(n, n_notes, n_frames)`` in mel-power units and the generalised KL divergence of each frame's fit,
    relative to the frame's power, ``(n, n_frames)``. ``n_iter`` multiplicative KL updates from a flat start.
    """
    check_int(n_iter, "n_iter", low=1)
    x = db_to_power(torch.as_tensor(np.asarray(mels_db, dtype=np.float64)))
    x = x[None] if x.ndim == 2 else x
    w = _templates(cfg, float(cents), N_PARTIALS)                     # (m, k)
    eps = 1e-12 * x.amax(dim=(-2, -1), keepdim=True).clamp(min=1e-30)
    h = x.sum(-2, keepdim=True).expand(-1, w.shape[1], -1) / w.shape[1]   # (n, k, t)
    col = w.sum(0)[None, :, None]                                     # (1, k, 1): each template sums to 1
    for _ in range(n_iter):
        h = h * (w.T @ (x / (w @ h + eps))) / col
    model = w @ h + eps
    kl = (x * torch.log((x + eps) / model) - x + model).sum(-2) / (x.sum(-2) + eps[..., 0])
    return h, kl


def notes_sounding(activations, *, floor: float = NOTE_FLOOR, silence_db: float = -50.0) -> np.ndarray:
    """Boolean piano roll ``(n, n_notes, n_frames)``: activation >= ``floor`` x the frame's largest, in frames
    whose total activation is within ``silence_db`` of the clip's loudest frame (silent frames hold no note)."""
    h = torch.as_tensor(activations)
    total = h.sum(-2, keepdim=True)
    loud = total >= total.amax(-1, keepdim=True) * 10.0 ** (silence_db / 10.0)
    return ((h >= floor * h.amax(-2, keepdim=True)) & loud & (total > 0)).numpy()


def mel_chroma(activations) -> np.ndarray:
    """Chroma ``(n, 12, n_frames)`` from note activations: each note's activation added to its pitch class
    (C first)."""
    h = np.asarray(activations)
    chroma = np.zeros(h.shape[:-2] + (12, h.shape[-1]))
    for i, midi in enumerate(NOTE_RANGE):
        chroma[..., midi % 12, :] += h[..., i, :]
    return chroma


def mel_tuning(mels_db, cfg: MelConfig, *, offsets=TUNING_OFFSETS, n_iter: int = 40) -> np.ndarray:
    """Share of each clip's sounding frames best explained by in-tune templates, ``(n,)``.

    Every frame is fitted with templates at each of ``offsets`` (cents from the 12-TET grid); the offset with
    the lowest KL error is the frame's tuning. With the default 8 offsets, 12.5 cents apart, chance is 1/8:
    in-tune frames pick 0, frames detuned by +50 cents pick 50 (or its neighbours).
    """
    errors = torch.stack([fit_activations(mels_db, cfg, cents=c, n_iter=n_iter)[1] for c in offsets])  # (o, n, t)
    best = errors.argmin(0)
    in_tune = (best == list(offsets).index(0.0)).double()
    x = db_to_power(torch.as_tensor(np.asarray(mels_db, dtype=np.float64)))
    x = x[None] if x.ndim == 2 else x
    total = x.sum(-2)
    loud = total >= total.amax(-1, keepdim=True) * 1e-4           # frames within 40 dB of the loudest
    return ((in_tune * loud).sum(-1) / loud.sum(-1)).numpy()


def mel_note_measures(mels_db, cfg: MelConfig) -> dict:
    """Notes, pitch classes and key of each clip from its mel matrix: ``{name: (n,)}`` with

    - ``notes_per_frame``: notes sounding per non-silent frame (four-voice chorales: about 4, as their scores);
    - ``pitch_classes``: distinct pitch classes sounding per non-silent frame;
    - ``key_corr``, ``in_scale``: :func:`musicgan.measures.key_strength` of the activation chroma summed over
      the clip;
    - ``mel_in_tune``: :func:`mel_tuning`.
    """
    from musicgan.measures import key_strength

    h, _ = fit_activations(mels_db, cfg)
    roll = notes_sounding(h)
    active = roll.any(-2)                                              # (n, t) frames with a note
    counts = roll.sum(-2)
    pcs = np.zeros_like(counts)
    for pc in range(12):
        pcs += roll[:, NOTE_RANGE % 12 == pc].any(-2)
    with np.errstate(invalid="ignore"):
        per_frame = lambda v: (v * active).sum(-1) / active.sum(-1)   # noqa: E731
        key = key_strength(mel_chroma(h.numpy()).sum(-1))
    return {"notes_per_frame": per_frame(counts), "pitch_classes": per_frame(pcs), "key_corr": key["key_corr"],
            "in_scale": key["in_scale"], "mel_in_tune": mel_tuning(mels_db, cfg)}
