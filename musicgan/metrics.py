"""Sample-quality metrics that need no downloaded network, all on normalised log-mel clips (n, n_mels, n_frames).

- NDB, the number of statistically different bins (Richardson & Weiss 2018): k-means bins fitted on real
  training clips; a bin counts when the share of generated clips falling in it differs from the share of
  held-out real clips by a two-proportion z-test at level ``alpha``. Reported as NDB/K.
- The Frechet distance between Gaussians fitted to log-mel features (FID's formula, Heusel et al. 2017, on
  per-band statistics instead of Inception activations).
- |D|_self and |D|_train (Donahue et al. 2019): the mean distance from each clip to its nearest neighbour
  within its own set, and in the training set. A collapsed generator has a small |D|_self; one that
  copies training clips has a small |D|_train. Distances are root-mean-square per time-frequency cell.
- The harmonic peak salience of audio: how many dB the partials k f0 of the clearest equal-tempered notes
  stand above the surrounding spectrum; about 2-3 dB for noise, 10 dB and more for clearly pitched notes.
"""
from __future__ import annotations

import numpy as np
import scipy.ndimage
import scipy.stats
import torch

from sims.checks import check_int, check_positive, check_shape
from sims.seeding import as_generator

__all__ = ["pooled_features", "fit_bins", "assign_bins", "two_proportion_z_test", "ndb", "band_features",
           "gaussian_stats", "frechet_distance", "nearest_neighbour_distances", "noise_baseline",
           "harmonic_peak_salience", "midi_to_hz", "note_saliences",
           "average_spectrum_db", "NOTE_RANGE"]


def _clips(x, name: str) -> np.ndarray:
    return check_shape(np.asarray(x, dtype=np.float32), (None, None, None), name)


def pooled_features(clips, pool: int = 2) -> np.ndarray:
    """Clips ``(n, n_mels, n_frames)`` averaged over ``pool x pool`` cells and flattened: ``(n, d)``."""
    x = torch.as_tensor(_clips(clips, "clips"))[:, None]
    return torch.nn.functional.avg_pool2d(x, pool).flatten(1).numpy()


def fit_bins(train_features, k: int, rng, n_init: int = 2) -> np.ndarray:
    """K-means centres ``(k, d)`` of real training features ``(n, d)`` (scikit-learn, seeded by ``rng``)."""
    from sklearn.cluster import KMeans

    check_int(k, "k", low=2)
    seed = int(as_generator(rng).integers(2**31))
    km = KMeans(n_clusters=k, n_init=n_init, max_iter=100, random_state=seed).fit(train_features)
    return km.cluster_centers_.astype(np.float32)


def assign_bins(features, centres) -> np.ndarray:
    """Index of the nearest centre (Euclidean) for each row of ``features``: ``(n,)`` int."""
    d = torch.cdist(torch.as_tensor(features, dtype=torch.float32), torch.as_tensor(centres, dtype=torch.float32))
    return d.argmin(dim=1).numpy()


def two_proportion_z_test(p1, n1: int, p2, n2: int, alpha: float = 0.05) -> np.ndarray:
    """Boolean array: does proportion ``p1`` (of ``n1`` draws) differ from ``p2`` (of ``n2``) at level alpha?

    Pooled-variance z-test, two-sided, as in the NDB reference code.
    """
    p1, p2 = np.asarray(p1, float), np.asarray(p2, float)
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (p1 - p2) / se, 0.0)
    return 2 * scipy.stats.norm.sf(np.abs(z)) < alpha


def ndb(centres, reference_features, query_features, alpha: float = 0.05) -> dict:
    """NDB of ``query`` against ``reference`` on the given bins: counts, NDB/K, both proportion vectors."""
    check_positive(alpha, "alpha")
    k = len(centres)
    p_ref = np.bincount(assign_bins(reference_features, centres), minlength=k) / len(reference_features)
    p_query = np.bincount(assign_bins(query_features, centres), minlength=k) / len(query_features)
    different = two_proportion_z_test(p_ref, len(reference_features), p_query, len(query_features), alpha)
    return {"ndb": int(different.sum()), "ndb_over_k": float(different.mean()), "k": k,
            "p_reference": p_ref, "p_query": p_query, "different": different}


def band_features(clips) -> np.ndarray:
    """Per-band statistics of each clip over time: mean, std and mean |frame-to-frame change|: ``(n, 3 n_mels)``."""
    x = _clips(clips, "clips").astype(np.float64)
    return np.concatenate([x.mean(axis=2), x.std(axis=2), np.abs(np.diff(x, axis=2)).mean(axis=2)], axis=1)


def gaussian_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(d,)`` and covariance ``(d, d)`` of ``features`` ``(n, d)``."""
    f = check_shape(np.asarray(features, dtype=np.float64), (None, None), "features")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def _psd_sqrt(cov: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(cov)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    """||mu1 - mu2||^2 + tr(C1 + C2 - 2 (C1 C2)^(1/2)): the squared 2-Wasserstein distance of two Gaussians.

    tr (C1 C2)^(1/2) is computed as tr (C1^(1/2) C2 C1^(1/2))^(1/2), a symmetric positive semi-definite
    matrix whose eigenvalues are real, so no complex round-off needs discarding.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, float)), np.atleast_1d(np.asarray(mu2, float))
    cov1, cov2 = np.atleast_2d(np.asarray(cov1, float)), np.atleast_2d(np.asarray(cov2, float))
    root1 = _psd_sqrt(cov1)
    middle = root1 @ cov2 @ root1
    cross = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)))
    value = np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2 * cross
    return float(max(value, 0.0))


