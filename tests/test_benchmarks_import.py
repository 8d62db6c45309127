"""Every benchmark script loads as the pages load it: by file path, from book/, with the repository on the path.

The book's pages run some benchmarks in place (`book/music_data.md` loads `benchmarks/bench_mel.py` this way), so
a benchmark whose imports only work as ``python benchmarks/bench_x.py`` breaks the book build.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "benchmarks").glob("bench_*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_benchmark_loads_from_book_folder_by_path(script):
    code = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location('b', sys.argv[1]); "
            "spec.loader.exec_module(importlib.util.module_from_spec(spec))")
    result = subprocess.run([sys.executable, "-c", code, f"../benchmarks/{script.name}"], cwd=ROOT / "book",
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_there_are_benchmarks():
    assert len(SCRIPTS) >= 5 and importlib.util.find_spec("benchmarks._timing") is not None
