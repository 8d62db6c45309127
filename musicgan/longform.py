"""Long pieces scored as music: held-out chorales of the same length, their controls, and generated pieces.

A 30-s piece is judged on what a listener of the chorales would notice: whether it is in tune and in a key
(:mod:`musicgan.scorecard`'s measures on the whole piece), whether it has seams where training clips would
join (:func:`musicgan.continuity.join_jump_ratio` at every multiple of the clip length), whether it drifts away
from the music it learnt from (:func:`musicgan.continuity.distance_per_second`, the last 10 s against the
first second), and whether its key holds (:func:`musicgan.continuity.key_persistence`).

The controls: real held-out pieces (the best a generator can do), the same pieces through the decoder (the best
a generator's decoded audio can do), the same pieces detuned by +50 cents (must fail the tuning measures), and
clips of different held-out pieces joined end to end (must fail the continuity measures).
"""
from __future__ import annotations

import numpy as np

from musicgan.continuity import distance_per_second, join_jump_ratio, key_persistence
from sims.checks import check_int

__all__ = ["LONG_MEASURES", "real_pieces", "joined_clips", "piece_measures", "long_control_sets",
           "generated_pieces", "long_report"]

# key -> (column label, what is better); the scorecard's measures are added on whole pieces
LONG_MEASURES = {
    "join_ratio": ("jump at joins / step inside", "low"),
    "drift": ("distance, last 10 s / first s", "low"),
    "key_persistence": ("key persistence", "high"),
}
DRIFT_SECONDS = 10


def real_pieces(prepared, indices, n_frames: int):
    """Held-out pieces at least ``n_frames`` long, cut to their first ``n_frames`` frames.

    Returns ``(mels_db (n, n_mels, n_frames), names, first_clip)``: the pieces are rebuilt from consecutive
    clips of ``indices`` (:func:`musicgan.pieces.piece_sequences`); ``first_clip`` is the index (into the
    prepared set) of each piece's first clip, where its audio starts.
    """
    from musicgan.pieces import piece_sequences

    indices = np.asarray(indices)
    sources = [prepared.sources[i] for i in indices]
    sequences = piece_sequences(prepared.mels[indices], sources, prepared.starts[indices],
                                prepared.mel_config.hop_length)
    first = {}
    for i, name in zip(indices, sources):
        first.setdefault(name, int(i))
    seen, mels, names = set(), [], []
    for name, seq in sequences:              # the first sequence of each piece (a piece may have gaps)
        if name in seen:
            continue
        seen.add(name)
        if seq.shape[-1] >= n_frames:
            mels.append(seq[:, :n_frames]), names.append(name)
    if not mels:
        raise ValueError(f"no held-out piece is {n_frames} frames long")
    return np.stack(mels).astype(np.float32), names, [first[n] for n in names]


