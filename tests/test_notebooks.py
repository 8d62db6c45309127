"""Executed notebooks: `make notebooks` writes every chapter's executed notebook with a README, refuses bad
ones with a one-line error, and each built page offers its notebook for download."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from bookkit import notebooks

ROOT = Path(__file__).resolve().parents[1]


def write_notebook(path: Path, outputs) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = new_notebook(cells=[new_markdown_cell("# A chapter"), new_code_cell("print(42)", outputs=outputs)])
    nbformat.write(nb, path)


@pytest.fixture
def fake_build(tmp_path):
    """A build folder whose jupyter_execute holds the two chapters of ``tmp_path/_toc.yml``."""
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nparts:\n"
                                       "  - chapters:\n      - file: book/wasserstein\n")
    build = tmp_path / "_build"
    printed = [new_output("stream", name="stdout", text="42\n")]
    write_notebook(build / "jupyter_execute" / "book" / "intro.ipynb", printed)
    write_notebook(build / "jupyter_execute" / "book" / "wasserstein.ipynb", printed)
    return build


def test_chapters_follow_the_table_of_contents():
    names = notebooks.chapters()
    assert names[0] == "book/intro" and names.index("book/nonconvergence") < names.index("book/wasserstein")


def test_export_writes_notebooks_in_order_and_a_readme(fake_build, tmp_path):
    out = tmp_path / "out"
    written = notebooks.export(fake_build, out, tmp_path / "_toc.yml")
    assert [p.name for p in written] == ["intro.ipynb", "wasserstein.ipynb", "README.md"]
    text = (out / "README.md").read_text()
    assert text.index("intro.ipynb") < text.index("wasserstein.ipynb")
    assert "TensorBoard" in text and str(notebooks.TENSORBOARD_RUNS) in text
    notebooks.export(fake_build, out, tmp_path / "_toc.yml")  # a second run replaces its own files


def test_an_error_output_is_refused(fake_build, tmp_path):
    error = new_output("error", ename="RuntimeError", evalue="boom", traceback=[])
    write_notebook(fake_build / "jupyter_execute" / "book" / "wasserstein.ipynb", [error])
    with pytest.raises(ValueError, match="wasserstein.ipynb: cell 1 has an error output \\(RuntimeError\\)"):
        notebooks.export(fake_build, tmp_path / "out", tmp_path / "_toc.yml")


def test_an_unexecuted_notebook_is_refused(fake_build, tmp_path):
    write_notebook(fake_build / "jupyter_execute" / "book" / "intro.ipynb", [])
    with pytest.raises(ValueError, match="intro.ipynb: no code cell has an output"):
        notebooks.export(fake_build, tmp_path / "out", tmp_path / "_toc.yml")


def test_a_folder_with_the_users_files_is_not_overwritten(fake_build, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "README.md").write_text("my notes")
    with pytest.raises(FileExistsError, match="did not write"):
        notebooks.export(fake_build, out, tmp_path / "_toc.yml")
    assert (out / "README.md").read_text() == "my notes"


def test_a_page_taken_from_the_execution_cache_gets_its_cached_outputs(fake_build, tmp_path):
    """myst-nb writes a page it took from its cache without outputs; the cache record whose code cells match
    supplies them, and a page of other code stays as it is."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    executed = fake_build / "jupyter_execute" / "book" / "intro.ipynb"
    write_notebook(executed, [])
    cached = new_notebook(cells=[new_markdown_cell("# A chapter"),
                                 new_code_cell("print(42)", execution_count=1,
                                               outputs=[new_output("stream", name="stdout", text="42\n")])])
    cache_dir = fake_build / ".jupyter_cache"
    get_cache(str(cache_dir)).cache_notebook_bundle(CacheBundleIn(cached, "somewhere/intro.md"),
                                                    check_validity=False)
    assert notebooks.with_cached_outputs(executed, cache_dir).cells[1].outputs[0]["text"] == "42\n"
    notebooks.export(fake_build, tmp_path / "out", toc=tmp_path / "_toc.yml")
    assert nbformat.read(tmp_path / "out" / "intro.ipynb", as_version=4).cells[1].outputs
    other = tmp_path / "other.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("print(43)")]), other)
    assert not notebooks.with_cached_outputs(other, cache_dir).cells[0].outputs


def test_missing_build_is_one_line_and_exit_2(tmp_path, capsys):
    assert notebooks.main(["--build", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "make book" in err


@pytest.mark.slow
def test_make_notebooks_on_the_built_book(tmp_path, built_file):
    built_file("_build/html/index.html")  # a finished build
    out = tmp_path / "notebooks"
    result = subprocess.run(["make", "-C", str(ROOT), "notebooks", f"VENV={sys.prefix}", f"NOTEBOOKS_OUT={out}"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    chapters = sorted(out.glob("*.ipynb"))
    assert len(chapters) >= 8
    for path in chapters:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert not code or any(c.outputs for c in code), path
        assert not [o for c in code for o in c.outputs if o.output_type == "error"], path
    assert "reference/music_gan" in (out / "README.md").read_text()


def test_each_chapter_page_offers_its_executed_notebook(built_file):
    html = built_file("_build/html/index.html").parent
    for name in notebooks.chapters():
        executed = ROOT / "_build" / "jupyter_execute" / f"{name}.ipynb"
        if not executed.exists():
            continue  # a page without code cells
        page = (html / f"{name}.html").read_text()
        assert f"_sources/{name}.ipynb" in page and "download-notebook-button" in page, name
        offered = nbformat.read(html / "_sources" / f"{name}.ipynb", as_version=4)
        # the executed notebook, with the cached outputs myst-nb leaves out when it took the page from its cache
        assert offered == notebooks.with_cached_outputs(executed, ROOT / "_build" / ".jupyter_cache"), name
        assert any(cell.get("outputs") for cell in offered.cells if cell.cell_type == "code"), name
