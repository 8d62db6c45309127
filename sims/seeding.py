"""Explicit randomness: every random draw in the book goes through a generator passed in.

Nothing here seeds anything as a side effect of being imported.
"""
from __future__ import annotations

import os
import random

import numpy as np

__all__ = ["as_generator", "seed_everything"]


def as_generator(seed_or_rng) -> np.random.Generator:
    """Return a NumPy ``Generator``: pass one through, or build one from an integer seed.

    ``None`` is refused on purpose: an unseeded draw would make a figure change
    from one build to the next.
    """
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    if seed_or_rng is None or isinstance(seed_or_rng, bool):
        raise TypeError("a seed (int) or numpy Generator is required, got " + repr(seed_or_rng))
    if not isinstance(seed_or_rng, (int, np.integer)) or seed_or_rng < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed_or_rng!r}")
    return np.random.default_rng(int(seed_or_rng))


def seed_everything(seed: int, *, deterministic: bool = True):
    """Seed Python, NumPy and torch (when installed) for a training script; return a torch.Generator.

    ``deterministic`` asks torch for deterministic kernels where they exist, so
    the same seed gives the same run on the same machine and library versions.
    Library code should still take an explicit generator instead of relying on
    the global state this sets.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import torch
    except ImportError:  # the theory-only chapters do not need torch
        return None
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return torch.Generator().manual_seed(seed)
