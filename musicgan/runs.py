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

import json
import os
from pathlib import Path

import numpy as np
import torch

from musicgan.config import DataConfig, RunConfig, load_config, migrate_saved
from musicgan.models import build_discriminator, build_generator
from sims.checks import check_int

__all__ = ["load_data", "split_data", "build_models", "save_checkpoint", "checkpoint_paths",
           "latest_checkpoint", "load_checkpoint", "export_generator", "load_generator", "generate",
           "read_run_config"]

CHECKPOINT_DIR = "checkpoints"
GENERATOR_FILE = "generator.pt"


def load_data(data_cfg: DataConfig, *, progress: bool = False):
    """The PreparedSet named by ``data_cfg.source`` (bundled chorales, synthetic clips, or a file)."""
    from musicgan.dataset import ensure_default_dataset, load_prepared

    if data_cfg.source == "synthetic":
        from musicgan.synthetic import synthetic_prepared_set

        return synthetic_prepared_set(data_cfg.synthetic_clips, data_cfg.synthetic_pieces,
                                      data_cfg.synthetic_size, seed=0)
    if data_cfg.source == "chorales":
        from musicgan.mel import MEL_PRESETS

        return load_prepared(ensure_default_dataset(MEL_PRESETS[data_cfg.mel], progress=progress))
    path = Path(data_cfg.source)
    if not path.is_file():
        raise FileNotFoundError(f"data.source: no prepared data set at {path} (use `python -m musicgan prepare`)")
    return load_prepared(path)


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


def load_checkpoint(path, device="cpu") -> dict:
    return torch.load(path, map_location=device, weights_only=True)


def export_generator(run_dir, cfg: RunConfig, ema_state: dict, shape: tuple[int, int], step: int) -> Path:
    """Write the small ``generator.pt``: EMA weights, config and clip shape, enough to sample."""
    payload = {"G_ema": ema_state, "config": cfg.to_dict(), "shape": list(shape), "step": step}
    path = Path(run_dir) / GENERATOR_FILE
    _atomic_save(payload, path)
    return path


def read_run_config(run_dir) -> RunConfig:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no config.json)")
    return load_config(str(path), saved=True)


def load_generator(run_dir, checkpoint=None, device="cpu"):
    """(net_G in eval mode, RunConfig, (n_mels, n_frames), step) from ``generator.pt`` or a checkpoint.

    Without ``checkpoint`` the run's ``generator.pt`` is used, else its newest checkpoint; both hold the
    exponential moving average of G's weights, which is what we sample from.
    """
    run_dir = Path(run_dir)
    path = Path(checkpoint) if checkpoint else run_dir / GENERATOR_FILE
    if not path.is_file():
        path = latest_checkpoint(run_dir)
        if path is None:
            raise FileNotFoundError(f"{run_dir} holds neither {GENERATOR_FILE} nor a checkpoint")
    state = load_checkpoint(path, device)
    cfg = RunConfig.from_dict(migrate_saved(state["config"]))
    shape = tuple(state["shape"])
    net_G = build_generator(cfg.model, *shape).to(device)
    net_G.load_state_dict(state["G_ema"])
    return net_G.eval(), cfg, shape, int(state["step"])


@torch.no_grad()
def generate(net_G, n: int, seed: int, *, batch: int = 250, device="cpu") -> np.ndarray:
    """``n`` clips from ``net_G`` as float32 numpy ``(n, n_mels, n_frames)`` in [-1, 1]; seeded, batched."""
    check_int(n, "n", low=1)
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(n, *net_G.latent_shape, generator=rng)
    out = [net_G(z[i:i + batch].to(device)).squeeze(1).cpu() for i in range(0, n, batch)]
    return torch.cat(out).numpy()
