"""Interactive figures that work offline: every frame is computed in Python during the build, plotly.js draws it.

An :class:`Explorable` holds a plotly figure (layout and traces), the reader's controls (sliders and
drop-downs) and one *frame* per combination of control values: the trace data and the one-line read-out that
change with the controls. ``frame_fn(**params)`` computes a frame with the project's own modules, so the browser
never repeats a computation: it only swaps precomputed arrays.

Its HTML output is a ``<div class="gan-explorable">`` holding the controls, a static PNG of the default frame
and the frames as JSON. ``bookkit/static/gan_explorable.js``, served once from the book's ``_static`` together
with ``plotly.min.js`` (see :mod:`bookkit.sphinx_ext`), replaces the PNG by the live plot and reveals the
controls; without it (a notebook in JupyterLab) the PNG stays. The PDF gets the PNG through the ``image/png``
entry of the same output: myst-nb prefers ``text/html`` for HTML and ``image/png`` for LaTeX.
"""
from __future__ import annotations

import base64
import html
import io
import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from sims.interactive_static import to_matplotlib

__all__ = ["Control", "Explorable", "explorable", "to_matplotlib", "clean_array"]

SIGNIFICANT_DIGITS = 5  # frames are rounded to this many significant digits: the JSON stays small


@dataclass(frozen=True)
class Control:
    """One control: a ``"slider"`` over ``values`` or a ``"select"`` drop-down; ``labels`` are shown."""

    name: str
    label: str
    values: tuple
    labels: tuple = field(default=())
    default: int = 0
    kind: str = "slider"

    def __post_init__(self):
        if self.kind not in ("slider", "select"):
            raise ValueError(f"control {self.name!r}: kind must be 'slider' or 'select', got {self.kind!r}")
        if len(self.values) == 0:
            raise ValueError(f"control {self.name!r}: values must not be empty")
        if self.labels and len(self.labels) != len(self.values):
            raise ValueError(f"control {self.name!r}: {len(self.labels)} labels for {len(self.values)} values")
        if not 0 <= self.default < len(self.values):
            raise ValueError(f"control {self.name!r}: default index {self.default} outside 0..{len(self.values) - 1}")

    def shown(self) -> list[str]:
        return [str(v) for v in (self.labels or [f"{v:g}" if isinstance(v, float) else v for v in self.values])]


def clean_array(values, digits: int = SIGNIFICANT_DIGITS) -> list:
    """A JSON-ready list: numbers rounded to ``digits`` significant digits, non-finite values as None (a gap)."""
    arr = np.asarray(values, dtype=float)
    out = np.full(arr.shape, None, dtype=object)
    finite = np.isfinite(arr)
    out[finite] = [float(f"{v:.{digits}g}") for v in arr[finite]]
    return out.tolist()


def _clean(obj, digits: int):
    """Round every float array or list of numbers inside a frame dict (strings and None pass through)."""
    if isinstance(obj, dict):
        return {k: _clean(v, digits) for k, v in obj.items()}
    if isinstance(obj, np.ndarray) or (isinstance(obj, (list, tuple)) and obj
                                       and all(v is None or isinstance(v, (int, float, np.number)) for v in obj)):
        return clean_array([np.nan if v is None else v for v in obj], digits)
    if isinstance(obj, (float, np.floating)):
        return clean_array([obj], digits)[0]
    if isinstance(obj, (list, tuple)):
        return [_clean(v, digits) for v in obj]
    return obj