def joined_clips(prepared, indices, n: int, n_frames: int, rng) -> np.ndarray:
    """``n`` pieces of ``n_frames`` made of held-out clips of random pieces joined end to end (the seam control)."""
    gen = np.random.default_rng(rng)
    clips = prepared.mels[np.asarray(indices)]
    per_piece = -(-n_frames // clips.shape[-1])
    picks = gen.integers(len(clips), size=(n, per_piece))
    return np.concatenate(list(clips[picks].transpose(1, 0, 2, 3)), axis=-1)[..., :n_frames].astype(np.float32)


def piece_measures(mels_db, prepared, train_norm, *, audio=None) -> dict:
    """``{measure: (n,)}`` of pieces ``(n, n_mels, n_frames)`` in dB: the scorecard's measures on each whole
    piece (with the audio ones when ``audio`` ``(n, samples)`` is given) and :data:`LONG_MEASURES`.

    ``train_norm``: normalised training clips ``(N, n_mels, clip_frames)`` that the drift is measured against.
    """
    from musicgan.scorecard import clip_measures

    cfg = prepared.mel_config
    mels = np.asarray(mels_db, dtype=np.float32)
    out = clip_measures(mels, cfg, audio)
    clip = prepared.mels.shape[-1]
    joins = np.arange(clip, mels.shape[-1], clip)
    fps = int(round(cfg.sample_rate / cfg.hop_length))
    out["join_ratio"] = np.array([join_jump_ratio(m, joins)["ratio"] for m in mels])
    drift = []
    for m in mels:
        d = distance_per_second(prepared.normalizer.normalize(m), train_norm, fps)
        drift.append(d[-DRIFT_SECONDS:].mean() / d[0])
    out["drift"] = np.array(drift)
    out["key_persistence"] = np.array([np.nanmean(key_persistence(m, cfg)) for m in mels])
    return out


def long_control_sets(prepared, indices, n_frames: int, *, n_pieces: int = 8, rng=0, decode=None) -> dict:
    """The controls as sets for :func:`piece_measures`: ``{name: {"mels_db", "audio"}}`` for "real", "real,
    decoded", "detuned +50 cents" and "clips joined" (up to ``n_pieces`` held-out pieces each)."""
    import torch

    from musicgan.mel import log_mel_spectrogram
    from musicgan.sample import clips_to_audio
    from musicgan.scorecard import source_audio

    check_int(n_pieces, "n_pieces", low=1)
    cfg = prepared.mel_config
    decode = decode or (lambda m: clips_to_audio(m, cfg))
    mels, names, first = real_pieces(prepared, indices, n_frames)
    mels, first = mels[:n_pieces], first[:n_pieces]
    n_samples = cfg.hop_length * (n_frames - 1)
    audio = source_audio(prepared, first, n_samples=n_samples)          # the pieces from their first clip on
    detuned = source_audio(prepared, first, n_samples=n_samples, cents=50.0)
    detuned_mels = log_mel_spectrogram(torch.as_tensor(detuned), cfg).numpy()[..., :n_frames]
    joined = joined_clips(prepared, indices, len(mels), n_frames, rng)
    return {"real": {"mels_db": mels, "audio": audio},
            "real, decoded": {"mels_db": mels, "audio": decode(mels)},
            "detuned +50 cents": {"mels_db": detuned_mels, "audio": detuned},
            "clips joined": {"mels_db": joined, "audio": decode(joined)}}


def generated_pieces(net_G, prepared, n: int, n_frames: int, seed: int, decode=None) -> dict:
    """``n`` pieces of ``n_frames`` from ``net_G`` (seeded) in dB, and their decoded audio."""
    from musicgan.runs import generate
    from musicgan.sample import clips_to_audio

    mels = prepared.normalizer.denormalize(generate(net_G, n, seed, n_frames=n_frames))
    audio = (decode or (lambda m: clips_to_audio(m, prepared.mel_config)))(mels)
    return {"mels_db": mels, "audio": audio}


def long_report(gens: dict, prepared, train_idx, held_idx, *, seconds: float = 30.0, n_pieces: int = 4,
                n_real: int = 8, seed: int = 0, n_boot: int = 1000, n_train_ref: int = 2000) -> dict:
    """Pieces of ``seconds`` from every generator in ``gens`` (``{label: net_G}``; labels ``family/seed``
    are pooled by family) and the controls, scored by :func:`piece_measures`.

    Returns ``{"seconds", "n_frames", "table": {set: {measure: Interval}}, "per_run": {label: {measure:
    mean}}, "pieces": {set: n}}``: ``n_pieces`` pieces per run, up to ``n_real`` held-out pieces per control;
    the intervals resample pieces (each held-out piece is its own piece, so no grouping is needed).
    """
    from musicgan.runs import frames_for_seconds
    from musicgan.stats import mean_interval

    n_frames = frames_for_seconds(seconds, prepared.mel_config)
    rng = np.random.default_rng(seed)
    train_norm = prepared.normalizer.normalize(
        prepared.mels[np.sort(rng.choice(np.asarray(train_idx), min(n_train_ref, len(train_idx)), replace=False))])
    train_norm = np.asarray(train_norm, np.float32)
    values = {name: piece_measures(s["mels_db"], prepared, train_norm, audio=s["audio"])
              for name, s in long_control_sets(prepared, held_idx, n_frames, n_pieces=n_real, rng=seed).items()}
    per_run, pooled = {}, {}
    for label, net_G in gens.items():
        s = generated_pieces(net_G, prepared, n_pieces, n_frames, seed)
        v = piece_measures(s["mels_db"], prepared, train_norm, audio=s["audio"])
        per_run[label] = {k: float(np.nanmean(x)) for k, x in v.items()}
        pooled.setdefault(label.split("/")[0], []).append(v)
    for family, runs in pooled.items():
        values[family] = {k: np.concatenate([r[k] for r in runs]) for k in runs[0]}
    table = {name: {k: mean_interval(x, rng=seed, n_boot=n_boot) for k, x in v.items()} for name, v in values.items()}
    return {"seconds": seconds, "n_frames": n_frames, "table": table, "per_run": per_run,
            "pieces": {name: int(len(next(iter(v.values())))) for name, v in values.items()}}
