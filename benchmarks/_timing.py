"""Clocks shared by the benchmarks: run a callable once and say how long it took.

``process_time`` counts the CPU seconds of this process (all its threads), which is what the speed goals are
stated in; ``perf_counter`` is the wall clock. The benchmarks run as scripts (``python benchmarks/bench_x.py``),
with the repository root on the path (as `make bench` and the pages run them), as `benchmarks._timing`.
"""
from __future__ import annotations

import time
from typing import Callable

__all__ = ["cpu_seconds", "timed"]


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """``(wall seconds, CPU seconds)`` of one call of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def cpu_seconds(fn: Callable[[], object]) -> float:
    """CPU seconds of this process for one call of ``fn()``."""
    return timed(fn)[1]
