"""What a run folder holds and how to read it back: data, models, checkpoints, generated clips.

Layout of a run folder::

    config.json            the resolved RunConfig (``--config RUN/config.json`` reproduces it)
    run_info.json          git commit, torch version, device, world size, clip shape, timings
    logs/                  TensorBoard event files (``tensorboard --logdir RUN/logs``)
    checkpoints/ckpt-0001000.pt   full training state; zero-padded so the newest sorts last
    generator.pt           the final EMA generator alone (small; what ``sample`` and ``evaluate`` need)
    samples/               wav files and spectrogram PNGs written at the end of training

Every checkpoint holds only tensors, numbers, strings, lists and dicts, so it loads with
``torch.load(path, weights_only=True)``; it is written to a temporary file and renamed, so a crash
never leaves half a checkpoint under the real name.
"""
from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import numpy as np
import torch

from musicgan.config import DataConfig, RunConfig, load_config, migrate_saved
from musicgan.models import build_discriminator, build_generator
from sims.checks import check_int, check_positive

__all__ = ["frames_for_seconds", "load_data", "split_data", "build_models", "save_checkpoint", "checkpoint_paths",
           "latest_checkpoint", "load_checkpoint", "export_generator", "load_generator", "generate",
           "read_run_config", "CheckpointError", "newest_readable_checkpoint", "resolve_source",
           "decoding_record", "read_decoding", "load_for_sampling", "check_any_length"]

CHECKPOINT_DIR = "checkpoints"
GENERATOR_FILE = "generator.pt"


def resolve_source(source: str, run_dir=None) -> Path:
    """The file a ``data.source`` path names: absolute as given; relative, first against ``run_dir`` (where the
    run's config.json lives), then against the working directory. FileNotFoundError naming all tried."""
    path = Path(source).expanduser()
    tried = [path] if path.is_absolute() else ([Path(run_dir) / path] if run_dir else []) + [Path.cwd() / path]
    for candidate in tried:
        if candidate.is_file():
            return candidate
    where = " or ".join(str(t) for t in tried)
    raise FileNotFoundError(f"data.source {source!r}: no prepared data set at {where} "
                            "(give an absolute path, or make it with `python -m musicgan prepare`)")


def load_data(data_cfg: DataConfig, *, progress: bool = False, run_dir=None):
    """The PreparedSet named by ``data_cfg.source`` (bundled chorales, synthetic clips, or a file; a relative
    file path is looked for in ``run_dir`` first, then in the working directory)."""
    from musicgan.dataset import ensure_default_dataset, load_prepared

    if data_cfg.source == "synthetic":
        from musicgan.synthetic import synthetic_prepared_set

        return synthetic_prepared_set(data_cfg.synthetic_clips, data_cfg.synthetic_pieces,
                                      data_cfg.synthetic_size, seed=0)
    if data_cfg.source == "chorales":
        from musicgan.mel import MEL_PRESETS

        return load_prepared(ensure_default_dataset(MEL_PRESETS[data_cfg.mel], progress=progress))
    return load_prepared(resolve_source(data_cfg.source, run_dir))


