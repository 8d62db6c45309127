"""Prepared mel data sets: building them, the versioned file that holds them, normalisation, splits by piece.

A prepared set is one ``.npz`` file (uncompressed, no pickled objects) holding

- ``mels``: float16 ``(n_clips, n_mels, n_frames)``, log-mel values in dB (float16 keeps 11 significant bits:
  an error below 0.02 dB for the levels music reaches, far under what the ear or the GAN resolves);
- ``source_index`` / ``source_names``: which piece or file each clip came from, so splits can be made by piece;
- ``starts``: the first sample of each clip in its source;
- ``band_mean`` / ``band_std``: per-band statistics over all clips, for :class:`Normalizer`;
- ``params``: JSON of everything that produced the file -- format version, mel parameters, clip hop,
  silence level, the source and, for the default set, a hash of the code that renders it;
- ``info``: JSON of facts about the build that do not define the contents (how long it took).

:func:`load_prepared` refuses a file of another format version, and :func:`ensure_default_dataset` names its
cache file after a hash of the parameters (and checks them again on loading), so a set prepared with other
parameters, or by other code, is never reused silently.
"""
from __future__ import annotations

import hashlib
import json
import os
import resource
import sys
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from musicgan.audio import SILENCE_DB, clip_audio, display_name
from musicgan.mel import MelConfig, log_mel_spectrogram
from sims.checks import check_int, check_positive
from sims.seeding import as_generator

__all__ = ["FORMAT_VERSION", "DATA_DIR_ENV", "Normalizer", "PreparedSet", "MelAccumulator", "save_prepared",
           "load_prepared", "read_params", "default_cache_dir", "default_params", "ensure_default_dataset",
           "default_set_path", "build_chorale_set", "split_by_source",
           "clip_source_audio"]

FORMAT_VERSION = 1
DATA_DIR_ENV = "MUSICGAN_DATA_DIR"                # overrides the default cache folder
REPO_ROOT = Path(__file__).resolve().parents[1]
CODE_FILES = ("mel.py", "audio.py", "chorales.py", "dataset.py")   # what decides the default set's contents
N_STD = 3.0                                       # SpecGAN: +-3 standard deviations map to +-1


@dataclass(frozen=True)
class Normalizer:
    """Per-band standardisation to [-1, 1] and its inverse, on numpy arrays or torch tensors.

    normalize: x = clip((m - mean_band) / (n_std * std_band), -1, 1) for a mel in dB ``(..., n_mels, n_frames)``.
    denormalize: m = x * n_std * std_band + mean_band, the exact inverse wherever no clipping happened (values
    within n_std standard deviations of their band mean); clipped values come back as mean +- n_std * std.
    """

    mean: np.ndarray              # (n_mels,) dB
    std: np.ndarray               # (n_mels,) dB
    n_std: float = N_STD

    @classmethod
    def fit(cls, mels_db, n_std: float = N_STD) -> "Normalizer":
        """Mean and std of each band over all clips and frames of ``mels_db`` ``(n_clips, n_mels, n_frames)``."""
        mels = np.asarray(mels_db)
        if mels.ndim != 3 or mels.shape[0] == 0:
            raise ValueError(f"mels_db must have shape (n_clips > 0, n_mels, n_frames), got {mels.shape}")
        mean, std = _band_stats(mels)
        return cls(mean, std, n_std)

    def __post_init__(self):
        if not (np.all(np.isfinite(self.mean)) and np.all(np.isfinite(self.std))):
            raise ValueError("band mean and std must be finite (the data set holds NaN or infinite values)")
        if np.any(np.asarray(self.std) <= 0):
            raise ValueError("std must be > 0 in every band (a constant band cannot be normalised)")
        check_positive(self.n_std, "n_std")

    def _stats_like(self, x):
        scale, mean = self.n_std * np.asarray(self.std), np.asarray(self.mean)
        if isinstance(x, torch.Tensor):
            as_t = lambda v: torch.as_tensor(v, dtype=x.dtype, device=x.device)[:, None]  # noqa: E731
            return as_t(scale), as_t(mean)
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
        return scale.astype(dtype)[:, None], mean.astype(dtype)[:, None]

    def normalize(self, mels_db):
        """dB ``(..., n_mels, n_frames)`` -> values in [-1, 1], same type, dtype and device."""
        x = mels_db if isinstance(mels_db, torch.Tensor) else np.asarray(mels_db)
        scale, mean = self._stats_like(x)
        z = (x - mean) / scale
        return z.clamp(-1.0, 1.0) if isinstance(z, torch.Tensor) else np.clip(z, -1.0, 1.0)

    def denormalize(self, x):
        """[-1, 1] ``(..., n_mels, n_frames)`` -> dB, same type, dtype and device."""
        x = x if isinstance(x, torch.Tensor) else np.asarray(x)
        scale, mean = self._stats_like(x)
        return x * scale + mean


