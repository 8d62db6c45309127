"""The mel scale, the mel filterbank, a batched log-mel spectrogram in torch, and its inverse to audio.

The mel scale is the HTK formula the assignment gives, m = 2595 log10(1 + f / 700). Filterbank and log-mel
follow librosa's conventions (``librosa.filters.mel(htk=True)``, ``melspectrogram`` with a periodic Hann
window, ``center=True`` and zero padding, ``power_to_db(ref=1.0)``), so the tests can hold them to librosa's
numbers; the spectrogram is computed in torch, for a whole batch of clips at once, on CPU or GPU.

Shapes: audio ``(batch, samples)``; power spectrogram ``(batch, 1 + n_fft // 2, n_frames)``;
mel spectrogram ``(batch, n_mels, n_frames)``.
"""
from __future__ import annotations

import dataclasses
import functools
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from sims.checks import check_choice, check_finite, check_int, check_positive

__all__ = ["MelConfig", "MEL_PRESETS", "hz_to_mel", "mel_to_hz", "mel_band_edges", "mel_filterbank", "power_spectrogram",
           "log_mel_spectrogram", "db_to_power", "mel_to_linear", "griffin_lim", "mel_to_audio",
           "spectral_convergence", "GL_ITERS", "NNLS_ITERS"]

MEL_BREAK_HZ = 700.0    # below about this frequency the scale is nearly linear, above it logarithmic
MEL_FACTOR = 2595.0     # chosen so that 1000 Hz maps to (almost exactly) 1000 mel


@dataclass(frozen=True)
class MelConfig:
    """Every parameter that decides what the log-mel matrix of a clip looks like.

    The defaults give 256 x 64 matrices: 16 kHz audio (the chorale voices and their partials lie well below
    the 8 kHz Nyquist frequency), a 2048-sample (128 ms) window whose 7.8 Hz bins separate the partials of
    the lowest bass notes, a 256-sample (16 ms) hop, and 64 frames, so one clip lasts
    ``clip_samples / sample_rate`` = 1.008 s. The 256 bands are what keeps the pitch: decoded back to audio
    (NNLS + Griffin-Lim, :func:`mel_to_audio`), held-out chorales keep about 90 % of their spectral peaks
    within 10 cents of the 12-TET grid, against about 35 % with the 64 bands and 1024-sample window this
    project started with (``MEL_PRESETS["legacy64"]``; the pilots are in the music GAN chapter).
    """

    sample_rate: int = 16_000      # Hz
    n_fft: int = 2048              # samples per analysis window (periodic Hann)
    hop_length: int = 256          # samples between frames
    n_mels: int = 256              # mel bands
    fmin: float = 0.0              # Hz, lower edge of the first band
    fmax: float = 8_000.0          # Hz, upper edge of the last band
    norm: str | None = "slaney"    # filter area normalisation, as librosa's default
    clip_frames: int = 64          # frames per training clip
    top_db: float | None = 80.0    # floor of each clip at its own maximum minus top_db (librosa's power_to_db)
    amin: float = 1e-10            # power floor before the logarithm

    def __post_init__(self):
        check_int(self.sample_rate, "sample_rate", low=1000)
        check_int(self.n_fft, "n_fft", low=16)
        check_int(self.hop_length, "hop_length", low=1, high=self.n_fft)
        check_int(self.n_mels, "n_mels", low=1)
        check_positive(self.fmin, "fmin", allow_zero=True)
        check_positive(self.fmax, "fmax")
        if not self.fmin < self.fmax <= self.sample_rate / 2:
            raise ValueError(f"need 0 <= fmin < fmax <= sample_rate / 2, got fmin={self.fmin}, fmax={self.fmax}, "
                             f"sample_rate={self.sample_rate}")
        check_choice(self.norm, "norm", ("slaney", None))
        check_int(self.clip_frames, "clip_frames", low=2)
        if self.top_db is not None:
            check_positive(self.top_db, "top_db")
        check_positive(self.amin, "amin")

    @property
    def clip_samples(self) -> int:
        """Samples per clip: with ``center=True`` a clip of this length gives exactly ``clip_frames`` frames."""
        return self.hop_length * (self.clip_frames - 1)

    @property
    def clip_seconds(self) -> float:
        return self.clip_samples / self.sample_rate

    @property
    def n_freqs(self) -> int:
        return 1 + self.n_fft // 2

    def frame_times(self, n_frames: int | None = None) -> np.ndarray:
        """Centre time of each frame in seconds, shape ``(n_frames,)``."""
        n = self.clip_frames if n_frames is None else n_frames
        return np.arange(n) * self.hop_length / self.sample_rate

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "MelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown MelConfig field(s): {', '.join(unknown)}")
        return cls(**values)


