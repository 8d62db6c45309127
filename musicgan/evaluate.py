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

from musicgan import metrics
from sims.checks import check_int, check_positive

__all__ = ["add_arguments", "run", "score_sets", "evaluate_runs", "beats_baseline", "check_clip_counts"]

REAL_TRAIN, BASELINE, HELD_OUT = "real (training)", "noise baseline", "held-out real"


def _salience(clips_norm, prepared, n_audio: int, n_iter: int) -> float:
    from musicgan.sample import clips_to_audio

    audio = clips_to_audio(prepared.normalizer.denormalize(clips_norm[:n_audio]), prepared.mel_config, n_iter=n_iter)
    return float(np.mean(metrics.harmonic_peak_salience(audio, prepared.mel_config.sample_rate)))


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


def evaluate_runs(runs: dict, *, n: int = 1000, k: int = 50, alpha: float = 0.05, seed: int = 0,
                  n_bins_clips: int = 3000, n_audio: int = 16, griffin_lim_iters: int = 32, prepared=None) -> dict:
    """The full report for ``runs`` (``{label: run folder or RUN/checkpoints/ckpt-*.pt}``), all trained on the
    same data set. A checkpoint file scores the run's averaged generator at that step."""
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
    reference = normal(prepared.mels[_pick(held_idx, n, rng)])
    own = rng.permutation(len(train_idx))
    real_pos, bins_pos = np.sort(own[:n]), own[n:n + n_bins_clips]      # disjoint subsets of training clips
    train_clips = normal(prepared.mels[train_idx])
    sets = {label: generate(net_G, n, seed) for label, (net_G, *_rest) in gens.items()}
    sets[REAL_TRAIN] = train_clips[real_pos]
    sets[BASELINE] = normal(metrics.noise_baseline(prepared.mels[train_idx[bins_pos]], n, rng))
    rows = score_sets(sets, reference, train_clips, train_clips[bins_pos], k=k, alpha=alpha, seed=seed,
                      train_exclude={REAL_TRAIN: real_pos})
    for name, clips in {**sets, HELD_OUT: reference}.items():
        rows[name]["salience_db"] = _salience(clips, prepared, n_audio, griffin_lim_iters)
    return {"settings": {"n": len(reference), "k": k, "alpha": alpha, "seed": seed, "n_bins_clips": len(bins_pos),
                         "n_audio": n_audio, "training_clips": len(train_idx), "held_out_clips": len(held_idx),
                         "steps": {label: g[3] for label, g in gens.items()},
                         "runs": {label: str(path) for label, path in runs.items()}},
            "rows": rows, "beats_baseline": {label: beats_baseline(rows, label) for label in runs},
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
        report = evaluate_runs(runs, n=args.n, k=args.k, alpha=args.alpha, seed=args.seed, n_audio=args.n_audio)
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
