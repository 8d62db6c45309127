"""A generator output layer that plays notes: note activations -> normalised log-mel, in tune by construction.

The generators of this package can end in a plain layer that emits every mel band freely (``model.output =
"mel"``), or in :class:`NoteSynth` (``"notes"``): the network emits one log-activation per equal-tempered note
and frame, and the layer renders them as the mel power of harmonic tones,

    power[b, t] = sum_i  exp(u[i, t] + level) * sum_k  g_k * P[k, b, i]  +  sum_j  exp(v[j, t]) * N[b, j]  +  floor[b],

where ``P[k, :, i]`` is the mel power of the k-th partial of note i (:func:`musicgan.notes.partial_templates`),
``g_k`` the timbre (learned partial powers shared by all notes; with ``max_notes`` only the loudest
``max_notes`` notes of a frame sound, a polyphony limit), ``v`` the log-levels of noise in ``n_noise``
groups of neighbouring mel bands (``N`` their indicator; DDSP's filtered noise: the broadband click where a
note starts, which no sum of partials can make), ``floor`` a learned per-band floor and ``level`` a learned
gain; the result goes to dB and through the data set's per-band normalisation. The pitch grid
is fixed (12-TET at A4 = 440 Hz plus ``tuning_cents``, read from the data), so what the generator learns is which
notes sound when -- harmony, key, rhythm -- and the loudness and timbre of its instrument, not where in the
spectrum a partial sits. This is the idea of differentiable synthesis in DDSP (Engel et al. 2020) and of
piano-roll generators such as MuseGAN (Dong et al. 2018), with the mel matrix, which the discriminator judges,
as the output.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from sims.checks import check_int

__all__ = ["NoteSynth", "SYNTH_NOTES", "N_NOISE"]

SYNTH_NOTES = np.arange(36, 84)      # MIDI C2..B5, 48 notes: the chorales' four voices (a multiple of 16)
MAX_LOG_ACTIVATION = 30.0            # exp() overflows float32 near 88; no real note is 130 dB above unit level
START_LOG_ACTIVATION = -6.0          # generators start with every note 26 dB below unit level: quiet, not dense
N_NOISE = 16                         # noise bands: with 48 notes, 64 rows (the conv generator doubles rows 4 times)
NOISE_START = -6.0                   # noise starts a further 26 dB down: the chorales are silent between onsets


class NoteSynth(nn.Module):
    """Log-activations ``(batch, n_notes + n_noise, n_frames)`` (notes first, then noise bands) -> normalised
    log-mel ``(batch, 1, n_mels, n_frames)``.

    Built empty (shapes only, so that a saved ``state_dict`` restores it); :meth:`set_rendering` fills the
    partial templates and the data set's normalisation before training. Raises ValueError if used before that.
    """

    def __init__(self, n_mels: int, n_notes: int = len(SYNTH_NOTES), n_partials: int = 8, n_noise: int = N_NOISE,
                 max_notes: int = 0):
        super().__init__()
        check_int(max_notes, "max_notes", low=0)
        self.max_notes = max_notes
        check_int(n_mels, "n_mels", low=1)
        check_int(n_notes, "n_notes", low=1)
        check_int(n_noise, "n_noise", low=0)
        self.n_notes, self.n_noise = n_notes, n_noise
        groups = np.minimum(np.arange(n_mels) * max(n_noise, 1) // n_mels, max(n_noise, 1) - 1)
        self.register_buffer("noise_bands", torch.as_tensor(np.eye(max(n_noise, 1))[groups][:, :n_noise],
                                                            dtype=torch.float32))      # (n_mels, n_noise)
        self.noise_offset = nn.Parameter(torch.full((n_noise,), NOISE_START))
        self.register_buffer("partials", torch.zeros(n_partials, n_mels, n_notes))   # (K, n_mels, n_notes)
        self.register_buffer("band_mean", torch.zeros(n_mels))                      # dB
        self.register_buffer("band_scale", torch.ones(n_mels))                      # dB per unit: n_std x std
        self.register_buffer("ready", torch.zeros((), dtype=torch.bool))
        k = torch.arange(1, n_partials + 1, dtype=torch.float32)
        self.log_partial_power = nn.Parameter(-2.0 * torch.log(k))                  # 1/k amplitudes at start
        self.log_floor = nn.Parameter(torch.zeros(n_mels))                          # power per band, natural log
        self.level = nn.Parameter(torch.zeros(()))

    @torch.no_grad()
    def set_rendering(self, mel_cfg, normalizer, *, tuning_cents: float = 0.0) -> None:
        """Fill the templates for ``mel_cfg`` (notes ``SYNTH_NOTES[:n_notes]`` at ``tuning_cents``) and the
        normalisation of ``normalizer``; start the floor at each band's mean minus 3 standard deviations."""
        from musicgan.notes import partial_templates

        templates = partial_templates(mel_cfg, SYNTH_NOTES[: self.n_notes], self.partials.shape[0], tuning_cents)
        if templates.shape != self.partials.shape:
            raise ValueError(f"templates of shape {tuple(templates.shape)} for a layer of {tuple(self.partials.shape)}")
        self.partials.copy_(templates)
        self.band_mean.copy_(torch.as_tensor(normalizer.mean, dtype=torch.float32))
        std = torch.as_tensor(normalizer.std, dtype=torch.float32)
        self.band_scale.copy_(normalizer.n_std * std)
        self.log_floor.copy_((self.band_mean - 3 * std) * (math.log(10) / 10))
        self.ready.fill_(True)

    def note_templates(self) -> torch.Tensor:
        """The learned timbre's template of every note: ``(n_mels, n_notes)`` mel power at unit activation."""
        return torch.einsum("k,kbn->bn", self.log_partial_power.exp(), self.partials)

    def forward(self, log_activation: torch.Tensor) -> torch.Tensor:
        if not bool(self.ready):
            raise ValueError("NoteSynth.set_rendering() was never called: the layer holds no templates")
        if log_activation.shape[-2] != self.n_notes + self.n_noise:
            raise ValueError(f"expected {self.n_notes} + {self.n_noise} rows, got {log_activation.shape[-2]}")
        u = (log_activation[..., :self.n_notes, :] + self.level).clamp(max=MAX_LOG_ACTIVATION)
        if 0 < self.max_notes < self.n_notes:   # only the loudest max_notes notes of each frame sound
            kth = u.topk(self.max_notes, dim=-2).values[..., -1:, :]
            u = u.masked_fill(u < kth, -torch.inf)
        v = (log_activation[..., self.n_notes:, :] + self.noise_offset[:, None]).clamp(max=MAX_LOG_ACTIVATION)
        power = self.note_templates() @ u.exp() + self.noise_bands @ v.exp() + self.log_floor.exp()[:, None]
        db = 10.0 * torch.log10(power)
        x = (db - self.band_mean[:, None]) / self.band_scale[:, None]
        return x.clamp(-1.0, 1.0).unsqueeze(1)