# Named representations. "pitch256" is the default (see MelConfig); "legacy64" is the 64-band, 1024-sample
# representation of the first reference runs, kept so that runs trained on it can still be loaded and scored.
MEL_PRESETS = {"pitch256": MelConfig(), "legacy64": MelConfig(n_fft=1024, n_mels=64)}


def hz_to_mel(f_hz):
    """Mel value of a frequency in Hz: m = 2595 log10(1 + f / 700). Scalars give floats, arrays arrays."""
    f = check_finite(f_hz, "f_hz")
    if np.any(f < 0):
        raise ValueError(f"f_hz must be >= 0, got min {f.min():.6g}")
    m = MEL_FACTOR * np.log10(1.0 + f / MEL_BREAK_HZ)
    return float(m) if m.ndim == 0 else m


def mel_to_hz(mel):
    """Inverse of :func:`hz_to_mel`: f = 700 (10^(m / 2595) - 1)."""
    m = check_finite(mel, "mel")
    if np.any(m < 0):
        raise ValueError(f"mel must be >= 0, got min {m.min():.6g}")
    f = MEL_BREAK_HZ * (10.0 ** (m / MEL_FACTOR) - 1.0)
    return float(f) if f.ndim == 0 else f


def mel_band_edges(n_mels: int, fmin: float = 0.0, fmax: float = 8000.0) -> np.ndarray:
    """The ``n_mels + 2`` frequencies (Hz), equally spaced in mel, that bound the triangles.

    Filter ``i`` rises from edge ``i`` to a peak at edge ``i + 1`` and falls to zero at edge ``i + 2``.
    """
    check_int(n_mels, "n_mels", low=1)
    mel_points = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)
    return mel_to_hz(mel_points)


def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None,
                   norm: str | None = "slaney") -> np.ndarray:
    """Triangular filters on the HTK mel scale, shape ``(n_mels, 1 + n_fft // 2)``, float64.

    With ``norm="slaney"`` each triangle is scaled by 2 / (its width in Hz), so every filter has the same
    area; with ``norm=None`` every peak is 1. Equals ``librosa.filters.mel(..., htk=True, norm=norm)``.
    """
    check_int(sr, "sr", low=1)
    check_int(n_fft, "n_fft", low=2)
    fmax = sr / 2 if fmax is None else check_positive(fmax, "fmax")
    check_choice(norm, "norm", ("slaney", None))
    edges = mel_band_edges(n_mels, fmin, fmax)                      # (n_mels + 2,)
    bin_hz = np.linspace(0.0, sr / 2, 1 + n_fft // 2)               # (n_freqs,)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bin_hz - left) / (centre - left)
    falling = (right - bin_hz) / (right - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))          # (n_mels, n_freqs)
    if norm == "slaney":
        weights *= 2.0 / (right - left)
    if np.any(weights.max(axis=1) == 0):
        warnings.warn(f"{int(np.sum(weights.max(axis=1) == 0))} mel filter(s) contain no FFT bin: "
                      "raise n_fft or lower n_mels", stacklevel=2)
    return weights