@dataclass
class Explorable:
    """A figure, its controls and its precomputed frames; displays as HTML (live) or PNG (static)."""

    name: str
    figure: object  # plotly.graph_objects.Figure
    controls: list
    frames: list  # unique frames: {"traces": {index: {...}}, "layout": {...}, "readout": str}
    index: dict  # "i,j,..." -> position in ``frames``

    def default_key(self) -> str:
        return ",".join(str(c.default) for c in self.controls)

    def frame(self, key: str | None = None) -> dict:
        return self.frames[self.index[self.default_key() if key is None else key]]

    def figure_at(self, key: str | None = None):
        """A copy of the plotly figure with the frame ``key`` (default: the controls' defaults) applied."""
        import plotly.graph_objects as go

        frame = self.frame(key)
        fig = go.Figure(self.figure)
        for i, update in frame["traces"].items():
            fig.data[int(i)].update(update)
        fig.update_layout(frame.get("layout", {}))
        return fig

    def spec(self) -> dict:
        fig = self.figure.to_plotly_json()
        return {"name": self.name, "data": fig["data"], "layout": fig["layout"], "frames": self.frames,
                "index": self.index, "controls": [{"name": c.name, "labels": c.shown()} for c in self.controls],
                "config": {"displaylogo": False}}

    def png(self) -> bytes:
        import matplotlib.pyplot as plt

        mpl_fig = to_matplotlib(self.figure_at())
        buffer = io.BytesIO()
        mpl_fig.savefig(buffer, format="png")
        plt.close(mpl_fig)
        return buffer.getvalue()

    def html(self, png: bytes | None = None) -> str:
        png = self.png() if png is None else png
        payload = json.dumps(self.spec(), separators=(",", ":"), cls=_PlotlyEncoder).replace("</", "<\\/")
        controls = "".join(_control_html(c, k) for k, c in enumerate(self.controls))
        image = base64.b64encode(png).decode("ascii")
        return (f'<div class="gan-explorable" id="explorable-{html.escape(self.name)}">'
                f'<div class="gan-explorable-controls">{controls}</div>'
                f'<div class="gan-explorable-plot"><img alt="{html.escape(self.name)} (static)" '
                f'src="data:image/png;base64,{image}" style="max-width:100%"></div>'
                f'<p class="gan-explorable-readout">{html.escape(self.frame()["readout"])}</p>'
                f'<script type="application/json" class="gan-explorable-data">{payload}</script></div>')

    def _repr_mimebundle_(self, include=None, exclude=None):
        png = self.png()
        return {"text/html": self.html(png), "image/png": base64.b64encode(png).decode("ascii"),
                "text/plain": f"<interactive figure {self.name}: {len(self.index)} settings>"}


class _PlotlyEncoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, np.ndarray):
            return clean_array(o)
        if isinstance(o, np.generic):
            return o.item()
        return super().default(o)


def _control_html(control: Control, k: int) -> str:
    label = html.escape(control.label)
    shown = control.shown()
    if control.kind == "select":
        options = "".join(f'<option value="{i}"{" selected" if i == control.default else ""}>{html.escape(s)}'
                          f"</option>" for i, s in enumerate(shown))
        widget = f'<select data-control="{k}" aria-label="{label}">{options}</select>'
    else:
        widget = (f'<input type="range" data-control="{k}" aria-label="{label}" min="0" '
                  f'max="{len(shown) - 1}" step="1" value="{control.default}">'
                  f'<output>{html.escape(shown[control.default])}</output>')
    return f'<label class="gan-explorable-control">{label} {widget}</label>'


def explorable(name: str, figure, controls: Sequence[Control], frame_fn: Callable[..., dict], *,
               digits: int = SIGNIFICANT_DIGITS) -> Explorable:
    """Compute ``frame_fn(**{control.name: value})`` for every combination of control values.

    ``frame_fn`` returns ``{"traces": {trace index: {"x": ..., "y": ...}}, "readout": str}`` and optionally
    ``"layout"`` (a plotly layout update). Identical frames are stored once. Raises ValueError if a frame
    names a trace the figure does not have.
    """
    controls = list(controls)
    frames, index, seen = [], {}, {}
    for combo in itertools.product(*(range(len(c.values)) for c in controls)):
        frame = frame_fn(**{c.name: c.values[i] for c, i in zip(controls, combo)})
        bad = [i for i in frame["traces"] if not 0 <= int(i) < len(figure.data)]
        if bad:
            raise ValueError(f"explorable {name!r}: frame updates traces {bad}, the figure has {len(figure.data)}")
        frame = {"traces": {str(i): _clean(u, digits) for i, u in frame["traces"].items()},
                 "layout": _clean(frame.get("layout", {}), digits), "readout": str(frame.get("readout", ""))}
        text = json.dumps(frame, sort_keys=True)
        if text not in seen:
            seen[text] = len(frames)
            frames.append(frame)
        index[",".join(map(str, combo))] = seen[text]
    return Explorable(name, figure, controls, frames, index)

