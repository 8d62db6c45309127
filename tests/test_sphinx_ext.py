"""The book's Sphinx extension: repeated scripts dropped in place, assets only where a figure is."""
from __future__ import annotations

from types import SimpleNamespace

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from sphinx.builders.html._assets import _JavaScript

from bookkit import sphinx_ext


def test_repeated_inline_scripts_are_dropped_in_the_builders_own_list():
    thebe = "const THEBE_JS_URL = 1;"
    scripts = [_JavaScript("a.js"), _JavaScript(None, body=thebe), _JavaScript("b.js"), _JavaScript("", body=thebe)]
    context = {"script_files": scripts}
    sphinx_ext.drop_repeated_scripts(None, "page", "page.html", context, None)
    assert [str(s.filename) for s in context["script_files"]] == ["a.js", "None", "b.js"]
    assert context["script_files"] is scripts  # later handlers (MathJax) append to this very list


class FakeApp(SimpleNamespace):
    def add_js_file(self, name, **kwargs):
        self.js.append(name)

    def add_css_file(self, name, **kwargs):
        self.css.append(name)


def test_plotly_is_loaded_only_by_pages_with_an_interactive_figure():
    app = FakeApp(js=[], css=[])
    sphinx_ext.load_explorable_assets(app, "plain", "page.html", {"body": "<p>no figure</p>"}, None)
    assert app.js == []
    sphinx_ext.load_explorable_assets(app, "fig", "page.html", {"body": '<div class="gan-explorable" id="x">'}, None)
    assert app.js == ["plotly.min.js", "gan_explorable.js"] and app.css == ["gan_explorable.css"]
    assert sphinx_ext.plotly_js().stat().st_size > 1_000_000


def test_executed_notebook_is_offered_for_download(tmp_path):
    outdir = tmp_path / "_build" / "html"
    executed = tmp_path / "_build" / "jupyter_execute" / "book" / "ch.ipynb"
    executed.parent.mkdir(parents=True)
    notebook = new_notebook(cells=[new_code_cell("print(1)", outputs=[new_output("stream", text="1\n")])])
    nbformat.write(notebook, executed)
    app, context = SimpleNamespace(outdir=str(outdir), srcdir=str(tmp_path)), {}
    sphinx_ext.offer_executed_notebook(app, "book/ch", "page.html", context, doctree=object())
    assert context["ipynb_source"] == "book/ch.ipynb"
    assert nbformat.read(outdir / "_sources" / "book" / "ch.ipynb", as_version=4) == notebook
    sphinx_ext.offer_executed_notebook(app, "book/other", "page.html", context := {}, doctree=object())
    assert "ipynb_source" not in context  # no executed notebook, no button