@functools.lru_cache(maxsize=16)
def _filterbank_tensor(cfg: MelConfig, device: str, dtype: torch.dtype) -> torch.Tensor:
    fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax, cfg.norm)
    return torch.as_tensor(fb, dtype=dtype, device=device)


@functools.lru_cache(maxsize=16)
def _filter_blocks(cfg: MelConfig, device: str, dtype: torch.dtype, n_blocks: int = 4):
    """The filterbank as a few dense blocks ``(bin_lo, bin_hi, weights (bins, bands))`` over consecutive bands.

    Each band touches only the FFT bins under its triangle, so projecting a spectrum onto the bands
    block by block skips most of the zeros of the full matrix (a quarter of the work for four blocks).
    """
    fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax, cfg.norm)
    blocks = []
    for bands in np.array_split(np.arange(cfg.n_mels), min(n_blocks, cfg.n_mels)):
        used = np.flatnonzero(fb[bands].max(axis=0) > 0)
        lo, hi = (int(used[0]), int(used[-1]) + 1) if used.size else (0, 1)
        blocks.append((lo, hi, torch.as_tensor(fb[bands, lo:hi].T.copy(), dtype=dtype, device=device)))
    return blocks


@functools.lru_cache(maxsize=16)
def _window(n_fft: int, device: str, dtype: torch.dtype) -> torch.Tensor:
    return torch.hann_window(n_fft, periodic=True, dtype=dtype, device=device)  # = scipy's hann(sym=False)


def _as_batch(audio) -> tuple[torch.Tensor, bool]:
    """``audio`` as a float tensor of shape (batch, samples); also whether the input had no batch axis."""
    x = torch.as_tensor(audio)
    if not torch.is_floating_point(x):
        raise TypeError(f"audio must hold floats, got dtype {x.dtype}")
    if x.ndim not in (1, 2):
        raise ValueError(f"audio must have shape (samples,) or (batch, samples), got {tuple(x.shape)}")
    return (x[None] if x.ndim == 1 else x), x.ndim == 1


def _frame_power(x: torch.Tensor, cfg: MelConfig) -> torch.Tensor:
    """|rfft(window * frame)|^2 of centred, zero-padded frames: ``(batch, n_frames, n_freqs)``.

    Frames along the second axis keep each frame's spectrum contiguous, so the mel projection below is one
    large matrix product; this layout, done in small chunks of clips, is about twice as fast as torch.stft.
    """
    window = _window(cfg.n_fft, str(x.device), x.dtype)
    half = cfg.n_fft // 2
    frames = torch.nn.functional.pad(x, (half, half)).unfold(-1, cfg.n_fft, cfg.hop_length) * window
    spec = torch.fft.rfft(frames)
    return spec.real.square().addcmul_(spec.imag, spec.imag)


def power_spectrogram(audio, cfg: MelConfig) -> torch.Tensor:
    """|STFT|^2 with a periodic Hann window, centred frames and zero padding: ``(batch, n_freqs, n_frames)``."""
    x, _ = _as_batch(audio)
    return _frame_power(x, cfg).transpose(-1, -2)


def log_mel_spectrogram(audio, cfg: MelConfig, *,
                        chunk: int = 16) -> torch.Tensor:
    """Log-mel spectrograms in dB of a batch of clips, where the audio is.

    audio: ``(batch, samples)`` or ``(samples,)``, numpy or torch, float32
    or float64. Returns ``(batch, n_mels, 1 + samples // hop_length)`` (no
    batch axis for 1-D input), same dtype: librosa's ``power_to_db(
    melspectrogram(y=clip, htk=True, ...), top_db=cfg.top_db)`` of each
    clip. Clips go ``chunk`` at a time: small chunks keep spectra cached.
    """
    x, single = _as_batch(audio)
    blocks = _filter_blocks(cfg, str(x.device), x.dtype)
    out = []
    for start in range(0, x.shape[0], chunk):
        power = _frame_power(x[start:start + chunk], cfg)  # (b, t, freqs)
        mel = torch.cat([power[..., a:b] @ w for a, b, w in blocks], -1)
        db = torch.log10(mel.clamp_(min=cfg.amin)).mul_(10.0)  # (b, t, m)
        if cfg.top_db is not None:         # floor below each clip's peak
            peak = db.amax(dim=(-2, -1), keepdim=True)
            db = torch.maximum(db, peak - cfg.top_db)
        out.append(db.transpose(-1, -2))
    if not out:
        n_frames = 1 + x.shape[-1] // cfg.hop_length
        return x.new_zeros((0, cfg.n_mels, n_frames))
    result = torch.cat(out)
    return result[0] if single else result


