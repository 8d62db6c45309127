"""``jupyter-book`` with the pages read, and so executed, several at a time: ``python -m bookkit.jb build ...``.

Jupyter Book 1.x always asks Sphinx for one process, so the pages' notebooks run one after another even on a
machine with idle cores; Sphinx itself can read (and so myst-nb can execute) documents in parallel
processes. This runs jupyter-book's own command line with three changes: Sphinx gets ``BOOK_JOBS`` processes
(default: the number of CPU cores, at most 4); documents are handed out one at a time rather than in equal
batches; and they start in the order of the read list (Sphinx 7.4 starts the last one first), which
``bookkit_read_first`` in ``_config.yml`` heads with the slowest pages, so that the short ones fill the other
processes meanwhile. All extensions the book uses declare themselves safe for parallel reading (see
``bookkit.sphinx_ext``); any that does not makes Sphinx warn (an error under ``-W``) and read serially.
"""
from __future__ import annotations

import os
import sys

__all__ = ["jobs", "main", "one_thread_per_page", "report_worker_traceback"]


def jobs() -> int:
    """Processes for Sphinx: ``$BOOK_JOBS`` if set (an integer >= 1), else min(CPU cores, 4).

    A bad ``BOOK_JOBS`` prints one line naming the value and exits with status 2.
    """
    value = os.environ.get("BOOK_JOBS")
    if value is None:
        return max(1, min(os.cpu_count() or 1, 4))
    if not value.isdigit() or int(value) < 1:
        print(f"error: BOOK_JOBS must be a whole number >= 1, got {value!r}", file=sys.stderr)
        raise SystemExit(2)
    return int(value)


def one_per_chunk(arguments, nproc, maxbatch=10):
    """Sphinx's ``make_chunks`` replacement: every document is its own task."""
    return [[name] for name in arguments]


class _FirstInFirstOut(dict):
    """A dict whose ``popitem`` returns the oldest item (Sphinx's waiting tasks, in the order they were added)."""

    def popitem(self):
        key = next(iter(self))
        return key, self.pop(key)


def fifo_parallel_tasks():
    """Sphinx's ``ParallelTasks``, starting waiting tasks in the order they were added.

    Sphinx 7.4 starts the waiting task added last (``dict.popitem``), so documents are read in reverse order;
    with this they start in the order of the read list.
    """
    from sphinx.util.parallel import ParallelTasks

    class FifoParallelTasks(ParallelTasks):
        def __init__(self, nproc: int) -> None:
            super().__init__(nproc)
            self._precvsWaiting = _FirstInFirstOut()

    return FifoParallelTasks


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def one_thread_per_page() -> None:
    """Give every page's kernel (they inherit this environment) one math-library thread unless the user chose.

    With pages running side by side, kernels whose torch/BLAS use a thread per core oversubscribe the machine
    and spin-wait: on the 2-core reference machine a parallel cold build took 13 % more CPU time with the
    default threads than with one (1180 against 1040 CPU seconds). Pages that start worker processes
    (``workers=2``) still use every core.
    """
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, "1")


def report_worker_traceback(result) -> None:
    """Print the traceback a Sphinx worker process sent with its error (a failing cell, with its source).

    In a parallel read a page that fails to execute fails in a worker; Sphinx passes on only the exception's
    one-line message and keeps the worker's traceback (which holds myst-nb's report of the failing cell) in
    ``SphinxParallelError.traceback``; jupyter-book shows just the message.
    """
    traceback = getattr(result, "traceback", None)
    if isinstance(result, BaseException) and traceback:
        print(f"\nThe error as the worker process that read the page reported it:\n{traceback}", file=sys.stderr)


def main(argv=None) -> None:
    import jupyter_book.sphinx as jb_sphinx
    import sphinx.builders as builders
    from jupyter_book.cli.main import main as jb_main

    n = jobs()
    if n > 1:
        one_thread_per_page()
    original = jb_sphinx.build_sphinx

    def build_sphinx(*args, jobs=None, **kwargs):
        result = original(*args, jobs=n if jobs in (None, 1) else jobs, **kwargs)
        report_worker_traceback(result)
        return result

    jb_sphinx.build_sphinx = build_sphinx
    builders.make_chunks = one_per_chunk
    builders.ParallelTasks = fifo_parallel_tasks()
    sys.argv = ["jupyter-book", *(sys.argv[1:] if argv is None else argv)]
    jb_main()


if __name__ == "__main__":
    main()
