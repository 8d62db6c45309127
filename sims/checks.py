"""Argument validation shared by the public functions of ``sims`` and ``musicgan``.

Every check returns the validated value (converted to a NumPy array where that
makes sense) and raises ``ValueError`` (``TypeError`` for a wrong kind of object)
with a one-line message that names the argument and the offending value, e.g.::

    >>> check_positive(-1.0, "sigma")
    Traceback (most recent call last):
    ValueError: sigma must be > 0, got -1.0

Public functions call these at their top, so a bad argument fails at the
call site with a readable reason instead of deep inside NumPy or torch.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = [
    "check_choice",
    "check_finite",
    "check_int",
    "check_positive",
    "check_probabilities",
    "check_shape",
]


def _short(value, limit: int = 60) -> str:
    """A repr of ``value`` short enough for a one-line error message."""
    text = repr(value).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_positive(value, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float after checking it is finite and > 0 (>= 0 with ``allow_zero``)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {_short(value)}") from None
    bound_ok = number >= 0 if allow_zero else number > 0
    if not np.isfinite(number) or not bound_ok:
        relation = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {relation}, got {_short(value)}")
    return number


def check_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int after checking ``low <= value <= high`` (bounds optional)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {_short(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"{name} must lie in [{lo}, {hi}], got {value}")
    return int(value)


def check_finite(array, name: str) -> np.ndarray:
    """Return ``array`` as a float array after checking it holds no NaN or infinity."""
    arr = np.asarray(array, dtype=float)
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} must be finite, found {bad} NaN/inf value(s)")
    return arr


def check_shape(array, shape: Sequence[int | None], name: str) -> np.ndarray:
    """Return ``array`` as an array after checking its shape; ``None`` in ``shape`` matches any size."""
    arr = np.asarray(array)
    ok = arr.ndim == len(shape) and all(s is None or s == n for s, n in zip(shape, arr.shape))
    if not ok:
        wanted = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {wanted}, got {tuple(arr.shape)}")
    return arr


def check_probabilities(weights, name: str, *, atol: float = 1e-9) -> np.ndarray:
    """Return ``weights`` as a 1-D float64 array after checking it is a probability vector, renormalised.

    The entries must be finite, non-negative and sum to one within ``atol``, or within the rounding of their
    own dtype (``n * eps``: ten float32 weights of 0.1 sum to 1.0000000149, which POT accepts too); the
    returned vector is divided by its sum, so it sums to one in float64.
    """
    given = np.asarray(weights)
    if np.issubdtype(given.dtype, np.floating):
        atol = max(atol, given.size * float(np.finfo(given.dtype).eps))
    arr = check_finite(weights, name)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D vector, got shape {tuple(arr.shape)}")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative, got min {arr.min():.3g}")
    total = float(arr.sum())
    if abs(total - 1.0) > atol:
        raise ValueError(f"{name} must sum to 1, got sum {total:.12g}")
    return arr if total == 1.0 else arr / total


def check_choice(value, name: str, choices: Iterable):
    """Return ``value`` after checking it is one of ``choices``."""
    options = tuple(choices)
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}; got {_short(value)}")
    return value
