"""The musical score card: every musical measure of several sets of clips, each with a 95 % interval.

A set is ``{"mels_db": (n, n_mels, n_frames), "audio": (n, samples) or None, "groups": labels or None}``:
the mel matrices are always measured (so no decoder can make a generator look in tune), the audio where it
exists (real audio, or mel matrices decoded by :func:`musicgan.sample.clips_to_audio`). ``groups`` names the
piece of each clip for the piece-level bootstrap of :mod:`musicgan.stats` (None: clips are independent, as
generated clips with fresh noise are).

This module also builds the standard control sets from held-out real clips -- their audio re-rendered, the
same audio detuned by +50 cents, and spectrum-shaped noise -- so every table carries its own controls.
"""
from __future__ import annotations

import numpy as np
import torch

from musicgan.mel import MelConfig, log_mel_spectrogram
from musicgan.stats import mean_interval

__all__ = ["MEASURES", "clip_measures", "score_sets", "source_audio", "control_sets", "generated_set",
           "transcriber_distances", "table_rows"]

# key -> (column label, what is better: "high", "low" or "real" = closest to real music)
MEASURES = {
    "in_tune": ("peaks in tune (audio)", "high"),
    "cents_off": ("|cents| off grid (audio)", "low"),
    "mel_in_tune": ("frames in tune (mel)", "high"),
    "notes_per_frame": ("notes / frame (mel)", "real"),
    "pitch_classes": ("pitch classes / frame (mel)", "real"),
    "key_corr": ("key correlation (mel)", "high"),
    "in_scale": ("in scale (mel)", "high"),
    "audio_key_corr": ("key correlation (audio)", "high"),
    "onset_rate": ("onsets / s (mel)", "real"),
    "transcriber_fd": ("Frechet, transcriber features", "low"),
}


def clip_measures(mels_db, cfg: MelConfig, audio=None) -> dict:
    """Per-clip values ``{key: (n,)}`` of :data:`MEASURES` (the audio ones only when ``audio`` is given)."""
    from musicgan.measures import audio_key, onset_rate, peak_tuning
    from musicgan.notes import mel_note_measures

    out = mel_note_measures(mels_db, cfg)
    out["onset_rate"] = onset_rate(mels_db, cfg)
    if audio is not None:
        out.update(peak_tuning(audio, cfg.sample_rate))
        out["audio_key_corr"] = audio_key(audio, cfg.sample_rate)["key_corr"]
    return {k: out[k] for k in MEASURES if k in out}


def score_sets(sets: dict, cfg: MelConfig, *, rng=0, n_boot: int = 1000) -> dict:
    """``{set name: {measure: Interval}}`` for every set (see the module docstring for a set's keys)."""
    table = {}
    for name, s in sets.items():
        values = clip_measures(s["mels_db"], cfg, s.get("audio"))
        table[name] = {k: mean_interval(v, s.get("groups"), rng=rng, n_boot=n_boot) for k, v in values.items()}
    return table


def source_audio(prepared, indices, *, cents: float = 0.0, workers: int = 2,
                 n_samples: int | None = None) -> np.ndarray:
    """The audio ``(len(indices), n_samples)`` float32 of prepared clips (``n_samples`` defaults to the clip
    length; a longer one runs on into the rest of the piece, zero-padded past its end), each source rendered or
    read once (chorales rendered in ``workers`` processes).

    With ``cents != 0`` each whole piece is first detuned by :func:`musicgan.controls.detune` and each clip cut
    where its first sample moved to, so the clip holds the same music with every frequency (and the tempo)
    scaled by 2^(cents / 1200).
    """
    from musicgan.controls import detune

    indices = np.asarray(indices)
    cfg, source = prepared.mel_config, prepared.params.get("source", {})
    names = np.asarray(prepared.sources)[indices]
    if source.get("kind") == "synthetic":           # every clip is its own rendering: make them again
        from musicgan.synthetic import synthetic_audio

        wholes = zip(np.arange(indices.size), synthetic_audio(source["n_clips"], source["n_pieces"], cfg,
                                                              source["seed"])[0][indices])
        names, starts = np.arange(indices.size), np.zeros(indices.size, np.int64)
    else:
        wholes, starts = _whole_pieces(prepared, indices, names, workers), np.asarray(prepared.starts)[indices]
    ratio = 2.0 ** (cents / 1200.0)
    n_samples = cfg.clip_samples if n_samples is None else n_samples
    out = np.zeros((indices.size, n_samples), np.float32)
    for name, audio in wholes:
        audio = detune(audio, cfg.sample_rate, cents) if cents else audio
        for row in np.flatnonzero(names == name):
            start = int(round(starts[row] / ratio))
            piece = audio[start:start + n_samples]
            out[row, :piece.size] = piece
    return out


def _whole_pieces(prepared, indices, names, workers: int):
    """``(source name, its whole audio)`` once for each source of the clips ``indices``."""
    from musicgan.dataset import clip_source_audio

    source = prepared.params["source"]
    if source["kind"] == "music21-bach-chorales":
        from musicgan.chorales import chorale_paths, iter_rendered_chorales

        paths = [p for p in chorale_paths() if p.name in set(names)]
        return iter_rendered_chorales(prepared.mel_config.sample_rate, source["renderer"], source.get("soundfont"),
                                      paths=paths, workers=workers)
    first = {name: int(i) for i, name in zip(indices[::-1], names[::-1])}
    return ((name, clip_source_audio(prepared, i, whole=True)) for name, i in first.items())


