"""``python -m musicgan evaluate``: score generated clips against held-out real clips; a JSON report.

Every set is compared with the same ``n`` held-out real clips (pieces never seen in training):

- each run's generator (``n`` clips from its EMA weights);
- ``real (training)``: ``n`` training clips -- what a generator that reproduced the training distribution
  would score, i.e. the noise floor of each metric;
- ``noise baseline``: noise shaped by the mean spectrum of the training clips (:func:`metrics.noise_baseline`).

NDB bins are k-means centres of other training clips. |D|_self and |D|_train have no "lower is better":
a good generator matches the held-out clips' own values, which the report gives as the reference row.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from musicgan import metrics
from sims.checks import check_int, check_positive

__all__ = ["add_arguments", "run", "score_sets", "evaluate_runs", "beats_baseline", "check_clip_counts"]

REAL_TRAIN, BASELINE, HELD_OUT = "real (training)", "noise baseline", "held-out real"


def _salience(clips_norm, prepared, positions, n_iter: int) -> np.ndarray:
    from musicgan.sample import clips_to_audio

    audio = clips_to_audio(prepared.normalizer.denormalize(clips_norm[positions]), prepared.mel_config, n_iter=n_iter)
    return metrics.harmonic_peak_salience(audio, prepared.mel_config.sample_rate)


def score_sets(sets: dict, reference, train_clips, bins_clips, *, k: int = 50, alpha: float = 0.05, seed: int = 0,
               train_exclude: dict | None = None) -> dict:
    """Metrics of each normalised set ``(n, n_mels, n_frames)`` in ``sets`` against ``reference``.

    ``train_clips``: the training clips for |D|_train; ``bins_clips``: real clips for the k-means bins;
    ``train_exclude[name]``: indices into ``train_clips`` to leave out for that set (its own clips).
    Returns ``{name: {ndb, ndb_over_k, frechet, d_self, d_train}}`` plus the reference's own row.
    """
    centres = metrics.fit_bins(metrics.pooled_features(bins_clips), k, seed)
    ref_features = metrics.pooled_features(reference)
    ref_stats = metrics.gaussian_stats(metrics.band_features(reference))
    rows = {}
    for name, clips in sets.items():
        result = metrics.ndb(centres, ref_features, metrics.pooled_features(clips), alpha)
        keep = np.ones(len(train_clips), bool)
        keep[(train_exclude or {}).get(name, [])] = False
        rows[name] = {"ndb": result["ndb"], "ndb_over_k": result["ndb_over_k"],
                      "frechet": metrics.frechet_distance(*metrics.gaussian_stats(metrics.band_features(clips)),
                                                          *ref_stats),
                      "d_self": float(metrics.nearest_neighbour_distances(clips).mean()),
                      "d_train": float(metrics.nearest_neighbour_distances(clips, train_clips[keep]).mean())}
    rows[HELD_OUT] = {"d_self": float(metrics.nearest_neighbour_distances(reference).mean()),
                      "d_train": float(metrics.nearest_neighbour_distances(reference, train_clips).mean())}
    return rows


def score_intervals(sets: dict, reference, train_clips, bins_clips, *, groups: dict, k: int = 50,
                    alpha: float = 0.05, seed: int = 0, n_boot: int = 200, train_exclude: dict | None = None) -> dict:
    """95 % intervals of :func:`score_sets`' figures, ``{name: {metric: Interval}}``.

    ``groups[name]``: the piece of each clip of a set (None: clips independent); ``groups["reference"]``:
    those of the held-out clips. NDB/K and the Frechet distance resample the pieces of both the set and the
    reference (:func:`musicgan.stats.two_sample_bootstrap`); D_self and D_train resample the per-clip nearest
    neighbour distances by piece, each clip keeping the neighbour found in the full sets.
    """
    from musicgan.stats import mean_interval, two_sample_bootstrap

    centres = metrics.fit_bins(metrics.pooled_features(bins_clips), k, seed)
    ref_bins = metrics.assign_bins(metrics.pooled_features(reference), centres)
    ref_feat = metrics.band_features(reference)
    ref_groups = groups.get("reference")
    out = {}
    for name, clips in sets.items():
        bins = metrics.assign_bins(metrics.pooled_features(clips), centres)
        feat = metrics.band_features(clips)

        def ndb(i, j, bins=bins):
            p, q = (np.bincount(b, minlength=k) / len(b) for b in (bins[i], ref_bins[j]))
            return metrics.two_proportion_z_test(p, len(i), q, len(j), alpha).mean()

        def fd(i, j, feat=feat):
            return metrics.frechet_distance(*metrics.gaussian_stats(feat[i]), *metrics.gaussian_stats(ref_feat[j]))

        g = groups.get(name)
        keep = np.ones(len(train_clips), bool)
        keep[(train_exclude or {}).get(name, [])] = False
        out[name] = {"ndb_over_k": two_sample_bootstrap(ndb, len(clips), len(reference), g, ref_groups,
                                                        n_boot=n_boot, rng=seed),
                     "frechet": two_sample_bootstrap(fd, len(clips), len(reference), g, ref_groups,
                                                     n_boot=n_boot, rng=seed),
                     "d_self": mean_interval(metrics.nearest_neighbour_distances(clips), g, rng=seed),
                     "d_train": mean_interval(metrics.nearest_neighbour_distances(clips, train_clips[keep]), g,
                                              rng=seed)}
    out[HELD_OUT] = {"d_self": mean_interval(metrics.nearest_neighbour_distances(reference), ref_groups, rng=seed),
                     "d_train": mean_interval(metrics.nearest_neighbour_distances(reference, train_clips), ref_groups,
                                              rng=seed)}
    return out


def beats_baseline(rows: dict, name: str) -> dict:
    """Per metric, whether set ``name`` is better than the noise baseline.

    NDB and Frechet: lower is better; |D|_self, |D|_train and salience: closer to the held-out clips' value.
    """
    ours, base, ref = rows[name], rows[BASELINE], rows[HELD_OUT]
    verdict = {m: ours[m] < base[m] for m in ("ndb_over_k", "frechet")}
    for m in ("d_self", "d_train", "salience_db"):
        if m in ref and m in ours:
            verdict[m] = abs(ours[m] - ref[m]) < abs(base[m] - ref[m])
    return verdict


def _load(load_generator, path: Path):
    """A run folder (its generator.pt, else its newest checkpoint) or one checkpoint file of a run."""
    if path.suffix == ".pt" and path.parent.name == "checkpoints":
        return load_generator(path.parent.parent, checkpoint=path)
    return load_generator(path)


def _pick(indices: np.ndarray, n: int, rng) -> np.ndarray:
    return np.sort(rng.choice(indices, size=min(n, len(indices)), replace=False))


def musical_report(gens: dict, prepared, held_idx, *, n: int = 64, seed: int = 0, transcriber=None) -> dict:
    """The musical score card (:mod:`musicgan.scorecard`) of each generator in ``gens`` (``{label: net_G}``;
    labels ``family/seed`` are pooled into one set of ``n`` clips per family, drawn equally from its seeds)
    and of ``n`` held-out real clips with their controls (decoded, detuned +50 cents, shaped noise), each
    measure with its 95 % interval (real sets resampled by piece).

    The held-out pieces are split in two halves by piece: the real sets come from one, and, with a
    ``transcriber`` (the path of a :mod:`musicgan.transcriber` model trained on this data set), every set's
    Frechet distance on the transcriber's features is measured against all clips of the other half
    (``"transcriber_fd"``; the real row is then the real-against-real floor, at the same set size). If the
    data set's representation is not the default one, the real audio encoded and decoded with the default
    (``MEL_PRESETS["pitch256"]``) is scored too, as ``"real, decoded from 256 bands"``."""
    from musicgan import scorecard
    from musicgan.mel import MEL_PRESETS, log_mel_spectrogram
    from musicgan.transcriber import held_out_halves

    rng = np.random.default_rng(seed + 1)
    held_idx = np.asarray(held_idx)
    sources = np.asarray(prepared.sources)
    half_a, half_b = held_out_halves(sources[held_idx], rng, by="piece")
    sets = scorecard.control_sets(prepared, _pick(held_idx[half_a], n, rng), rng=seed)
    families = {}
    for label, net_G in gens.items():
        families.setdefault(label.split("/")[0], []).append(net_G)
    for family, nets in families.items():      # seeds of a family pooled: n clips in all, as many from each
        per_run = -(-n // len(nets))
        parts = [scorecard.generated_set(net_G, prepared, per_run, seed) for net_G in nets]
        sets[family] = {"mels_db": np.concatenate([p["mels_db"] for p in parts])[:n],
                        "audio": np.concatenate([p["audio"] for p in parts])[:n], "groups": None}
    table = scorecard.score_sets(sets, prepared.mel_config, rng=seed)
    if transcriber is not None:
        reference = held_idx[half_b]
        for name, interval in scorecard.transcriber_distances(sets, prepared, reference, transcriber,
                                                                rng=seed).items():
            table[name]["transcriber_fd"] = interval
    default = MEL_PRESETS["pitch256"]
    if prepared.mel_config != default:
        from musicgan.sample import clips_to_audio

        mels = log_mel_spectrogram(torch.as_tensor(sets["real"]["audio"]), default).numpy()
        extra = {"mels_db": mels, "audio": clips_to_audio(mels, default), "groups": sets["real"]["groups"]}
        table.update(scorecard.score_sets({"real, decoded from 256 bands": extra}, default, rng=seed))
    return table


def evaluate_runs(runs: dict, *, n: int = 1000, k: int = 50, alpha: float = 0.05, seed: int = 0,
                  n_bins_clips: int = 3000, n_audio: int = 16, griffin_lim_iters: int = 32, prepared=None,
                  n_music: int = 0, n_boot: int = 200, transcriber=None, long_seconds: float = 0.0,
                  long_pieces: int = 4) -> dict:
    """The full report for ``runs`` (``{label: run folder or RUN/checkpoints/ckpt-*.pt}``), all trained on the
    same data set. A checkpoint file scores the run's averaged generator at that step. ``n_boot > 0`` adds
    95 % intervals of every figure under ``"intervals"`` (:func:`score_intervals`); ``n_music > 0`` adds the
    musical score card of ``n_music`` clips per set (:func:`musical_report`) under ``"music"``;
    ``long_seconds > 0`` scores ``long_pieces`` pieces of that length per run and the long controls
    (:func:`musicgan.longform.long_report`; labels ``family/seed`` are pooled by family) under ``"long"``."""
    from musicgan.runs import generate, load_data, load_generator, split_data

    check_int(n, "n", low=10)
    check_positive(alpha, "alpha")
    started = time.perf_counter()
    gens = {label: _load(load_generator, Path(path)) for label, path in runs.items()}
    cfg = next(iter(gens.values()))[1]
    first = Path(next(iter(runs.values())))
    run_dir = first.parent.parent if first.suffix == ".pt" else first         # relative data.source lives here
    prepared = load_data(cfg.data, run_dir=run_dir) if prepared is None else prepared
    train_idx, held_idx = split_data(prepared, cfg.data)
    check_clip_counts(len(train_idx), len(held_idx), n, k)
    rng = np.random.default_rng(seed)
    normal = prepared.normalizer.normalize
    ref_idx = _pick(held_idx, n, rng)
    reference = normal(prepared.mels[ref_idx])
    own = rng.permutation(len(train_idx))
    real_pos, bins_pos = np.sort(own[:n]), own[n:n + n_bins_clips]      # disjoint subsets of training clips
    train_clips = normal(prepared.mels[train_idx])
    sets = {label: generate(net_G, n, seed) for label, (net_G, *_rest) in gens.items()}
    sets[REAL_TRAIN] = train_clips[real_pos]
    sets[BASELINE] = normal(metrics.noise_baseline(prepared.mels[train_idx[bins_pos]], n, rng))
    rows = score_sets(sets, reference, train_clips, train_clips[bins_pos], k=k, alpha=alpha, seed=seed,
                      train_exclude={REAL_TRAIN: real_pos})
    sources = np.asarray(prepared.sources)
    intervals = score_intervals(sets, reference, train_clips, train_clips[bins_pos], k=k, alpha=alpha, seed=seed,
                                n_boot=n_boot, train_exclude={REAL_TRAIN: real_pos},
                                groups={"reference": sources[ref_idx], REAL_TRAIN: sources[train_idx[real_pos]]}) \
        if n_boot else None
    for name, clips in {**sets, HELD_OUT: reference}.items():
        # a random subset, not the first clips: sets of real clips are sorted, so those come from one piece
        positions = np.sort(np.random.default_rng(seed + 2).choice(len(clips), min(n_audio, len(clips)),
                                                                    replace=False))
        values = _salience(clips, prepared, positions, griffin_lim_iters)
        rows[name]["salience_db"] = float(np.mean(values))
        if intervals:
            from musicgan.stats import mean_interval

            groups = {HELD_OUT: sources[ref_idx], REAL_TRAIN: sources[train_idx[real_pos]]}.get(name)
            intervals[name]["salience_db"] = mean_interval(values, None if groups is None else groups[positions],
                                                           rng=seed)
    music = musical_report({lb: g[0] for lb, g in gens.items()}, prepared, held_idx, n=n_music, seed=seed,
                           transcriber=transcriber) if n_music else None
    long = None
    if long_seconds:
        from musicgan.longform import long_report

        long = long_report({lb: g[0] for lb, g in gens.items()}, prepared, train_idx, held_idx,
                           seconds=long_seconds, n_pieces=long_pieces, seed=seed)
    return {"settings": {"n": len(reference), "k": k, "alpha": alpha, "seed": seed, "n_bins_clips": len(bins_pos),
                         "n_audio": n_audio, "n_music": n_music, "training_clips": len(train_idx), "held_out_clips": len(held_idx),
                         "steps": {label: g[3] for label, g in gens.items()},
                         "runs": {label: str(path) for label, path in runs.items()}},
            "rows": rows, "beats_baseline": {label: beats_baseline(rows, label) for label in runs},
            **({"intervals": intervals} if intervals else {}), **({"music": music} if music else {}),
            **({"long": long} if long else {}),
            "seconds": time.perf_counter() - started}


def check_clip_counts(n_train: int, n_held: int, n: int, k: int) -> None:
    """ValueError, saying how many clips there are and which ``-n`` / ``--k`` fit, unless the ``n`` training
    clips of the "real (training)" row leave at least ``k`` other training clips for the k-means bins."""
    n_real = min(n, n_train)
    if n_train - n_real >= k:
        return
    fits = []
    if n_train - k >= 10:
        fits.append(f"-n {n_train - k} or less")
    if n_train - n_real >= 2:
        fits.append(f"--k {n_train - n_real} or less")
    if not fits:
        half = n_train // 2
        fits.append(f"-n {half} --k {min(k, n_train - half)}" if half >= 10 else "a larger data set")
    raise ValueError(f"the run's data set has {n_train} training and {n_held} held-out clips; -n {n} takes "
                     f"{n_real} training clips for the '{REAL_TRAIN}' row and leaves {n_train - n_real} for the {k} "
                     f"NDB bins (k-means needs at least --k clips): use {' or '.join(fits)}")


def _is_report(path: Path) -> bool:
    try:
        return {"settings", "rows"} <= set(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return False


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", action="append", required=True, metavar="[LABEL=]RUN_DIR",
                        help="a run folder (or one of its checkpoints/ckpt-*.pt files) to score, optionally "
                        "labelled (repeatable)")
    parser.add_argument("--out", type=Path, help="JSON report path (default: print it)")
    parser.add_argument("-n", type=int, default=1000, help="clips on each side (default 1000)")
    parser.add_argument("--k", type=int, default=50, help="NDB bins (default 50)")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level of NDB (default 0.05)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-audio", type=int, default=16, help="clips per set turned into audio for the "
                        "harmonic peak salience (default 16)")
    parser.add_argument("--n-boot", type=int, default=200, help="bootstrap resamples (by piece) for the 95 %% "
                        "intervals of NDB/K, Frechet, D_self and D_train (default 200; 0 skips them)")
    parser.add_argument("--transcriber", type=Path, help="a note transcriber trained on the runs' data set "
                        "(`python -m musicgan transcriber`): adds the Frechet distance on its features to the "
                        "musical score card")
    parser.add_argument("--long-seconds", type=float, default=0.0, help="also score pieces of this many seconds "
                        "(any-length generators; labels FAMILY/SEED pool seeds) against held-out pieces and "
                        "controls (default 0: skip)")
    parser.add_argument("--long-pieces", type=int, default=4, help="pieces per run for --long-seconds (default 4)")
    parser.add_argument("--n-music", type=int, default=64, help="clips per set for the musical measures with "
                        "95 %% intervals: tuning, notes, key, onsets (default 64; 0 skips them)")


def run(args) -> int:
    runs = {}
    for item in args.run:
        label, sep, path = item.partition("=")
        runs[label if sep else Path(item).name] = Path(path if sep else item)
    try:
        if args.out:
            from musicgan.outputs import check_output_file

            inputs = [q for r in runs.values() for q in ((r / "generator.pt", r / "checkpoints", r / "config.json")
                                                         if r.is_dir() else (r,))]
            check_output_file(args.out, what="JSON report", inputs=inputs, is_own=_is_report, tracked_ok=True)
        report = evaluate_runs(runs, n=args.n, k=args.k, alpha=args.alpha, seed=args.seed, n_audio=args.n_audio,
                               n_music=args.n_music, n_boot=args.n_boot, transcriber=args.transcriber,
                               long_seconds=args.long_seconds, long_pieces=args.long_pieces)
    except (FileNotFoundError, ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    text = json.dumps(_jsonable(report), indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
        print(f"report -> {args.out}")
    else:
        print(text)
    return 0
