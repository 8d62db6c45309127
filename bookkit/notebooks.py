"""`make notebooks`: the executed notebook of every chapter, in one folder, with a README.

The notebooks are the ones myst-nb executed (or took from the execution cache) to render the HTML and the PDF,
``_build/jupyter_execute/book/<chapter>.ipynb``: their outputs are exactly what the book shows. Each is checked
on the way (valid nbformat, outputs present, no error output). The README lists them in the book's order and
says where the music GAN's TensorBoard summaries are.

Usage: ``python -m bookkit.notebooks [--build _build] [--out _build/notebooks]``; exit status 2 with a one-line
message if the book has not been built or a notebook fails its check. Files in ``--out`` other than the ones
written here are left alone; a folder that already holds a file of the same name but was not written by this
command is refused.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
MARKER = ".written-by-make-notebooks"
TENSORBOARD_RUNS = ROOT / "reference" / "music_gan"

__all__ = ["chapters", "check_notebook", "with_cached_outputs", "export", "main"]


def chapters(toc: Path = ROOT / "_toc.yml") -> list[str]:
    """Document names in the table of contents, in reading order (e.g. ``book/wasserstein``)."""
    spec = yaml.safe_load(toc.read_text())
    names = [spec["root"]]
    for part in spec.get("parts", []):
        names += [entry["file"] for entry in part.get("chapters", [])]
    return names


def with_cached_outputs(executed: Path, cache_dir: Path) -> nbformat.NotebookNode:
    """The executed notebook ``executed``, with its outputs.

    When myst-nb takes a page from its execution cache, it renders the cached outputs but writes
    ``jupyter_execute/<page>.ipynb`` without them (myst-nb 1.4 writes the notebook it read, not the one it merged
    with the cache). Such a notebook gets its outputs the way myst-nb found them: from the jupyter-cache record
    in ``cache_dir`` whose code cells hash like this notebook's. Without such a record it is returned as read.
    """
    notebook = nbformat.read(executed, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if not code or any(cell.get("outputs") for cell in code) or not Path(cache_dir).is_dir():
        return notebook
    from jupyter_cache import get_cache

    try:
        _, merged = get_cache(str(cache_dir)).merge_match_into_notebook(notebook)
    except KeyError:
        return notebook
    return merged


def check_notebook(path: Path, notebook: nbformat.NotebookNode | None = None) -> nbformat.NotebookNode:
    """Validate the notebook of ``path`` (read from it unless ``notebook`` is given); raise ValueError naming
    the file if it has no output or an error output."""
    notebook = nbformat.read(path, as_version=4) if notebook is None else notebook
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if code and not any(cell.get("outputs") for cell in code):
        raise ValueError(f"{path}: no code cell has an output (was it executed?)")
    for index, cell in enumerate(notebook.cells):
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            raise ValueError(f"{path}: cell {index} has an error output ({errors[0].get('ename')})")
    return notebook


def tensorboard_runs(root: Path = TENSORBOARD_RUNS) -> list[Path]:
    """Folders under ``root`` that hold TensorBoard event files."""
    return sorted({p.parent for p in root.rglob("events.out.tfevents.*")})


def readme(written: list[tuple[str, Path]], runs: list[Path]) -> str:
    lines = ["# The book's chapters as executed notebooks", "",
             "Each notebook is the one that was executed to render the book (outputs included). In reading order:",
             ""]
    lines += [f"{k}. `{path.name}` ({name})" for k, (name, path) in enumerate(written, 1)]
    lines += ["", "The cells expect to run in the repository's `book/` folder with the repository on `PYTHONPATH`;",
              "to change a parameter and re-run a chapter, run `make lab` in the repository and open the chapter",
              "there (see the README).", "", "## TensorBoard summaries of the music GAN", ""]
    if runs:
        lines += ["The reference run's training summaries (losses, penalties, spectrograms, audio) are in", ""]
        lines += [f"- `{run}`" for run in runs]
        lines += ["", f"View them with `tensorboard --logdir {TENSORBOARD_RUNS}` and open http://localhost:6006."]
    else:
        lines += [f"No TensorBoard event files were found under `{TENSORBOARD_RUNS}`; `make music` writes them."]
    return "\n".join(lines) + "\n"


def export(build: Path, out: Path, toc: Path = ROOT / "_toc.yml") -> list[Path]:
    """Copy and check every chapter's executed notebook from ``build`` into ``out``; write ``out/README.md``."""
    executed = build / "jupyter_execute"
    if not executed.is_dir():
        raise FileNotFoundError(f"{executed} does not exist: build the book first (make book)")
    sources = [(name, executed / f"{name}.ipynb") for name in chapters(toc)]
    sources = [(name, path) for name, path in sources if path.is_file()]
    if not sources:
        raise FileNotFoundError(f"{executed} holds no chapter notebook: build the book first (make book)")
    cache_dir = build / ".jupyter_cache"
    notebooks = [check_notebook(path, with_cached_outputs(path, cache_dir)) for _, path in sources]
    targets = [out / path.name for _, path in sources] + [out / "README.md"]
    if out.is_dir() and not (out / MARKER).exists() and any(t.exists() for t in targets):
        raise FileExistsError(f"{out} already holds files that make notebooks did not write; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("")
    for (_, path), notebook in zip(sources, notebooks):
        nbformat.write(notebook, out / path.name)
    (out / "README.md").write_text(readme([(n, out / p.name) for n, p in sources], tensorboard_runs()))
    return targets


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bookkit.notebooks", description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=ROOT / "_build", help="the book's build folder")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "notebooks", help="where to write")
    args = parser.parse_args(argv)
    try:
        written = export(args.build, args.out)
    except (OSError, ValueError) as error:
        print(f"make notebooks: {error}", file=sys.stderr)
        return 2
    print(f"{len(written) - 1} executed notebooks and README.md in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
