"""Shared pytest set-up: no figure windows, the repository root on sys.path (see pyproject.toml), and a
fixture that runs a module's tests on one torch thread, and one that finds the files the book build writes."""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small networks and transforms run faster on one thread, and much faster when other jobs share the
    cores; use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def built_file():
    """``built_file(relative)``: the path of a file the book build writes, under the repository root; the test
    is skipped when it is missing, or fails with ``REQUIRE_BUILT_BOOK=1`` (as in CI)."""
    def find(relative: str) -> Path:
        path = ROOT / relative
        if not path.exists():
            if os.environ.get("REQUIRE_BUILT_BOOK") == "1":
                pytest.fail(f"{path} is missing: run `make book` before `make test`")
            pytest.skip(f"{relative} not built yet (make book)")
        return path
    return find
