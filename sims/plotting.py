"""The book's figure style and the one way pages hand numbers, figures and tables to the prose.

Conventions (also in the README's contributor section):

- ``use_book_style()`` once at the top of a page: PNG figures (PDF-safe), one
  size and font set, lowercase axis labels with units are up to the caller.
- Numbers: ``glue_numbers(name=value, ...)`` in a cell, then
  ``{glue:text}`name:.3g``` in the prose. Never type a result by hand.
- Figures: draw in a cell whose metadata holds ``mystnb: figure: {caption, name}``;
  refer to it with ``{numref}`name```. Do not put captions in ``ax.set_title``.
- Tables: ``markdown_table(header, rows)`` returns an object that renders as a
  MyST table in both HTML and PDF.
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl

__all__ = ["BOOK_RC", "glue_numbers", "markdown_table", "use_book_style"]

BOOK_RC = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.6,
    "image.cmap": "magma",
}


def use_book_style() -> None:
    """Apply the book's matplotlib style and PNG inline output (PDF builds keep PNGs)."""
    mpl.rcParams.update(BOOK_RC)
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # outside IPython: nothing to configure
        return
    set_matplotlib_formats("png")


def glue_numbers(**values) -> None:
    """Glue each keyword as a number for ``{glue:text}`` in the prose, without displaying it."""
    from myst_nb import glue

    for name, value in values.items():
        # numpy scalars would render as "np.float64(...)" in the prose
        glue(name, value.item() if hasattr(value, "item") else value, display=False)


def _cell(value, fmt: str) -> str:
    """A table cell: numbers formatted with ``fmt``; a literal ``|`` escaped, since it would split the cell."""
    text = value if isinstance(value, str) else format(value, fmt)
    return text.replace("|", "\\|")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence], *, fmt: str = ".3g",
                   caption: str | None = None, name: str | None = None):
    """Return an ``IPython.display.Markdown`` MyST table; numbers formatted with ``fmt``.

    With ``caption`` (and optionally ``name`` for ``{numref}``) the table is
    numbered and captioned in HTML and PDF alike.
    """
    from IPython.display import Markdown

    width = len(header)
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"row {i} has {len(row)} cells, the header has {width}")
    lines = ["| " + " | ".join(_cell(h, fmt) for h in header) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(_cell(v, fmt) for v in row) + " |" for row in rows]
    body = "\n".join(lines)
    if caption is None:
        return Markdown(body)
    label = f":name: {name}\n" if name else ""
    return Markdown(f":::{{table}} {caption}\n{label}\n{body}\n:::")