def _band_stats(mels: np.ndarray, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and std (float64) of ``(n_clips, n_mels, n_frames)``, in chunks to bound memory."""
    total, total_sq, count = 0.0, 0.0, 0
    for start in range(0, mels.shape[0], chunk):
        block = mels[start:start + chunk].astype(np.float64)
        total = total + block.sum(axis=(0, 2))
        total_sq = total_sq + np.square(block).sum(axis=(0, 2))
        count += block.shape[0] * block.shape[2]
    mean = total / count
    return mean, np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))


@dataclass
class PreparedSet:
    """A prepared data set in memory. ``mels`` float32 ``(n_clips, n_mels, n_frames)`` in dB."""

    mels: np.ndarray
    mel_config: MelConfig
    sources: list[str]
    starts: np.ndarray            # (n_clips,) first sample of each clip in its source
    normalizer: Normalizer
    params: dict = field(default_factory=dict)
    path: Path | None = None
    info: dict = field(default_factory=dict)

    @property
    def n_clips(self) -> int:
        return int(self.mels.shape[0])

    @property
    def total_seconds(self) -> float:
        return self.n_clips * self.mel_config.clip_seconds

    @property
    def source_names(self) -> list[str]:
        return sorted(set(self.sources))


class MelAccumulator:
    """Collects clips of audio, turns them into float16 log-mels in batches, remembers where each came from."""

    def __init__(self, cfg: MelConfig, batch: int = 256):
        self.cfg, self.batch = cfg, batch
        self._pending: list[np.ndarray] = []
        self._mels: list[np.ndarray] = []
        self.sources: list[str] = []
        self.starts: list[np.ndarray] = []

    def add(self, source: str, clips: np.ndarray, starts: np.ndarray) -> None:
        self._pending.append(clips)
        self.sources += [source] * len(clips)
        self.starts.append(np.asarray(starts, dtype=np.int64))
        if sum(len(c) for c in self._pending) >= self.batch:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            clips = torch.from_numpy(np.concatenate(self._pending))
            self._mels.append(log_mel_spectrogram(clips, self.cfg).numpy().astype(np.float16))
            self._pending = []

    def mels(self) -> np.ndarray:
        self._flush()
        shape = (0, self.cfg.n_mels, self.cfg.clip_frames)
        return np.concatenate(self._mels) if self._mels else np.zeros(shape, np.float16)


def save_prepared(path, acc: MelAccumulator, params: dict, info: dict | None = None) -> Path:
    """Write the accumulated clips and ``params`` to ``path`` atomically (a reader never sees half a file)."""
    mels = acc.mels()
    if mels.shape[0] == 0:
        raise ValueError("no clips to save: every file was skipped or silent")
    names, source_index = np.unique(np.array(acc.sources), return_inverse=True)
    _check_finite_mels(mels, names[source_index], "the data set to be written")
    mean, std = _band_stats(mels)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, mels=mels, source_index=source_index.astype(np.int32), source_names=names,
                     starts=np.concatenate(acc.starts), band_mean=mean, band_std=std,
                     params=np.array(json.dumps(params, sort_keys=True)), info=np.array(json.dumps(info or {})))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)                  # never leave a stray temporary file behind
    return path


def _check_finite_mels(mels: np.ndarray, sources, what: str) -> None:
    """ValueError naming the sources of any clip holding NaN or infinite values: they must never be used."""
    bad = ~np.isfinite(mels.reshape(len(mels), -1)).all(axis=1) if len(mels) else np.zeros(0, bool)
    if bad.any():
        names = sorted({display_name(str(n)) for n in np.asarray(sources)[bad]})
        raise ValueError(f"{what} holds {int(bad.sum())} clip(s) with NaN or infinite values, from "
                         f"{', '.join(names[:5])}{' ...' if len(names) > 5 else ''}")


NOT_PREPARED = "is not a prepared mel data set ({why}): make one with `python -m musicgan prepare`"


def read_params(path) -> dict:
    """The parameters recorded in a prepared file (without loading its mels).

    ValueError, one line naming the file, for anything that is not a readable prepared set (a .wav, a
    truncated or damaged .npz, a .npz of other arrays); FileNotFoundError if there is no such file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no prepared data set at {path} (make one with `python -m musicgan prepare`)")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files") or "params" not in data.files:
                raise ValueError("no 'params' record")
            return json.loads(str(data["params"]))
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError, UnicodeDecodeError) as err:
        why = str(err) if str(err) == "no 'params' record" else f"cannot read it as .npz: {_short_reason(err)}"
        raise ValueError(f"{path} " + NOT_PREPARED.format(why=why)) from None