def _mels(audio, cfg: MelConfig) -> np.ndarray:
    return log_mel_spectrogram(torch.as_tensor(audio), cfg).numpy()


def control_sets(prepared, indices, *, rng=0, decode=None) -> dict:
    """The real held-out clips and their controls, as sets for :func:`score_sets`.

    Returns ``{"real": ..., "real, decoded": ..., "detuned +50 cents": ..., "shaped noise": ...,
    "shaped noise, decoded": ...}``: real audio and its mels; the real mels through ``decode`` (default
    :func:`musicgan.sample.clips_to_audio`); the real audio detuned by +50 cents
    (:func:`musicgan.controls.detune`), cut back to clip length; Gaussian noise with the real audio's spectrum,
    as audio and through the decoder (the chance level of the audio measures for decoded sets, which the
    decoder's frequency grid may shift). The real sets are grouped by piece.
    """
    from musicgan.controls import detune, shaped_noise
    from musicgan.sample import clips_to_audio

    cfg = prepared.mel_config
    decode = decode or (lambda m: clips_to_audio(m, cfg))
    groups = np.asarray(prepared.sources)[np.asarray(indices)]
    audio = source_audio(prepared, indices)
    mels = prepared.mels[np.asarray(indices)]
    detuned = detune(audio, cfg.sample_rate, 50.0)
    detuned = np.pad(detuned, ((0, 0), (0, audio.shape[1] - detuned.shape[1])))[:, :audio.shape[1]]
    noise = shaped_noise(audio, len(audio), audio.shape[1], rng)
    noise_mels = _mels(noise, cfg)
    return {"real": {"mels_db": mels, "audio": audio, "groups": groups},
            "real, decoded": {"mels_db": mels, "audio": decode(mels), "groups": groups},
            "detuned +50 cents": {"mels_db": _mels(detuned, cfg), "audio": detuned, "groups": groups},
            "shaped noise": {"mels_db": noise_mels, "audio": noise, "groups": None},
            "shaped noise, decoded": {"mels_db": noise_mels, "audio": decode(noise_mels), "groups": None}}


def generated_set(net_G, prepared, n: int, seed: int, decode=None) -> dict:
    """``n`` clips of a generator (its EMA weights, noise seeded by ``seed``) as a set for :func:`score_sets`:
    mels in dB (denormalised with the data set's statistics) and their decoded audio; clips independent."""
    from musicgan.runs import generate
    from musicgan.sample import clips_to_audio

    mels = prepared.normalizer.denormalize(generate(net_G, n, seed))
    audio = (decode or (lambda m: clips_to_audio(m, prepared.mel_config)))(mels)
    return {"mels_db": mels, "audio": audio, "groups": None}


def transcriber_distances(sets: dict, prepared, reference_idx, transcriber, *, rng=0, n_boot: int = 200) -> dict:
    """``{set name: Interval}``: the Frechet distance between each set's mel matrices and the real clips
    ``reference_idx`` of ``prepared``, on the features of a note transcriber trained on this data set
    (:func:`musicgan.transcriber.embed`; GANSynth's idea of a pitch network's features, Engel et al. 2019),
    with the pieces (or clips) of both sides resampled (:func:`musicgan.stats.two_sample_bootstrap`). Compare
    only sets of equal size: the estimate carries a bias that shrinks with the number of clips."""
    from musicgan.metrics import frechet_distance, gaussian_stats
    from musicgan.stats import two_sample_bootstrap
    from musicgan.transcriber import embed, load_transcriber

    model, _ = load_transcriber(transcriber, prepared)
    normalize = prepared.normalizer.normalize
    reference = embed(model, normalize(prepared.mels[np.asarray(reference_idx)]))
    ref_groups = np.asarray(prepared.sources)[np.asarray(reference_idx)]
    out = {}
    for name, s in sets.items():
        feats = embed(model, normalize(np.asarray(s["mels_db"], dtype=np.float32)))

        def fd(i, j, feats=feats):
            return frechet_distance(*gaussian_stats(feats[i]), *gaussian_stats(reference[j]))

        out[name] = two_sample_bootstrap(fd, len(feats), len(reference), s.get("groups"), ref_groups,
                                         n_boot=n_boot, rng=rng)
    return out


def table_rows(table: dict, measures=None, fmt: str = "{:.2f}") -> tuple[list[str], list[list[str]]]:
    """Header and rows "mean [lo, hi]" of a :func:`score_sets` result, for ``sims.plotting.markdown_table``."""
    measures = [m for m in (measures or MEASURES) if any(m in row for row in table.values())]
    header = ["set"] + [MEASURES[m][0] for m in measures]
    rows = []
    for name, row in table.items():
        cells = [name]
        for m in measures:
            iv = row.get(m)
            cells.append("" if iv is None else f"{fmt.format(iv['mean'])} [{fmt.format(iv['lo'])}, "
                         f"{fmt.format(iv['hi'])}]")
        rows.append(cells)
    return header, rows
