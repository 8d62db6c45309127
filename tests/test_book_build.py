"""The build itself: a failing cell fails `make html`, and the HTML typesets its math with no network.

These tests build a throwaway one-page book with the project's own `_config.yml` and Makefile, so they
exercise exactly what `make book` runs. Chromium is required where REQUIRE_BROWSER=1 (as in CI); elsewhere
the browser tests are skipped when it is missing.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from throwaway_book import build_book

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "_build" / "screenshots"
PAGE_BODY = """# A one-page book

Euler's identity, numbered:

$$
e^{{i\\pi}} + 1 = 0
$$ (euler)

Equation {{eq}}`euler` and the inline $a^2 + b^2 = c^2$ are typeset by MathJax.

```{{code-cell}} ipython3
{code}
```
"""

pytestmark = pytest.mark.slow


def make_book(tmp: Path, code: str) -> subprocess.CompletedProcess:
    """Write a one-page book using the project's config into ``tmp`` and build it with `make html`."""
    return build_book(tmp, {"page": PAGE_BODY.format(code=code)})


@pytest.fixture(scope="module")
def good_book(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("good_book")
    result = make_book(tmp, "print(6 * 7)")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return tmp


def test_passing_page_builds_and_shows_its_output(good_book):
    html = (good_book / "_build" / "html" / "page.html").read_text()
    assert "42" in html


def test_a_page_rebuilt_from_the_execution_cache_offers_its_outputs(tmp_path):
    """The second build takes the page from myst-nb's cache, which writes its notebook without outputs; the
    notebook the page offers for download and `make notebooks` still hold them (bookkit.notebooks)."""
    import nbformat

    from bookkit.notebooks import with_cached_outputs

    for _ in range(2):
        result = make_book(tmp_path, "print(6 * 7)")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Using cached notebook" in result.stdout + result.stderr
    offered = nbformat.read(tmp_path / "_build" / "html" / "_sources" / "page.ipynb", as_version=4)
    assert offered.cells[-1].outputs[0]["text"] == "42\n"
    executed = tmp_path / "_build" / "jupyter_execute" / "page.ipynb"
    filled = with_cached_outputs(executed, ROOT / "_build" / ".jupyter_cache")  # relative to make -C ROOT
    assert filled.cells[-1].outputs


def test_failing_cell_makes_the_build_fail(tmp_path):
    result = make_book(tmp_path, "x = 1\nraise RuntimeError('boom from a book cell')")
    assert result.returncode != 0
    assert "boom from a book cell" in result.stdout + result.stderr


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is required (REQUIRE_BROWSER=1) but not installed: apt-get install chromium")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return exe


def run_chromium(url: str, *args: str, tmp: Path) -> str:
    """Open ``url`` in headless Chromium with all network resolution blocked; return stdout."""
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp / 'chromium-profile'}", "--host-resolver-rules=MAP * ~NOTFOUND",
           "--virtual-time-budget=15000", *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout


def typeset_equations(page: Path, tmp: Path) -> int:
    return run_chromium(page.as_uri(), "--dump-dom", tmp=tmp).count("<mjx-container")


def test_math_renders_offline(good_book, tmp_path):
    page = good_book / "_build" / "html" / "page.html"
    assert typeset_equations(page, tmp_path) >= 2  # the display equation and the inline one
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "offline_math_test_page.png"
    run_chromium(page.as_uri(), f"--screenshot={shot}", "--window-size=1200,900", tmp=tmp_path)
    assert shot.stat().st_size > 10_000


def test_math_check_fails_without_the_local_mathjax(good_book, tmp_path):
    """Negative control: the same page with the served MathJax removed is not typeset."""
    copy = tmp_path / "html"
    shutil.copytree(good_book / "_build" / "html", copy)
    shutil.rmtree(copy / "_static" / "mathjax")
    assert typeset_equations(copy / "page.html", tmp_path) == 0