def split_data(prepared, data_cfg: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    """Train and held-out clip indices, split by piece with ``data_cfg.split_seed``."""
    from musicgan.dataset import split_by_source

    return split_by_source(prepared, data_cfg.held_out_fraction, data_cfg.split_seed)


def build_models(cfg: RunConfig, n_mels: int, n_frames: int):
    """(net_G, net_D) for clips of shape (n_mels, n_frames), as the config says."""
    net_G = build_generator(cfg.model, n_mels, n_frames)
    net_D = build_discriminator(cfg.model, n_mels, n_frames, cfg.loss.pack)
    return net_G, net_D


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def checkpoint_paths(run_dir) -> list[Path]:
    """The run's checkpoints, oldest first (names are zero-padded step numbers)."""
    return sorted((Path(run_dir) / CHECKPOINT_DIR).glob("ckpt-*.pt"))


def latest_checkpoint(run_dir) -> Path | None:
    paths = checkpoint_paths(run_dir)
    return paths[-1] if paths else None


def save_checkpoint(state: dict, run_dir, step: int, keep: int) -> Path:
    """Write ``state`` as ``checkpoints/ckpt-<step>.pt`` atomically; delete all but the newest ``keep``."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ckpt-{step:07d}.pt"
    _atomic_save(state, path)
    for old in checkpoint_paths(run_dir)[:-keep]:
        old.unlink()
    return path


class CheckpointError(ValueError):
    """A checkpoint or ``generator.pt`` that cannot be read (truncated, damaged, or not a checkpoint)."""


def load_checkpoint(path, device="cpu") -> dict:
    """The dict saved in ``path`` (tensors, numbers, strings only); CheckpointError, naming it, if unreadable."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:                  # torch raises RuntimeError, EOFError, UnpicklingError, ...
        reason = " ".join(str(err).split())[:100] or type(err).__name__
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or damaged? {reason})") from None
    if not isinstance(state, dict) or "G_ema" not in state or "config" not in state:
        raise CheckpointError(f"{path} is not a checkpoint of this program (no generator weights or config)")
    return state


def newest_readable_checkpoint(run_dir, device="cpu", log=None) -> tuple[Path, dict] | None:
    """(path, state) of the newest checkpoint that loads; each unreadable newer one is named through ``log``."""
    for path in reversed(checkpoint_paths(run_dir)):
        try:
            return path, load_checkpoint(path, device)
        except CheckpointError as err:
            if log is not None:
                log(f"warning: {err}; trying an older checkpoint")
    return None


def decoding_record(mel_config, normalizer) -> dict:
    """What turns generated [-1, 1] clips back into dB and audio: mel settings and the per-band normaliser."""
    return {"mel": mel_config.to_dict(), "band_mean": torch.as_tensor(np.asarray(normalizer.mean, np.float64)),
            "band_std": torch.as_tensor(np.asarray(normalizer.std, np.float64)), "n_std": float(normalizer.n_std)}


def read_decoding(record: dict):
    """(Normalizer, MelConfig) from :func:`decoding_record`'s dict."""
    from musicgan.dataset import Normalizer
    from musicgan.mel import MelConfig

    return (Normalizer(record["band_mean"].numpy(), record["band_std"].numpy(), record["n_std"]),
            MelConfig.from_dict(record["mel"]))


def export_generator(run_dir, cfg: RunConfig, ema_state: dict, shape: tuple[int, int], step: int,
                     decoding: dict | None = None) -> Path:
    """Write the small ``generator.pt``: EMA weights, config, clip shape and the decoding record, enough to
    sample without the training data (``decoding``: :func:`decoding_record`)."""
    payload = {"G_ema": ema_state, "config": cfg.to_dict(), "shape": list(shape), "step": step}
    if decoding is not None:
        payload["decoding"] = decoding
    path = Path(run_dir) / GENERATOR_FILE
    _atomic_save(payload, path)
    return path


def read_run_config(run_dir) -> RunConfig:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no config.json)")
    return load_config(str(path), saved=True)


def _generator_state(run_dir: Path, device, log) -> dict:
    """The state of ``generator.pt``, else of the newest readable checkpoint (saying why)."""
    path = run_dir / GENERATOR_FILE
    if path.is_file():
        try:
            return load_checkpoint(path, device)
        except CheckpointError as err:
            log(f"warning: {err}; using the newest readable checkpoint instead")
    found = newest_readable_checkpoint(run_dir, device, log)
    if found is None:
        if not run_dir.is_dir():
            raise FileNotFoundError(f"no run folder {run_dir}")
        raise FileNotFoundError(f"{run_dir} holds no readable {GENERATOR_FILE} or checkpoint")
    return found[1]


def load_generator(run_dir, checkpoint=None, device="cpu", log=None):
    """(net_G in eval mode, RunConfig, (n_mels, n_frames), step) from ``generator.pt`` or a checkpoint.

    Without ``checkpoint`` the run's ``generator.pt`` is used, else its newest checkpoint; both hold the
    exponential moving average of G's weights, which is what we sample from.
    """
    run_dir = Path(run_dir)
    log = log or (lambda message: print(message, file=sys.stderr))
    path = Path(checkpoint) if checkpoint else run_dir / GENERATOR_FILE
    if checkpoint:
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint file {path}")
        state = load_checkpoint(path, device)
    else:
        state = _generator_state(run_dir, device, log)
    return _generator_from_state(state, device)