def _short_reason(err: Exception) -> str:
    text = " ".join(str(err).split())
    if "allow_pickle" in text:                        # numpy's advice to unpickle: never take it for data files
        return "not an .npz archive"
    return (text[:80] + "...") if len(text) > 80 else (text or type(err).__name__)


def load_prepared(path) -> PreparedSet:
    """Load a prepared set; a file written by another format version is refused with a clear message."""
    path = Path(path)
    params = read_params(path)
    version = params.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(f"{path} has format version {version}, this code reads version {FORMAT_VERSION}: "
                         "prepare it again with `python -m musicgan prepare`")
    try:
        with np.load(path, allow_pickle=False) as data:
            names = [str(n) for n in data["source_names"]]
            mels, index = data["mels"].astype(np.float32), data["source_index"]
            sources = [names[i] for i in index]
            _check_finite_mels(mels, sources, "it")
            return PreparedSet(mels=mels, mel_config=MelConfig.from_dict(params["mel"]), sources=sources,
                               starts=data["starts"], normalizer=Normalizer(data["band_mean"], data["band_std"]),
                               params=params, path=path,
                               info=json.loads(str(data["info"])) if "info" in data.files else {})
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, IndexError) as err:
        raise ValueError(f"{path} " + NOT_PREPARED.format(why=f"damaged: {_short_reason(err)}")) from None
    except ValueError as err:
        raise ValueError(f"{path} cannot be used: {err}; prepare it again with `python -m musicgan prepare`") from None


def default_cache_dir(cache_dir=None) -> Path:
    """``cache_dir`` if given, else ``$MUSICGAN_DATA_DIR``, else ``_build/musicgan-data`` in the repository."""
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(os.environ.get(DATA_DIR_ENV) or REPO_ROOT / "_build" / "musicgan-data")


def _code_hash() -> str:
    digest = hashlib.sha256()
    for name in CODE_FILES:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:16]


def default_params(cfg: MelConfig, renderer: str = "harmonic", clip_hop_frames: int | None = None,
                   silence_db: float = SILENCE_DB, soundfont=None) -> dict:
    """The full record of the default (Bach chorales) set built with these settings."""
    import music21

    from musicgan.chorales import HARMONIC_AMPLITUDES, chorale_paths

    hop_frames = cfg.clip_frames - 1 if clip_hop_frames is None else check_int(clip_hop_frames, "clip_hop_frames", low=1)
    source = {"kind": "music21-bach-chorales", "music21": music21.__version__, "renderer": renderer,
              "pieces": [p.name for p in chorale_paths()]}
    source.update({"harmonics": list(HARMONIC_AMPLITUDES)} if renderer == "harmonic"
                  else {"soundfont": str(soundfont)})
    return {"format_version": FORMAT_VERSION, "mel": cfg.to_dict(), "clip_hop_samples": hop_frames * cfg.hop_length,
            "silence_db": float(silence_db), "source": source, "code": _code_hash()}


def _params_key(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]


def build_chorale_set(out, params: dict, *, workers: int = 2, progress: bool = False,
                      log: Callable[[str], None] | None = None) -> Path:
    """Render every chorale, cut it into clips, compute log-mels, write the set described by ``params``."""
    from musicgan.chorales import iter_rendered_chorales

    cfg, source = MelConfig.from_dict(params["mel"]), params["source"]
    clock = _Stopwatch()
    acc = MelAccumulator(cfg)
    pieces = iter_rendered_chorales(cfg.sample_rate, source["renderer"], source.get("soundfont"), workers=workers)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)          # the workers use the other cores; more threads would only contend
    try:
        for name, audio in _maybe_progress(pieces, progress, total=len(source["pieces"]), unit="piece"):
            clips, starts = clip_audio(audio, cfg.clip_samples, params["clip_hop_samples"], params["silence_db"])
            acc.add(name, clips, starts)
    finally:
        torch.set_num_threads(threads)
    path = save_prepared(out, acc, params, info={"workers": workers, **clock.read()})
    if log is not None:
        log(f"{len(source['pieces'])} chorales -> {len(acc.sources)} clips in {path}")
    return path


