"""`make html` reads, and so executes, pages in parallel (bookkit.jb), and a page that fails still says why.

Sphinx reads in parallel only books of more than five documents, so these build a six-page throwaway book with
the project's config through the Makefile, as `make book` does.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from bookkit import jb

from throwaway_book import build_book

ROOT = Path(__file__).resolve().parents[1]
BODY = """# Page {i}

```{{code-cell}} ipython3
{code}
```
"""
# each page records when its cell ran, in seconds since the epoch
TIMED = "import time\nstart = time.time()\ntime.sleep(4)\nprint({i}, start, time.time())"


def make_book(tmp: Path, codes: list[str], jobs: int) -> subprocess.CompletedProcess:
    nonce = uuid.uuid4().hex    # the execution cache is the repository's (make -C ROOT): no hits from earlier runs
    pages = {f"page{i}": BODY.format(i=i, code=f"# {nonce}\n" + code.format(i=i)) for i, code in enumerate(codes)}
    return build_book(tmp, pages, env={"BOOK_JOBS": str(jobs)})


def cell_intervals(tmp: Path) -> list[tuple[float, float]]:
    spans = []
    for path in sorted((tmp / "_build" / "jupyter_execute").glob("page*.ipynb")):
        cell = next(c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        _, start, end = "".join(cell["outputs"][0]["text"]).split()
        spans.append((float(start), float(end)))
    return spans


@pytest.mark.slow
def test_pages_execute_two_at_a_time(tmp_path):
    result = make_book(tmp_path, [TIMED] * 6, jobs=2)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    spans = cell_intervals(tmp_path)
    assert len(spans) == 6
    overlapping = sum(a0 < b1 and b0 < a1 for i, (a0, a1) in enumerate(spans) for (b0, b1) in spans[i + 1:])
    assert overlapping >= 2, spans                     # serial execution would give none


@pytest.mark.slow
def test_a_failing_page_read_in_parallel_shows_its_error(tmp_path):
    codes = ["print({i})"] * 5 + ["x = 1\nraise RuntimeError('boom from a parallel page')"]
    result = make_book(tmp_path, codes, jobs=2)
    assert result.returncode != 0
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)   # myst-nb colours tracebacks
    assert "RuntimeError: boom from a parallel page" in output


def test_book_jobs_default_and_bad_values(monkeypatch, capsys):
    monkeypatch.delenv("BOOK_JOBS", raising=False)
    assert 1 <= jb.jobs() <= 4
    monkeypatch.setenv("BOOK_JOBS", "3")
    assert jb.jobs() == 3
    for bad in ("0", "two", "-1", ""):
        monkeypatch.setenv("BOOK_JOBS", bad)
        with pytest.raises(SystemExit) as exit_info:
            jb.jobs()
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "BOOK_JOBS" in err and repr(bad) in err


def test_read_first_pages_head_the_read_list_in_their_order():
    from types import SimpleNamespace

    from bookkit.sphinx_ext import read_slow_pages_first

    app = SimpleNamespace(config=SimpleNamespace(bookkit_read_first=["c", "missing", "a"]))
    docnames = ["a", "b", "c", "d"]
    read_slow_pages_first(app, None, docnames)
    assert docnames == ["c", "a", "b", "d"]


def test_waiting_tasks_start_oldest_first():
    waiting = jb._FirstInFirstOut()
    for tid in range(4):
        waiting[tid] = f"task {tid}"
    assert [waiting.popitem()[0] for _ in range(4)] == [0, 1, 2, 3]


def test_parallel_pages_get_one_thread_each_unless_the_user_chose(monkeypatch):
    for name in jb.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")
    jb.one_thread_per_page()
    assert os.environ["OMP_NUM_THREADS"] == "1" and os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert os.environ["MKL_NUM_THREADS"] == "3"