def test_built_book_pages_typeset_math(tmp_path, built_file):
    """The real book (after `make book`): a chapter with equations is typeset from file:// offline."""
    page = built_file("_build/html/book/optimal_discriminator.html")
    assert typeset_equations(page, tmp_path) >= 3
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "optimal_discriminator.png"
    run_chromium(page.as_uri(), f"--screenshot={shot}", "--window-size=1200,1600", tmp=tmp_path)
    assert shot.stat().st_size > 10_000


def test_missing_latex_names_the_packages_and_keeps_the_html(good_book):
    result = subprocess.run(["make", "-C", str(ROOT), "pdf", f"BOOK={good_book}", f"VENV={sys.prefix}",
                             "LATEXMK=no-such-latexmk"], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "apt-get install latexmk texlive-latex-recommended texlive-fonts-recommended" in result.stdout
    assert (good_book / "_build" / "html" / "page.html").exists()


def test_pdf_has_title_numbered_equations_figures_and_citations(built_file):
    pdf = built_file("_build/latex/book.pdf")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Generative adversarial networks" in text
    assert "(1.1)" in text                      # chapter-numbered equations
    assert "Fig. 1.1" in text                   # a numbered, captioned figure
    assert "Goodfellow" in text and "Bibliography" in text
    # each interactive figure of the HTML is a static, captioned figure in the PDF
    assert text.count("Interactive figure.") == sum(EXPLORABLE_PAGES.values())


# --- interactive figures (sims/interactive.py) in a real browser, offline --------------------------------

EXPLORABLE_PAGES = {"nonconvergence": 2, "mode_collapse": 1, "vanishing_gradients": 1, "wasserstein": 1}
DRAWN = ("(k) => { const root = document.querySelectorAll('.gan-explorable')[k]; "
         "return Array.from(root.querySelectorAll('.main-svg')).map(s => s.innerHTML).join('') + '|' + "
         "root.querySelector('.gan-explorable-readout').textContent; }")


def open_browser(tmp: Path):
    from bookkit.browser import Browser

    return Browser(chromium(), tmp / "chromium-profile")


def drawn(page, k: int) -> str:
    """What figure ``k`` shows: the markup of its plotly SVG layers and its read-out line."""
    return page.evaluate(f"({DRAWN})({k})")


def move_control(page, k: int, j: int) -> str:
    """Move control ``j`` of figure ``k`` as a reader would (a new value, then input and change events)."""
    return page.evaluate(
        f"(async () => {{ const el = document.querySelectorAll('.gan-explorable')[{k}]"
        f".querySelectorAll('[data-control]')[{j}]; const n = el.tagName === 'SELECT' ? el.options.length : "
        "Number(el.max) + 1; el.value = String((Number(el.value) + Math.max(1, Math.floor(n / 2))) % n); "
        "el.dispatchEvent(new Event('input', {bubbles: true})); "
        "el.dispatchEvent(new Event('change', {bubbles: true})); "
        "await new Promise(r => requestAnimationFrame(() => setTimeout(r, 100))); return el.value; })()")


def reset_controls(page, k: int) -> None:
    """Put every control of figure ``k`` back to its starting value, so each control is tried on its own."""
    page.evaluate(
        f"(async () => {{ for (const el of document.querySelectorAll('.gan-explorable')[{k}]"
        ".querySelectorAll('[data-control]')) { if (el.tagName === 'SELECT') { el.selectedIndex = "
        "Array.from(el.options).findIndex(o => o.defaultSelected); } else { el.value = el.defaultValue; } "
        "el.dispatchEvent(new Event('input', {bubbles: true})); } "
        "await new Promise(r => requestAnimationFrame(() => setTimeout(r, 100))); })()")


def exercise_page(page, name: str) -> int:
    """Change every control of every interactive figure on ``page``; return how many controls were moved."""
    count = page.evaluate("document.querySelectorAll('.gan-explorable').length")
    page.wait_for(f"document.querySelectorAll('.gan-explorable-live .main-svg').length >= {count}")
    moved = 0
    for k in range(count):
        fig_id = page.evaluate(f"document.querySelectorAll('.gan-explorable')[{k}].id")
        selector = f"#{fig_id}"
        page.evaluate(f"document.querySelector('{selector}').scrollIntoView()")
        page.screenshot(SCREENSHOTS / f"{name}-{fig_id}-before.png", selector)
        for j in range(page.evaluate(f"document.querySelector('{selector}').querySelectorAll('[data-control]')"
                                     ".length")):
            reset_controls(page, k)
            before = drawn(page, k)
            move_control(page, k, j)
            assert drawn(page, k) != before, f"{name}: control {j} of {fig_id} changed nothing drawn"
            moved += 1
        page.screenshot(SCREENSHOTS / f"{name}-{fig_id}-after.png", selector)
    return moved


def test_interactive_figures_respond_offline(tmp_path, built_file):
    """Each interactive page of the built book: every control changes the drawing, the console stays clean."""
    pages = {name: built_file(f"_build/html/book/{name}.html") for name in EXPLORABLE_PAGES}
    with open_browser(tmp_path) as browser:
        for name, path in pages.items():
            page = browser.open(path.as_uri())
            assert page.evaluate("document.querySelectorAll('.gan-explorable').length") == EXPLORABLE_PAGES[name]
            assert exercise_page(page, name) >= EXPLORABLE_PAGES[name]
            assert page.console_errors() == [], f"{name}: {page.console_errors()}"
    shots = sorted(SCREENSHOTS.glob("*-explorable-*-after.png"))
    assert len(shots) == sum(EXPLORABLE_PAGES.values())
    assert all(shot.stat().st_size > 10_000 for shot in shots)


def test_interactive_checks_fail_when_they_should(tmp_path, built_file):
    """Negative controls: a control that leaves the frame as it is (the strength of the unregularised
    Dirac-GAN) draws the same thing, a console error is caught, and without plotly.js no plot is drawn."""
    page_path = built_file("_build/html/book/nonconvergence.html")
    with open_browser(tmp_path) as browser:
        page = browser.open(page_path.as_uri())
        k = page.evaluate("Array.from(document.querySelectorAll('.gan-explorable'))"
                          ".findIndex(e => e.id === 'explorable-dirac-gan')")
        page.wait_for("document.querySelectorAll('.gan-explorable-live .main-svg').length >= 2")
        page.evaluate(f"(() => {{ const s = document.querySelectorAll('.gan-explorable')[{k}]"
                      ".querySelector('select'); s.value = '0'; s.dispatchEvent(new Event('input')); })()")
        before = drawn(page, k)
        move_control(page, k, 1)
        assert drawn(page, k) == before
        page.evaluate("console.error('negative control')")
        assert page.console_errors() == ["negative control"]
    copy = tmp_path / "html"
    shutil.copytree(page_path.parents[1], copy, ignore=shutil.ignore_patterns("mathjax", "_images"))
    (copy / "_static" / "plotly.min.js").unlink()
    with open_browser(tmp_path) as browser:
        page = browser.open((copy / "book" / "nonconvergence.html").as_uri())
        assert page.evaluate("document.querySelectorAll('.gan-explorable-live').length") == 0
        assert page.evaluate("document.querySelectorAll('.gan-explorable-plot img').length") == 2
        assert any("plotly.min.js" in error for error in page.console_errors())


def test_book_pages_stay_small_and_load_plotly_once(built_file):
    """The largest HTML page stays under 5 MB; plotly.js is served from _static, never inlined or from a CDN."""
    html_dir = built_file("_build/html/index.html").parent
    pages = list(html_dir.rglob("*.html"))
    assert max(p.stat().st_size for p in pages) < 5_000_000
    for name in EXPLORABLE_PAGES:
        text = (html_dir / "book" / f"{name}.html").read_text()
        assert text.count("_static/plotly.min.js") == 1
        assert "cdn.plot.ly" not in text and "Plotly.newPlot" not in text
    assert "plotly.min.js" not in (html_dir / "book" / "music_data.html").read_text()
    assert (html_dir / "_static" / "plotly.min.js").stat().st_size > 1_000_000
