"""A throwaway book with the project's ``_config.yml``, built by the project's Makefile as `make book` builds.

Shared by the build tests (`test_book_build.py`, `test_book_parallel.py`). The execution cache is the
repository's (the Makefile runs from the repository root), so a page whose code ran before is taken from it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRONT_MATTER = """---
jupytext:
  text_representation:
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

"""


def build_book(tmp: Path, pages: dict[str, str], *, env: dict | None = None) -> subprocess.CompletedProcess:
    """Write ``pages`` (``{name: MyST body}``; the first is the root, the others its chapters) under ``tmp`` with
    the project's config and an empty bibliography, and run `make html` on them; ``env`` adds variables."""
    shutil.copy(ROOT / "_config.yml", tmp / "_config.yml")
    (tmp / "references.bib").write_text("")
    root, *chapters = pages
    toc = f"format: jb-book\nroot: {root}\n"
    if chapters:
        toc += "chapters:\n" + "".join(f"  - file: {name}\n" for name in chapters)
    (tmp / "_toc.yml").write_text(toc)
    for name, body in pages.items():
        (tmp / f"{name}.md").write_text(FRONT_MATTER + body)
    return subprocess.run(["make", "-C", str(ROOT), "html", f"BOOK={tmp}", f"VENV={sys.prefix}"],
                          capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})})