class _Stopwatch:
    """Wall-clock and CPU seconds since creation, the CPU time including finished child processes."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), self._cpu()

    @staticmethod
    def _cpu() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime

    def read(self) -> dict:
        return {"build_wall_s": round(time.perf_counter() - self.wall, 2), "build_cpu_s": round(self._cpu() - self.cpu, 2)}


def _maybe_progress(iterable: Iterable, progress: bool, **kwargs) -> Iterable:
    if not progress:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, file=sys.stderr, **kwargs)


def default_set_path(params: dict, cache_dir=None) -> Path:
    """Where the default set with these parameters is cached: the name carries a hash of ``params``."""
    renderer = params["source"]["renderer"]
    return default_cache_dir(cache_dir) / f"bach-chorales-{renderer}-{_params_key(params)}.npz"


def ensure_default_dataset(cfg: MelConfig | None = None, cache_dir=None, progress: bool = False, *,
                           renderer: str = "harmonic", soundfont=None, workers: int | None = None) -> Path:
    """Path of the bundled-chorales set for these parameters, building it first if no valid cache exists.

    The cache file lives in :func:`default_cache_dir` and is named after a hash of the parameters; an
    existing file is reused only if the parameters it records are exactly these.
    """
    cfg = MelConfig() if cfg is None else cfg
    if renderer == "fluidsynth":
        from musicgan.chorales import find_soundfont

        soundfont = soundfont or find_soundfont()
    params = default_params(cfg, renderer, soundfont=soundfont)
    path = default_set_path(params, cache_dir)
    if path.is_file():
        try:
            if read_params(path) == params:
                return path
        except (OSError, ValueError, KeyError):
            pass                      # unreadable or foreign: rebuild it
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    return build_chorale_set(path, params, workers=workers, progress=progress)


def split_by_source(prepared, held_out_fraction: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Train and held-out clip indices such that no piece has clips on both sides.

    Pieces are shuffled with ``rng`` (seed or Generator) and moved to the held-out side until it holds at
    least ``held_out_fraction`` of the clips. ``prepared``: a PreparedSet or the list of each clip's source.
    Returns two sorted int64 arrays.
    """
    fraction = check_positive(held_out_fraction, "held_out_fraction")
    if fraction >= 1:
        raise ValueError(f"held_out_fraction must be < 1, got {held_out_fraction}")
    sources = np.asarray(prepared.sources if isinstance(prepared, PreparedSet) else list(prepared))
    names, index, counts = np.unique(sources, return_inverse=True, return_counts=True)
    if names.size < 2:
        raise ValueError(f"need at least 2 distinct sources to split, got {names.size}")
    order = as_generator(rng).permutation(names.size)
    n_held = np.searchsorted(np.cumsum(counts[order]), fraction * sources.size) + 1
    held = np.isin(index, order[:min(n_held, names.size - 1)])
    return np.flatnonzero(~held), np.flatnonzero(held)


def clip_source_audio(prepared: PreparedSet, index: int, *, whole: bool = False) -> np.ndarray:
    """The audio ``(clip_samples,)`` of clip ``index``, re-rendered (chorales) or re-read (a folder); with
    ``whole=True`` the audio of its whole source piece (``prepared.starts`` index into it)."""
    cfg, source = prepared.mel_config, prepared.params["source"]
    check_int(index, "index", low=0, high=prepared.n_clips - 1)
    name, start = prepared.sources[index], int(prepared.starts[index])
    if source["kind"] == "music21-bach-chorales":
        from musicgan.chorales import chorale_paths, render_chorale

        path = next(p for p in chorale_paths() if p.name == name)
        audio = render_chorale(path, cfg.sample_rate, source["renderer"], source.get("soundfont"))
    else:
        from musicgan.folders import file_loader

        audio = file_loader(source)(Path(source["path"]) / name, cfg.sample_rate)
    return audio if whole else audio[start:start + cfg.clip_samples]