def _generator_from_state(state: dict, device):
    cfg = RunConfig.from_dict(migrate_saved(state["config"]))
    shape = tuple(state["shape"])
    net_G = build_generator(cfg.model, *shape).to(device)
    net_G.load_state_dict(state["G_ema"])
    return net_G.eval(), cfg, shape, int(state["step"])


def load_for_sampling(run_dir, checkpoint=None, device="cpu", log=None):
    """(net_G, RunConfig, shape, step, Normalizer, MelConfig): everything ``sample`` needs.

    The normaliser and mel settings come from the file's decoding record; a file written before that record
    existed falls back to the data set its config names (relative paths against ``run_dir``), saying so, and
    fails with one line if that data set cannot be read.
    """
    run_dir = Path(run_dir)
    log = log or (lambda message: print(message, file=sys.stderr))
    if checkpoint:
        if not Path(checkpoint).is_file():
            raise FileNotFoundError(f"no checkpoint file {checkpoint}")
        state = load_checkpoint(checkpoint, device)
    else:
        state = _generator_state(run_dir, device, log)
    net_G, cfg, shape, step = _generator_from_state(state, device)
    if "decoding" in state:
        return (net_G, cfg, shape, step, *read_decoding(state["decoding"]))
    log(f"note: {run_dir} was written before generator files held their normaliser; reading it from the "
        f"data set {cfg.data.source!r}")
    try:
        prepared = load_data(cfg.data, run_dir=run_dir)
    except (FileNotFoundError, ValueError) as err:
        raise FileNotFoundError(f"{run_dir}: its generator holds no normaliser and its data set cannot be "
                                f"read: {err}") from None
    return net_G, cfg, shape, step, prepared.normalizer, prepared.mel_config


def frames_for_seconds(seconds: float, mel_cfg) -> int:
    """Mel frames whose decoded audio (``hop_length * (frames - 1)`` samples) lasts at least ``seconds``."""
    check_positive(seconds, "seconds")
    return 1 + math.ceil(seconds * mel_cfg.sample_rate / mel_cfg.hop_length)


def check_any_length(net_G, what: str = "this generator") -> None:
    """Raise ValueError (one line naming ``what``) unless ``net_G`` makes pieces of any length.

    The recurrent generator and the conv one with ``model.conv_latent = "sequence"`` do: they say how many latent
    vectors a piece of ``n`` frames needs (``latent_shape_for``). The conv generator with one latent vector per
    clip (``model.conv_latent = "vector"``, the first design) makes clips of one fixed length.
    """
    if not hasattr(net_G, "latent_shape_for"):
        raise ValueError(f"{what} makes clips of one fixed length (a conv generator trained with "
                         "model.conv_latent=vector); runs trained with model.conv_latent=sequence or a recurrent "
                         "generator make any length")


@torch.no_grad()
def generate(net_G, n: int, seed: int, *, n_frames: int | None = None, batch: int = 250,
             device="cpu") -> np.ndarray:
    """``n`` clips from ``net_G`` as float32 numpy ``(n, n_mels, n_frames)`` in [-1, 1]; seeded, batched.

    ``n_frames=None`` gives the training clip length; any other length needs a generator that makes pieces of
    any length (``latent_shape_for``: the recurrent one, and the conv one with ``model.conv_latent =
    "sequence"``); ValueError for a fixed-size generator.
    """
    check_int(n, "n", low=1)
    shape = net_G.latent_shape
    if n_frames is not None:
        check_int(n_frames, "n_frames", low=1)
        check_any_length(net_G)
        shape = net_G.latent_shape_for(n_frames)
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(n, *shape, generator=rng)
    out = [net_G(z[i:i + batch].to(device)).squeeze(1).cpu() for i in range(0, n, batch)]
    clips = torch.cat(out)
    return (clips if n_frames is None else clips[..., :n_frames]).numpy()
