"""A static matplotlib drawing of a plotly figure, for the PDF and for notebooks opened without plotly.js.

Only what the book's interactive figures use is translated: ``scatter`` traces (lines, markers, gaps as None),
``bar`` traces (grouped), subplots in one row, axis titles, ranges and log axes, and the legend. Anything else
raises ValueError naming the trace type, so a figure never silently loses a layer in the PDF.
"""
from __future__ import annotations

import base64
import re

import numpy as np

__all__ = ["to_matplotlib"]

DASHES = {None: "-", "solid": "-", "dash": "--", "dot": ":", "dashdot": "-.", "longdash": "--"}
SYMBOLS = {None: "o", "circle": "o", "square": "s", "diamond": "D", "x": "x", "cross": "P",
           "triangle-up": "^", "triangle-down": "v", "star": "*"}
PX_PER_INCH = 100


def _color(value):
    """A matplotlib colour from a plotly one (hex, name or ``rgb(a)(...)`` string); None passes through."""
    if not isinstance(value, str):
        return None
    match = re.fullmatch(r"rgba?\(([^)]*)\)", value.replace(" ", ""))
    if match:
        parts = [float(v) for v in match.group(1).split(",")]
        return tuple(v / 255 for v in parts[:3]) + (tuple(parts[3:4]) or (1.0,))
    return value


def _floats(values) -> np.ndarray:
    """Numbers from a plotly array: a list (None = gap) or a typed array ``{"dtype", "bdata"}`` (base64)."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).astype(float)
    return np.array([np.nan if v is None else v for v in (values if values is not None else [])], dtype=float)


def _axes_names(layout: dict) -> list[str]:
    """x-axis names ('xaxis', 'xaxis2', ...) ordered left to right by their domain."""
    names = [k for k in layout if re.fullmatch(r"xaxis\d*", k)] or ["xaxis"]
    return sorted(names, key=lambda k: (layout.get(k, {}).get("domain") or [0])[0])


def _ref(axis_name: str) -> str:
    return "x" + axis_name[len("xaxis"):]


def _style_axis(ax, spec: dict, which: str) -> None:
    title = (spec.get("title") or {}).get("text")
    log = spec.get("type") == "log"
    if log:
        getattr(ax, f"set_{which}scale")("log")
    if spec.get("range") is not None:
        low, high = spec["range"]
        getattr(ax, f"set_{which}lim")((10**low, 10**high) if log else (low, high))
    if title:
        getattr(ax, f"set_{which}label")(re.sub(r"<[^>]+>", "", title))


def _draw_scatter(ax, trace: dict) -> None:
    mode = trace.get("mode") or "lines+markers"
    line, marker = trace.get("line") or {}, trace.get("marker") or {}
    x, y = _floats(trace.get("x")), _floats(trace.get("y"))
    if x.size == 0 and y.size:
        x = np.arange(y.size, dtype=float)
    label = trace.get("name") if trace.get("showlegend", True) is not False else None
    kwargs = {"color": _color(line.get("color") or marker.get("color")), "label": label,
              "alpha": trace.get("opacity", 1.0)}
    if "lines" in mode:
        ax.plot(x, y, DASHES.get(line.get("dash"), "-"), lw=(line.get("width") or 2) * 0.7,
                marker=SYMBOLS.get(marker.get("symbol"), "o") if "markers" in mode else None,
                ms=(marker.get("size") or 6) * 0.6, **kwargs)
    elif "markers" in mode:
        ax.plot(x, y, SYMBOLS.get(marker.get("symbol"), "o"), ms=(marker.get("size") or 6) * 0.6,
                ls="none", **kwargs)


def _draw_bars(ax, bars: list[dict]) -> None:
    width = 0.8 / len(bars)
    for k, trace in enumerate(bars):
        categories = list(trace.get("x") or [])
        positions = np.arange(len(categories)) + (k - (len(bars) - 1) / 2) * width
        ax.bar(positions, _floats(trace.get("y")), width, label=trace.get("name"),
               color=_color((trace.get("marker") or {}).get("color")))
        ax.set_xticks(np.arange(len(categories)), categories)


def to_matplotlib(fig):
    """Draw a plotly figure (``go.Figure`` or its dict) with matplotlib; returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    spec = fig.to_plotly_json() if hasattr(fig, "to_plotly_json") else fig
    layout, data = spec.get("layout", {}), spec.get("data", [])
    names = _axes_names(layout)
    width, height = layout.get("width") or 900, layout.get("height") or 360
    mpl_fig, axes = plt.subplots(1, len(names), figsize=(width / PX_PER_INCH, height / PX_PER_INCH),
                                 squeeze=False)
    axes = dict(zip((_ref(n) for n in names), axes[0]))
    bars: dict[str, list] = {}
    for trace in data:
        kind = trace.get("type", "scatter")
        ax_ref = trace.get("xaxis") or "x"
        if kind == "bar":
            bars.setdefault(ax_ref, []).append(trace)
        elif kind == "scatter":
            _draw_scatter(axes[ax_ref], trace)
        else:
            raise ValueError(f"to_matplotlib: trace type {kind!r} is not supported (scatter and bar are)")
    for ax_ref, traces in bars.items():
        _draw_bars(axes[ax_ref], traces)
    for name, ref in zip(names, axes):
        ax = axes[ref]
        _style_axis(ax, layout.get(name, {}), "x")
        _style_axis(ax, layout.get("yaxis" + name[len("xaxis"):], {}), "y")
        if any(line.get_label() and not line.get_label().startswith("_") for line in ax.get_lines()) or \
                ref in bars:
            ax.legend(fontsize=8)
    mpl_fig.tight_layout()
    return mpl_fig
