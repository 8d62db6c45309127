"""Sphinx extension of the book (listed in ``_config.yml``).

- Interactive figures (:mod:`sims.interactive`): ``plotly.min.js`` from the installed plotly package and
  ``gan_explorable.js``/``.css`` are copied once into the HTML's ``_static`` and loaded only by the pages that
  hold an interactive figure. Nothing is fetched from a CDN, and no page inlines plotly.js.
- Executed notebooks: the notebook that myst-nb executed (or took from the execution cache) to render a page,
  ``_build/jupyter_execute/<page>.ipynb``, is written next to the page's sources as ``_sources/<page>.ipynb``
  and offered as ".ipynb" in the page's download menu (sphinx-book-theme's ``ipynb_source`` button); a page
  taken from the cache gets its cached outputs back (:func:`bookkit.notebooks.with_cached_outputs`).
- Two console errors of the theme stack are avoided: repeated script entries are dropped (see
  :func:`drop_repeated_scripts`) and a first visit starts in the "auto" colour mode (``FIRST_VISIT_MODE``).
"""
from __future__ import annotations

import shutil
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = ("gan_explorable.js", "gan_explorable.css")
MARKER = 'class="gan-explorable"'


def plotly_js() -> Path:
    """The plotly.min.js shipped inside the installed plotly Python package (the version it was tested with)."""
    import plotly

    path = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall plotly (pip install -r requirements.txt)")
    return path


def _html_builder(app) -> bool:
    return app.builder.format == "html"


def offer_executed_notebook(app, pagename, templatename, context, doctree) -> None:
    """Copy the executed notebook of ``pagename`` into ``_sources`` and announce it to the theme."""
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if doctree is None or not executed.is_file():
        return
    import nbformat

    from bookkit.notebooks import with_cached_outputs

    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    # myst-nb's cache folder: its setting (relative to the working directory, as myst-nb reads it) or its default
    cache_dir = getattr(getattr(app, "config", None), "nb_execution_cache_path", "") or \
        Path(app.outdir).parent / ".jupyter_cache"
    notebook = with_cached_outputs(executed, Path(cache_dir))
    if notebook == nbformat.read(executed, as_version=4):
        shutil.copy2(executed, target)       # the file myst-nb wrote, byte for byte
    else:
        nbformat.write(notebook, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


def load_explorable_assets(app, pagename, templatename, context, doctree) -> None:
    """Load plotly.js and the controller on the pages (and only those) that hold an interactive figure."""
    if MARKER in context.get("body", ""):
        app.add_js_file("plotly.min.js", priority=600)
        app.add_js_file("gan_explorable.js", priority=601)
        app.add_css_file("gan_explorable.css")


def drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    """Keep the first of identical script entries: sphinx-thebe's and sphinx-togglebutton's inline settings reach
    every page twice under jupyter-book 1.0.4, and the second ``const THEBE_JS_URL`` is a SyntaxError that
    every page would log in the browser's console."""
    seen, kept = set(), []
    for script in context.get("script_files", []):
        name = getattr(script, "filename", script) or ""  # the same inline script comes as None and as ""
        key = (str(name), tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    if "script_files" in context:
        # in place: the list is the builder's own, and later handlers (MathJax's) still add to it
        context["script_files"][:] = kept


def copy_static(app, exception) -> None:
    if exception is not None or not _html_builder(app):
        return
    static = Path(app.outdir) / "_static"
    static.mkdir(parents=True, exist_ok=True)
    shutil.copy2(plotly_js(), static / "plotly.min.js")
    for name in ASSETS:
        shutil.copy2(STATIC / name, static / name)


# pydata-sphinx-theme 0.15 reads the colour mode from localStorage, finds "" on a reader's first visit and logs
# "Got invalid theme mode" before falling back to "auto"; start from "auto" directly (its deferred script runs
# after this one).
FIRST_VISIT_MODE = 'if (!document.documentElement.dataset.mode) { document.documentElement.dataset.mode = "auto"; }'


def setup(app):
    app.add_js_file(None, body=FIRST_VISIT_MODE, priority=100)
    # before sphinx-book-theme builds its header buttons (priority 501), which read ``ipynb_source``
    app.connect("html-page-context", offer_executed_notebook, priority=400)
    app.connect("html-page-context", load_explorable_assets, priority=400)
    app.connect("html-page-context", drop_repeated_scripts, priority=450)
    app.connect("build-finished", copy_static)
    declare_parallel_safe(app)
    app.add_config_value("bookkit_read_first", [], "env", types=[list])
    app.connect("env-before-read-docs", read_slow_pages_first)
    app.connect("env-before-read-docs", create_execution_cache)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


# Extensions the book loads that are safe to run in parallel but do not declare it; Sphinx then reads serially
# (with a warning, an error under ``-W``), which would undo ``bookkit.jb``'s parallel pages.
# - sphinx_multitoc_numbering (loaded by jupyter-book) only replaces TocTreeCollector.assign_section_numbers,
#   which Sphinx calls in the main process once all documents are read, and keeps no per-document state;
# - sphinx-mathjax-offline only sets ``mathjax_path`` and copies MathJax at build-finished (main process).
UNDECLARED_PARALLEL_SAFE = ("sphinx_multitoc_numbering", "sphinx-mathjax-offline")


def declare_parallel_safe(app) -> None:
    """Mark the extensions of ``UNDECLARED_PARALLEL_SAFE`` safe for parallel reading and writing."""
    for name in UNDECLARED_PARALLEL_SAFE:
        app.setup_extension(name)
        extension = app.extensions[name]
        extension.parallel_read_safe = extension.parallel_write_safe = True


def read_slow_pages_first(app, env, docnames: list) -> None:
    """Move the documents named in ``bookkit_read_first`` (those still to read) to the head of the read list.

    With pages read in parallel (``bookkit.jb``) the slowest should start first, so that the short ones fill
    the other processes meanwhile instead of leaving one slow page running alone at the end; a page that makes
    what another reuses (the music data set) should also start before it. The order changes nothing else, so
    names that are not in the book (a throwaway test book with the project's config) are passed over.
    """
    head = [name for name in app.config.bookkit_read_first if name in docnames]
    docnames[:] = head + [name for name in docnames if name not in head]


def create_execution_cache(app, env, docnames: list) -> None:
    """Create myst-nb's execution cache (jupyter-cache's SQLite database) before any page is read.

    jupyter-cache creates its database the first time a page looks for a cached run. With pages read in
    parallel (``bookkit.jb``) two worker processes of a fresh build can do that at the same moment, and one
    fails with "table nbcache already exists"; created here, in the main process, before the workers start,
    it already exists for all of them.
    """
    config = getattr(env, "mystnb_config", None)
    if config is None or config.execution_mode != "cache" or not docnames:
        return
    from jupyter_cache import get_cache

    get_cache(config.execution_cache_path).db  # noqa: B018 -- the property creates the database