def nearest_neighbour_distances(queries, references=None, chunk: int = 500) -> np.ndarray:
    """RMS distance ``(n,)`` from each query clip to its nearest reference clip.

    With ``references=None`` the queries are searched among themselves, excluding each clip itself
    (|D|_self). Distances are Euclidean divided by sqrt(n_mels * n_frames).
    """
    q = torch.as_tensor(_clips(queries, "queries")).flatten(1)
    r = q if references is None else torch.as_tensor(_clips(references, "references")).flatten(1)
    best = []
    for start in range(0, len(q), chunk):
        d = torch.cdist(q[start:start + chunk], r)                       # (chunk, n_ref)
        if references is None:
            rows = torch.arange(d.shape[0])
            d[rows, rows + start] = float("inf")
        best.append(d.min(dim=1).values)
    return (torch.cat(best) / q.shape[1] ** 0.5).numpy()


def noise_baseline(train_mels_db, n: int, rng, top_db: float | None = 80.0) -> np.ndarray:
    """``n`` clips in dB of noise shaped by the mean spectrum: mean band power times Exp(1) per cell.

    Exp(1) is the distribution of a Gaussian noise's periodogram bin over its mean, so this is
    what a spectrum-matched noise looks like, floored like the data at each clip's peak minus ``top_db``.
    """
    mels = _clips(train_mels_db, "train_mels_db")
    mean_power = np.mean(10.0 ** (mels.astype(np.float64) / 10.0), axis=(0, 2))          # (n_mels,)
    cells = as_generator(rng).exponential(size=(n, *mels.shape[1:]))
    db = 10.0 * np.log10(mean_power[None, :, None] * cells)
    if top_db is not None:
        db = np.maximum(db, db.max(axis=(1, 2), keepdims=True) - top_db)
    return db.astype(np.float32)


def midi_to_hz(midi):
    """Equal-tempered frequency of a MIDI note number (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=float) - 69.0) / 12.0)


NOTE_RANGE = np.arange(36, 85)          # MIDI C2..C6, 65 Hz to 1 kHz: the chorales' voices


def average_spectrum_db(audio, sample_rate: int, n_fft: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies ``(n_bins,)`` in Hz, power in dB ``(n, n_bins)``) averaged over Hann frames, 75 % overlap."""
    x = torch.as_tensor(np.atleast_2d(np.asarray(audio, dtype=np.float32)))
    n_fft = min(check_int(n_fft, "n_fft", low=64), x.shape[1])     # short clips: one window
    spec = torch.stft(x, n_fft, n_fft // 4, window=torch.hann_window(n_fft), center=False, return_complex=True)
    db = 10.0 * np.log10(spec.abs().square().mean(dim=2).numpy().astype(np.float64) + 1e-12)
    return np.fft.rfftfreq(n_fft, 1.0 / sample_rate), db


def note_saliences(audio, sample_rate: int, *, n_harmonics: int = 6, n_fft: int = 4096,
                   background_hz: float = 60.0, tolerance_bins: int = 2) -> np.ndarray:
    """For each clip and each note of ``NOTE_RANGE``: the mean height in dB of its partials k f0, k = 1..6,
    above the running median of the spectrum over +-``background_hz`` (the highest bin within
    +-``tolerance_bins`` of k f0 counts). Returns ``(n, len(NOTE_RANGE))``."""
    freqs, db = average_spectrum_db(audio, sample_rate, n_fft)
    bin_hz = freqs[1]
    background = scipy.ndimage.median_filter(db, size=(1, 2 * int(background_hz / bin_hz) + 1), mode="nearest")
    height = scipy.ndimage.maximum_filter(db - background, size=(1, 2 * tolerance_bins + 1), mode="nearest")
    partials = midi_to_hz(NOTE_RANGE)[:, None] * np.arange(1, n_harmonics + 1)[None, :]
    bins = np.minimum(np.rint(partials / bin_hz).astype(int), db.shape[1] - 1)        # (notes, k)
    return height[:, bins].mean(axis=2)


def harmonic_peak_salience(audio, sample_rate: int, *, top_notes: int = 3, **kwargs) -> np.ndarray:
    """How far the partials of the clearest notes stand above the spectrum around them, in dB: ``(n,)``.

    audio ``(n, samples)``; the mean of the ``top_notes`` largest :func:`note_saliences` of each clip.
    Noise scores about 2-3 dB (the maximum over a few bins of a fluctuating spectrum); clearly pitched
    notes score 10 dB and more.
    """
    return np.sort(note_saliences(audio, sample_rate, **kwargs), axis=1)[:, -top_notes:].mean(axis=1)