def db_to_power(mel_db):
    """Inverse of the dB conversion (reference power 1): 10^(dB / 10); numpy or torch in, same out."""
    return 10.0 ** (mel_db / 10.0)


@functools.lru_cache(maxsize=16)
def _sparse_filterbank(cfg: MelConfig):
    """The filterbank as a CSR matrix ``(n_mels, n_freqs)`` (each bin lies under at most two triangles, so
    about 99 % of the dense matrix is zeros), its transpose, and 1 / ||M||_2^2, the FISTA step."""
    import scipy.sparse

    fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax, cfg.norm)
    step = 1.0 / np.linalg.norm(fb, ord=2) ** 2
    pinv = np.linalg.pinv(fb)
    m = scipy.sparse.csr_matrix(fb)
    return m, m.T.tocsr(), step, pinv


NNLS_ITERS = 50    # FISTA steps of the decoder's NNLS: 200 gain 0.003 in tune on 30 s of chorales (see GL_ITERS)
GL_ITERS = 32      # Griffin-Lim steps: 64 (with 200 NNLS steps) keep 0.954 of real peaks in tune, 32 with 50 keep
                   # 0.931 at a third of the time, which 30 s in 3 CPU s needs (benchmarks/bench_decoder.py)


def mel_to_linear(mel_power: torch.Tensor, cfg: MelConfig, *, method: str = "nnls",
                  n_iter: int = NNLS_ITERS) -> torch.Tensor:
    """Power spectrogram S >= 0 whose mel projection matches ``mel_power``: ``(batch, n_freqs, n_frames)``.

    ``method="pinv"`` clips the pseudo-inverse at zero; ``"nnls"`` minimises ||M S - mel||^2 over S >= 0 by
    accelerated projected gradient (FISTA, Beck & Teboulle 2009), started from the clipped pseudo-inverse, with
    the filterbank M as a sparse matrix (scipy), all frames of all clips as one system. With fewer bands than
    bins the problem is underdetermined, so many S fit; all of them have the same mel spectrogram.
    Same dtype and device as ``mel_power`` (computed on the CPU).
    """
    check_choice(method, "method", ("pinv", "nnls"))
    check_int(n_iter, "n_iter", low=0)
    fb, fb_t, step, pinv = _sparse_filterbank(cfg)
    out = []
    for y in mel_power.detach().cpu().numpy():          # clip by clip: a clip decodes the same alone or batched
        dtype = y.dtype
        s = np.maximum(pinv.astype(dtype) @ y, 0.0)     # (n_freqs, n_frames)
        if method == "nnls":
            a, a_t = fb.astype(dtype), fb_t.astype(dtype)
            z, t = s, 1.0
            for _ in range(n_iter):
                s_next = np.maximum(z - dtype.type(step) * (a_t @ (a @ z - y)), 0.0)
                t_next = (1.0 + (1.0 + 4.0 * t * t) ** 0.5) / 2.0
                z = s_next + dtype.type((t - 1.0) / t_next) * (s_next - s)
                s, t = s_next, t_next
        out.append(s)
    return torch.from_numpy(np.stack(out)).to(mel_power.device)


