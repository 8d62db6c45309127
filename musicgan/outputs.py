"""Checks every command makes on the paths it will write, before doing any work.

The rule (README, "Bad input"): a command never replaces a file that is one of its inputs, a file that is not
its own kind of output, or a file that git tracks; it never writes into a folder it cannot write; each refusal
is one line naming the path, raised as :class:`OutputPathError` (a ``ValueError``), which the commands turn
into exit status 2. The paths are compared after resolving symbolic links, ``..`` and ``~``, so however an
input is spelled it is recognised.
"""
from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["OutputPathError", "check_output_file", "check_output_folder", "is_tracked", "same_or_inside"]


class OutputPathError(ValueError):
    """An output path that cannot, or must not, be written; the message names it and says why."""


def same_or_inside(path: Path, folder: Path) -> bool:
    """Whether resolved ``path`` is ``folder`` itself or lies anywhere under it (both resolved)."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


def is_tracked(path: Path) -> bool:
    """Whether git tracks the file ``path`` (False when git or a repository is absent)."""
    path = Path(path).resolve()
    if not path.parent.is_dir():
        return False
    try:
        done = subprocess.run(["git", "ls-files", "--error-unmatch", "--", path.name], cwd=path.parent,
                              capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _writable_parent(path: Path, what: str) -> None:
    """The nearest existing ancestor of ``path`` must be a folder we may write into."""
    ancestor = path.parent
    while not ancestor.exists():
        if ancestor.is_symlink():
            raise OutputPathError(f"cannot write {what} {path}: {ancestor} is a broken symbolic link")
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputPathError(f"cannot write {what} {path}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputPathError(f"cannot write {what} {path}: no permission to write in {ancestor}")


def _refuse_inputs(path: Path, inputs: Iterable, what: str) -> None:
    for item in inputs:
        item = Path(item).expanduser()
        if item.exists() and same_or_inside(path, item):
            kind = f"lies in the input folder {item}" if item.is_dir() else f"is the input {item}"
            raise OutputPathError(f"refusing to write {what} {path}: it {kind} (choose another --out)")


def check_output_file(path, *, what: str, inputs: Iterable = (), is_own: Callable[[Path], bool] | None = None,
                      tracked_ok: bool = False) -> Path:
    """Return ``path`` (expanded) once it is safe to write the file ``what`` there; else OutputPathError.

    Refused: an existing folder; a path under a file or in a folder without write permission; ``path`` equal
    to, or inside, one of ``inputs``; an existing file for which ``is_own`` is false or (unless ``tracked_ok``,
    as for a committed report that is regenerated) that git tracks.
    """
    path = Path(path).expanduser()
    resolved = path.resolve()
    if resolved.is_dir():
        raise OutputPathError(f"cannot write {what} {path}: it is a folder; give a file name")
    _refuse_inputs(resolved, inputs, what)
    if resolved.exists():
        if not tracked_ok and is_tracked(resolved):
            raise OutputPathError(f"refusing to replace {path}: git tracks it (choose another --out)")
        if is_own is None or not is_own(resolved):
            raise OutputPathError(f"refusing to replace {path}: it exists and is not a {what} (choose another --out)")
    _writable_parent(resolved, what)
    return path


def check_output_folder(folder, names: Iterable[str], *, what: str, inputs: Iterable = (),
                        tracked_ok: bool = False) -> Path:
    """Return ``folder`` once the files ``names`` may be written in it; else OutputPathError.

    Refused: a path that is a file, under a file or not writable; ``folder`` inside one of ``inputs``; an
    existing ``folder/name`` that is a folder, is one of ``inputs`` or (unless ``tracked_ok``, as for a
    committed run that training resumes) that git tracks.
    """
    folder = Path(folder).expanduser()
    resolved = folder.resolve()
    if resolved.exists() and not resolved.is_dir():
        raise OutputPathError(f"cannot write {what} into {folder}: it is a file, not a folder")
    for name in names:
        target = resolved / name
        _refuse_inputs(target, inputs, what)
        if target.is_dir():
            raise OutputPathError(f"cannot write {what} {folder / name}: it is a folder")
        if not tracked_ok and target.exists() and is_tracked(target):
            raise OutputPathError(f"refusing to replace {folder / name}: git tracks it (choose another --out)")
    _writable_parent(resolved / "x", what)
    return folder
