"""A small note transcriber trained on the rendered chorales, and a Fréchet distance on its features.

GANSynth (Engel et al. 2019) scored generated audio by a Fréchet distance on the features of a pitch
classifier trained for the task, since a network that had to tell notes apart hears pitch where the
hand-made log-mel statistics do not. No such network can be downloaded here, so one is trained here for a
task the data set provides the labels for: the score of each rendered chorale says which notes sound in
each mel frame (frame-wise transcription, the "frame stack" of Onsets and Frames, Hawthorne et al. 2018,
much smaller). Input: a normalised log-mel clip ``(n_mels, n_frames)``; output: a logit per MIDI note of
``NOTE_RANGE`` (36..84) and frame. The features of a clip are the time mean and standard deviation of the
per-frame hidden layer before those logits (what notes sound) and how unsure the transcription is
(:func:`embed`); the Fréchet distance between two sets of clips is FID's formula (Heusel et al. 2017) on
them. The targets come from :mod:`musicgan.scores`.

A trained model is saved with its settings and the hash of the data set's parameters, and refuses a data
set of another representation. ``python -m musicgan transcriber --out PATH`` (re)trains one.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from musicgan.metrics import NOTE_RANGE, frechet_distance, gaussian_stats
from musicgan.scores import chorale_notes, clip_targets
from sims.checks import check_choice, check_int, check_positive, check_shape
from sims.seeding import as_generator

__all__ = ["Transcriber", "train_transcriber", "frame_scores", "embed", "frechet_transcriber_distance",
           "audio_to_input", "held_out_halves", "frechet_controls", "fit_transcriber",
           "save_transcriber", "load_transcriber", "data_key", "add_arguments", "run"]

FORMAT = "musicgan-transcriber/1"
CHORALE_KIND = "music21-bach-chorales"
UNSURE_EDGES = (0.05, 0.2, 0.4, 0.6, 0.8, 0.95)   # note-probability bins of the uncertainty features


# ---------------------------------------------------------------- the network

class Transcriber(nn.Module):
    """Log-mel clip ``(batch, n_mels, n_frames)`` in [-1, 1] -> note logits ``(batch, n_notes, n_frames)``.

    The mel bands are the input channels of two 1-D convolutions over time (kernel 5, ReLU: ``channels``
    then ``hidden`` units per frame, so each frame's features see +-4 frames, +-64 ms at the default hop);
    a linear map of each frame's ``hidden`` features gives its note logits. Works for any ``n_mels`` and
    any number of frames >= 1.
    """

    def __init__(self, n_mels: int, *, channels: int = 128, hidden: int = 48, n_notes: int = len(NOTE_RANGE)):
        super().__init__()
        self.settings = {"n_mels": check_int(n_mels, "n_mels", low=1),
                         "channels": check_int(channels, "channels", low=1),
                         "hidden": check_int(hidden, "hidden", low=1), "n_notes": check_int(n_notes, "n_notes", low=1)}
        self.frames = nn.Sequential(nn.Conv1d(n_mels, channels, 5, padding=2), nn.ReLU(),
                                    nn.Conv1d(channels, hidden, 5, padding=2), nn.ReLU())
        self.out = nn.Conv1d(hidden, n_notes, 1)
        n_features = hidden + 2 * (len(UNSURE_EDGES) - 1) + 2
        self.register_buffer("feature_mean", torch.zeros(n_features))   # set by calibrate(): real training clips
        self.register_buffer("feature_std", torch.ones(n_features))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Per-frame hidden features ``(batch, n_frames, hidden)`` of clips ``(batch, n_mels, n_frames)``."""
        if x.ndim != 3 or x.shape[1] != self.settings["n_mels"]:
            raise ValueError(f"clips must have shape (batch, {self.settings['n_mels']}, n_frames), "
                             f"got {tuple(x.shape)}")
        return self.frames(x).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x).transpose(1, 2))

    def clip_features(self, x: torch.Tensor) -> torch.Tensor:
        """Unscaled clip features ``(batch, n_features)``: see :func:`embed`."""
        h = self.features(x)                                            # (b, t, hidden)
        p = torch.sigmoid(self.out(h.transpose(1, 2)))                  # (b, notes, t)
        edges = UNSURE_EDGES
        unsure = torch.stack([((p >= lo) & (p < hi)).sum(1) for lo, hi in zip(edges[:-1], edges[1:])], 1).float()
        q = p.clamp(1e-6, 1 - 1e-6)
        entropy = -(q * q.log() + (1 - q) * (1 - q).log()).sum(1, keepdim=True)     # (b, 1, t) nats
        per_frame = torch.cat([unsure, entropy], 1)                     # (b, bins + 1, t)
        return torch.cat([h.mean(1), per_frame.mean(2), per_frame.std(2)], 1)

    @torch.no_grad()
    def calibrate(self, clips_norm, batch_size: int = 256) -> "Transcriber":
        """Store the mean and standard deviation of each clip feature over ``clips_norm`` (real training clips).

        Each standard deviation is floored at a tenth of their median, so that a unit real music hardly moves
        (a ReLU that is off for every training clip) cannot blow up a small activation on other input."""
        f = torch.cat([self.eval().clip_features(x) for x in _batches(clips_norm, batch_size)])
        std = f.std(0)
        self.feature_mean.copy_(f.mean(0))
        self.feature_std.copy_(torch.maximum(std, 0.1 * std.median()).clamp(min=1e-6))
        return self