def griffin_lim(magnitude: torch.Tensor, cfg: MelConfig, *, n_iter: int = 32, momentum: float = 0.99,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Audio whose STFT magnitude approaches ``magnitude`` ``(batch, n_freqs, n_frames)``: ``(batch, samples)``.

    The fast Griffin-Lim of Perraudin et al. with librosa's update, random initial phases drawn from
    ``generator`` (seed 0 when None, so a reconstruction is reproducible).
    """
    check_int(n_iter, "n_iter", low=0)
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    window = _window(cfg.n_fft, str(magnitude.device), magnitude.dtype)
    length = cfg.hop_length * (magnitude.shape[-1] - 1)
    stft = functools.partial(torch.stft, n_fft=cfg.n_fft, hop_length=cfg.hop_length, window=window,
                             center=True, pad_mode="constant", return_complex=True)
    istft = functools.partial(torch.istft, n_fft=cfg.n_fft, hop_length=cfg.hop_length, window=window,
                              center=True, length=length)
    phase = 2 * torch.pi * torch.rand(magnitude.shape, generator=gen, dtype=magnitude.dtype)
    angles = magnitude * torch.polar(torch.ones_like(phase), phase).to(magnitude.device)
    previous, inertia = None, momentum / (1 + momentum)
    for _ in range(n_iter):
        rebuilt = stft(istft(angles))
        angles = rebuilt if previous is None else torch.add(rebuilt, previous, alpha=-inertia)
        # complex * real scale rather than complex / real: the same values, half the time on one core
        angles = angles.mul_(magnitude / angles.abs().add_(1e-16)) if previous is not None else \
            angles * (magnitude / (angles.abs() + 1e-16))
        previous = rebuilt
    return istft(angles)


def mel_to_audio(mel_db, cfg: MelConfig, *, n_iter: int = GL_ITERS, method: str = "nnls",
                 nnls_iter: int = NNLS_ITERS, generator: torch.Generator | None = None) -> np.ndarray:
    """Waveform(s) from log-mel spectrogram(s) in dB: dB -> power -> linear spectrogram -> Griffin-Lim.

    mel_db: ``(n_mels, n_frames)`` or ``(batch, n_mels, n_frames)``, numpy or torch.
    Returns float32 numpy of shape ``(hop_length * (n_frames - 1),)`` or ``(batch, that)``.
    """
    mel = torch.as_tensor(mel_db)
    single = mel.ndim == 2
    if mel.ndim not in (2, 3) or mel.shape[-2] != cfg.n_mels:
        raise ValueError(f"mel_db must have shape (n_mels={cfg.n_mels}, frames) or (batch, n_mels, frames), "
                         f"got {tuple(mel.shape)}")
    mel = (mel[None] if single else mel).to(torch.float64 if mel.dtype == torch.float64 else torch.float32)
    power = mel_to_linear(db_to_power(mel), cfg, method=method, n_iter=nnls_iter)
    # clip by clip, each with phases drawn in turn from one generator: a clip decodes to the same samples alone
    # or in a batch (torch's batched FFTs of some sizes round differently from single ones)
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    audio = torch.cat([griffin_lim(p[None].sqrt(), cfg, n_iter=n_iter, generator=gen) for p in power])
    audio = audio.detach().cpu().numpy().astype(np.float32)
    return audio[0] if single else audio


def spectral_convergence(reference, estimate, cfg: MelConfig) -> float:
    """|| |X| - |Y| ||_F / || |X| ||_F between the STFT magnitudes of two equally long signals."""
    ref = power_spectrogram(torch.as_tensor(reference, dtype=torch.float64), cfg).sqrt()
    est = power_spectrogram(torch.as_tensor(estimate, dtype=torch.float64), cfg).sqrt()
    if ref.shape != est.shape:
        raise ValueError(f"reference and estimate must have the same length, got {tuple(ref.shape)} "
                         f"and {tuple(est.shape)} spectrogram shapes")
    return float(torch.linalg.norm(ref - est) / torch.linalg.norm(ref))
