"""Shared pytest set-up: no figure windows, the repository root on sys.path (see pyproject.toml), and a
fixture that runs a module's tests on one torch thread."""
import os

import pytest

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