def _batches(x, batch_size: int):
    for start in range(0, len(x), batch_size):
        yield torch.as_tensor(np.asarray(x[start:start + batch_size], dtype=np.float32))


@torch.no_grad()
def frame_scores(model: Transcriber, clips_norm, targets, *, batch_size: int = 256) -> dict:
    """Frame-wise transcription scores of ``model`` on normalised clips against bool piano rolls.

    Returns ``loss`` (mean binary cross-entropy per cell, nats) and note-level frame ``precision``,
    ``recall`` and ``f1`` (a note counts as on where its logit > 0), pooled over all frames
    (mir_eval's frame metrics, summed over clips).
    """
    model.eval()
    loss, tp, fp, fn, cells = 0.0, 0, 0, 0, 0
    for x, y in zip(_batches(clips_norm, batch_size), _batches(targets, batch_size)):
        logits = model(x)
        loss += nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="sum").item()
        on, truth = logits > 0, y > 0.5
        tp, fp, fn = tp + int((on & truth).sum()), fp + int((on & ~truth).sum()), fn + int((~on & truth).sum())
        cells += y.numel()
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return {"loss": loss / max(cells, 1), "precision": precision, "recall": recall,
            "f1": 2 * tp / max(2 * tp + fp + fn, 1)}


def train_transcriber(clips_norm, targets, *, steps: int = 6000, batch_size: int = 32, lr: float = 1e-3,
                      seed: int = 0, channels: int = 128, hidden: int = 48, log=None) -> Transcriber:
    """Fit a :class:`Transcriber` with Adam and binary cross-entropy per (note, frame) cell.

    clips_norm: float ``(n, n_mels, n_frames)`` in [-1, 1] (training clips only); targets: bool piano rolls
    ``(n, n_notes, n_frames)`` (:func:`clip_targets`). Batches are drawn with replacement by a generator
    seeded with ``seed``, which also seeds the initial weights.
    """
    check_int(steps, "steps", low=1)
    n_mels = np.shape(clips_norm)[1]
    if len(clips_norm) != len(targets):
        raise ValueError(f"{len(clips_norm)} clips but {len(targets)} targets")
    torch.manual_seed(seed)
    model = Transcriber(n_mels, channels=channels, hidden=hidden, n_notes=np.shape(targets)[1])
    opt = torch.optim.Adam(model.parameters(), lr=check_positive(lr, "lr"))
    rng = np.random.default_rng(seed)
    model.train()
    for step in range(steps):
        idx = np.sort(rng.integers(0, len(clips_norm), batch_size))
        x = torch.as_tensor(np.asarray(clips_norm[idx], dtype=np.float32))
        y = torch.as_tensor(np.asarray(targets[idx], dtype=np.float32))
        loss = nn.functional.binary_cross_entropy_with_logits(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log is not None and (step + 1) % 250 == 0:
            log(f"step {step + 1}/{steps}: loss {loss.item():.4f}")
    return model.eval().calibrate(clips_norm)


# ---------------------------------------------------------------- features and the distance

@torch.no_grad()
def embed(model: Transcriber, clips_norm, *, batch_size: int = 256) -> np.ndarray:
    """Features ``(n, hidden + 12)`` float64 of normalised clips ``(n, n_mels, n_frames)``:

    - what notes sound: the time mean of each hidden unit of :meth:`Transcriber.features` (the layer the note
      logits are read from, as FID reads Inception's last pool);
    - how sure the transcriber is of them, whichever they are: per frame, the number of notes whose
      probability lies in each bin of ``UNSURE_EDGES`` (0.05-0.2, ..., 0.8-0.95: neither off nor on) and the
      summed binary entropy of the note probabilities (nats), each as its time mean and standard deviation
      (in the spirit of GANSynth's pitch entropy). Real chorales are transcribed with few unsure notes;
      detuned ones, whose partials fall between the notes, with many.

    Each feature is standardised by its mean and standard deviation over the real training clips
    (:meth:`Transcriber.calibrate`), so every one counts in units of its spread in real music.
    """
    model.eval()
    out = torch.cat([model.clip_features(x) for x in _batches(clips_norm, batch_size)])
    return ((out - model.feature_mean) / model.feature_std).double().numpy()


def frechet_transcriber_distance(model: Transcriber, clips_a, clips_b) -> float:
    """Fréchet distance between Gaussians fitted to the :func:`embed` features of two sets of normalised clips.

    Same formula as FID (Heusel et al. 2017), on the features of a network trained to transcribe the chorales
    instead of Inception's, as GANSynth (Engel et al. 2019) did with a pitch classifier. 0 for identical
    sets; two disjoint halves of the held-out real chorales score a small value; detuned chorales and noise
    score far more (see :func:`frechet_controls`). Like FID the estimate is biased upwards by a term that
    shrinks with the number of clips, so compare values measured on equally many clips.
    """
    return frechet_distance(*gaussian_stats(embed(model, clips_a)), *gaussian_stats(embed(model, clips_b)))


def audio_to_input(prepared, audio) -> np.ndarray:
    """Normalised log-mels ``(n, n_mels, n_frames)`` of audio clips ``(n, clip_samples)``, as the set's clips."""
    from musicgan.mel import log_mel_spectrogram

    mels = log_mel_spectrogram(torch.as_tensor(np.asarray(audio, dtype=np.float32)), prepared.mel_config)
    return prepared.normalizer.normalize(mels.numpy())


def held_out_halves(sources, rng, by: str = "piece") -> tuple[np.ndarray, np.ndarray]:
    """Two halves ``(a, b)`` of positions into ``sources`` (each clip's piece), sorted int arrays.

    ``by="piece"``: pieces are shuffled with ``rng`` and each goes whole to the half with fewer clips so far,
    so no piece is on both sides (the stricter baseline: two sets of different music). ``by="clip"``: a
    random half of the clips, whatever their piece.
    """
    check_choice(by, "by", ("piece", "clip"))
    sources, gen = np.asarray(sources), as_generator(rng)
    if by == "clip":
        order = gen.permutation(len(sources))
        return np.sort(order[: len(order) // 2]), np.sort(order[len(order) // 2:])
    names, index, counts = np.unique(sources, return_inverse=True, return_counts=True)
    if names.size < 2:
        raise ValueError(f"need at least 2 pieces to split by piece, got {names.size}")
    side, sizes = np.zeros(names.size, dtype=int), [0, 0]
    for piece in gen.permutation(names.size):
        side[piece] = int(sizes[1] < sizes[0])
        sizes[side[piece]] += counts[piece]
    return np.flatnonzero(side[index] == 0), np.flatnonzero(side[index] == 1)


def frechet_controls(model: Transcriber, prepared, held_idx, *, cents: float = 50.0, seeds=range(5),
                     by: str = "piece", workers: int = 2) -> dict:
    """The negative controls of the distance on the held-out clips ``held_idx`` of a chorale set.

    For each seed the held-out clips are split into halves A and B (:func:`held_out_halves`, ``by``), and
    ``half_half`` = d(A, B), ``detuned`` = d(A detuned by ``cents``, B) and ``noise`` = d(noise with the
    spectrum of A's audio, B) are measured, with ``detuned_ratio`` and ``noise_ratio`` to ``half_half``.
    Returns a dict of per-seed lists under those names, ``min_detuned_ratio`` / ``min_noise_ratio`` (the
    worst split) and the half sizes. A distance that hears pitch has both ratios well above 1 on every split.
    """
    from musicgan.controls import shaped_noise
    from musicgan.scorecard import source_audio

    held_idx = np.asarray(held_idx)
    audio = source_audio(prepared, held_idx, workers=workers)
    real = embed(model, prepared.normalizer.normalize(prepared.mels[held_idx]))
    detuned = embed(model, audio_to_input(prepared, source_audio(prepared, held_idx, cents=cents,
                                                                 workers=workers)))
    sources = np.asarray(prepared.sources)[held_idx]
    out = {key: [] for key in ("half_half", "detuned", "noise", "n_a", "n_b")}
    for seed in seeds:
        a, b = held_out_halves(sources, seed, by)
        noise = embed(model, audio_to_input(prepared, shaped_noise(audio[a], len(a), audio.shape[1], seed)))
        stats_b = gaussian_stats(real[b])
        for key, feats in (("half_half", real[a]), ("detuned", detuned[a]), ("noise", noise)):
            out[key].append(frechet_distance(*gaussian_stats(feats), *stats_b))
        out["n_a"].append(len(a))
        out["n_b"].append(len(b))
    for key in ("detuned", "noise"):
        out[f"{key}_ratio"] = [d / h for d, h in zip(out[key], out["half_half"])]
        out[f"min_{key}_ratio"] = min(out[f"{key}_ratio"])
    out.update(cents=cents, by=by)
    return out


# ---------------------------------------------------------------- training on a prepared set, saving, loading

def data_key(prepared) -> str:
    """Hash of what a prepared set holds -- its mel representation, clip hop, silence level and source --
    but not of the code that built it (``params["code"]``): a model stays valid across code changes that
    leave the clips the same, and is refused for another representation or source."""
    from musicgan.dataset import _params_key

    return _params_key({k: v for k, v in prepared.params.items() if k != "code"})


def fit_transcriber(prepared, *, held_out_fraction: float = 0.1, split_seed: int = 0, steps: int = 6000,
                    seed: int = 0, workers: int = 2, log=None, **train_kwargs) -> tuple[Transcriber, dict]:
    """Train on the training pieces of a chorale set and score on its held-out pieces.

    The split is the GAN's (``split_by_source`` with the same fraction and seed as ``DataConfig``), so the
    held-out pieces are unseen by both networks. Returns the model and a report: held-out ``f1``,
    ``precision``, ``recall``, ``loss``, clip counts, ``train_seconds`` (wall clock) and
    ``train_cpu_seconds`` (this process), the settings.
    Raises ValueError for a set that was not rendered from the bundled chorales (no scores to learn from).
    """
    from musicgan.dataset import split_by_source

    if prepared.params.get("source", {}).get("kind") != CHORALE_KIND:
        raise ValueError(f"{prepared.path}: the transcriber learns from the chorales' scores; this set has none "
                         f"(source kind {prepared.params.get('source', {}).get('kind')!r})")
    train_idx, held_idx = split_by_source(prepared, held_out_fraction, split_seed)
    notes = chorale_notes(prepared.source_names, workers=workers)
    norm = prepared.normalizer.normalize
    clock, cpu = time.perf_counter(), time.process_time()
    model = train_transcriber(norm(prepared.mels[train_idx]), clip_targets(prepared, notes, train_idx),
                              steps=steps, seed=seed, log=log, **train_kwargs)
    seconds, cpu_seconds = time.perf_counter() - clock, time.process_time() - cpu
    report = frame_scores(model, norm(prepared.mels[held_idx]), clip_targets(prepared, notes, held_idx))
    report.update(n_train=len(train_idx), n_held_out=len(held_idx), steps=steps, seed=seed,
                  held_out_fraction=held_out_fraction, split_seed=split_seed, train_seconds=round(seconds, 1),
                  train_cpu_seconds=round(cpu_seconds, 1))
    return model, report


def _plain(value) -> bool:
    """A number, string, or list of numbers: what ``torch.load(weights_only=True)`` reads back."""
    if isinstance(value, list):
        return all(isinstance(v, (int, float)) for v in value)
    return isinstance(value, (int, float, str))


def save_transcriber(model: Transcriber, path, prepared, report: dict | None = None) -> Path:
    """Write the weights, settings, the set's :func:`data_key` and mel settings, and ``report`` to ``path``.

    Holds only tensors, numbers, strings, lists and dicts: loads with ``torch.load(weights_only=True)``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"format": FORMAT, "settings": dict(model.settings), "data_key": data_key(prepared),
             "mel": prepared.mel_config.to_dict(), "state_dict": model.state_dict(),
             "report": {k: v for k, v in (report or {}).items() if _plain(v)}}
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    tmp.replace(path)
    return path


def load_transcriber(path, prepared=None) -> tuple[Transcriber, dict]:
    """Load a saved transcriber and its record; with ``prepared``, refuse one trained on another data set.

    Raises ValueError (one line, naming the file) for a file that is not a transcriber or whose data key
    differs from ``prepared``'s: its features would mean something else on another representation.
    """
    path = Path(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} file")
    if prepared is not None and state["data_key"] != data_key(prepared):
        raise ValueError(f"{path} was trained on data set {state['data_key']}, not on {data_key(prepared)} "
                         f"({prepared.path}): retrain it with `python -m musicgan transcriber`")
    settings = dict(state["settings"])
    model = Transcriber(settings.pop("n_mels"), **settings)
    model.load_state_dict(state["state_dict"])
    return model.eval(), {k: v for k, v in state.items() if k != "state_dict"}


# ---------------------------------------------------------------- command line

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="where to write the trained model (.pt)")
    parser.add_argument("--data", type=Path, help="prepared chorale set (default: the bundled chorales' set)")
    parser.add_argument("--mel", default="pitch256", help="representation of the bundled chorales' set when "
                        "--data is not given: pitch256 (default) or legacy64")
    parser.add_argument("--steps", type=int, default=6000, help="Adam steps of 32 clips (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="weights and batches (default %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="processes parsing scores (default %(default)s)")
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    parser.add_argument("--controls", action="store_true", help="also measure the detuned and noise controls")


def run(args) -> int:
    import sys

    from musicgan.dataset import ensure_default_dataset, load_prepared

    if args.out.exists() and not args.force:
        print(f"{args.out} exists: pass --force to overwrite it", file=sys.stderr)
        return 2
    from musicgan.mel import MEL_PRESETS

    if args.mel not in MEL_PRESETS:
        print(f"--mel must be one of {', '.join(MEL_PRESETS)}, got {args.mel!r}", file=sys.stderr)
        return 2
    if args.data is not None and not args.data.is_file():
        print(f"--data: no prepared data set at {args.data}", file=sys.stderr)
        return 2
    prepared = load_prepared(args.data or ensure_default_dataset(MEL_PRESETS[args.mel], progress=True))
    try:
        model, report = fit_transcriber(prepared, steps=args.steps, seed=args.seed, workers=args.workers, log=print)
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    if args.controls:
        from musicgan.dataset import split_by_source

        held = split_by_source(prepared, report["held_out_fraction"], report["split_seed"])[1]
        for by in ("piece", "clip"):
            controls = frechet_controls(model, prepared, held, by=by, workers=args.workers)
            report.update({f"fd_{by}_{k}": v for k, v in controls.items()})
    save_transcriber(model, args.out, prepared, report)
    print(json.dumps(report, indent=1))
    return 0
