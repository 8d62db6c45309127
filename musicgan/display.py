"""Showing music data in the book: mel matrices with time and frequency axes, and tables of audio players.

Both are used by the two music chapters (data and GAN), so they live here rather than in a page.
"""
from __future__ import annotations

import numpy as np

from musicgan.mel import MelConfig, mel_band_edges

__all__ = ["AudioTable", "plot_mel", "FREQUENCY_TICKS_HZ"]

FREQUENCY_TICKS_HZ = (100, 250, 500, 1000, 2000, 4000, 8000)


def plot_mel(ax, mel_db, cfg: MelConfig, *, vmin: float | None = None, vmax: float | None = None,
             ticks_hz=FREQUENCY_TICKS_HZ):
    """Draw one log-mel matrix ``(n_mels, n_frames)`` in dB: time in seconds across, bands upwards.

    The bands are equally spaced on the mel axis, so the frequency ticks (in Hz) sit at their mel positions:
    the axis is what the network sees, labelled in units a reader knows. Returns the image for a colour bar.
    """
    mel_db = np.asarray(mel_db)
    n_mels, n_frames = mel_db.shape
    edges = mel_band_edges(n_mels, cfg.fmin, cfg.fmax)
    seconds = n_frames * cfg.hop_length / cfg.sample_rate
    image = ax.imshow(mel_db, origin="lower", aspect="auto", extent=(0, seconds, -0.5, n_mels - 0.5),
                      vmin=vmin, vmax=vmax, interpolation="nearest")
    centres = edges[1:-1]
    shown = [f for f in ticks_hz if centres[0] <= f <= centres[-1]]
    ax.set_yticks(np.interp(shown, centres, np.arange(n_mels)), [f"{f:g}" for f in shown])
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    ax.grid(False)
    return image


MP3_AFTER_SECONDS = 5.0    # longer clips are embedded as MP3: a 30-s WAV is 1.3 MB of base64 in the page


def _mp3_player(wave: np.ndarray, sample_rate: int, width: int) -> str:
    """An HTML audio player holding ``wave`` as base64 MP3 (libsndfile's LAME encoder, through soundfile),
    peak-normalised like IPython's Audio."""
    import base64
    import io

    import soundfile

    peak = float(np.abs(wave).max()) or 1.0
    buffer = io.BytesIO()
    soundfile.write(buffer, (wave / peak).astype(np.float32), sample_rate, format="MP3", subtype="MPEG_LAYER_III")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<audio controls="controls" style="width: {width}px"><source src="data:audio/mpeg;base64,{data}" '
            'type="audio/mpeg" />Your browser does not support the audio element.</audio>')


class AudioTable:
    """A table whose cells are text, numbers or mono clips: audio players in HTML, a plain table in the PDF.

    Jupyter shows the HTML (``IPython.display.Audio`` players); the LaTeX build takes the Markdown, where each
    clip becomes a short note instead of an object's repr. ``rows``: sequences of str, float or 1-D arrays.
    """

    def __init__(self, header, rows, sample_rate: int, *, fmt: str = ".3g", player_width: int = 220):
        self.header, self.rows, self.sample_rate, self.fmt = list(header), [list(r) for r in rows], sample_rate, fmt
        self.player_width = player_width
        for i, row in enumerate(self.rows):
            if len(row) != len(self.header):
                raise ValueError(f"row {i} has {len(row)} cells, the header has {len(self.header)}")

    def _cell(self, value, html: bool) -> str:
        if isinstance(value, np.ndarray):
            if not html:
                return f"({value.size / self.sample_rate:.2f} s: player in the HTML version)"
            if value.size > MP3_AFTER_SECONDS * self.sample_rate:
                return _mp3_player(value, self.sample_rate, self.player_width)
            from IPython.display import Audio

            player = Audio(value, rate=self.sample_rate)._repr_html_().strip()
            return player.replace("<audio ", f'<audio style="width: {self.player_width}px" ', 1)
        return value if isinstance(value, str) else format(value, self.fmt)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td>{self._cell(v, True)}</td>" for v in row) + "</tr>" for row in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def _repr_markdown_(self) -> str:
        lines = ["| " + " | ".join(self.header) + " |", "|" + "---|" * len(self.header)]
        lines += ["| " + " | ".join(self._cell(v, False) for v in row) + " |" for row in self.rows]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"AudioTable({len(self.rows)} rows: {', '.join(self.header)})"
