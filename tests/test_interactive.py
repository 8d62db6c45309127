"""The interactive figures: frames are exactly the project's numbers, the HTML is self-contained but for
plotly.js, and the static fallback draws the same data."""
from __future__ import annotations

import base64
import json
import re

import matplotlib.pyplot as plt
import numpy as np
import plotly.graph_objects as go
import pytest

from sims import dirac_gan, explorables
from sims import product_divergences as pdv
from sims import saddle_dynamics as sd
from sims import wasserstein as sw
from sims.interactive import Control, clean_array, explorable, to_matplotlib


def toy(controls=None):
    fig = go.Figure([go.Scatter(x=[0, 1], y=[0, 0], name="line"), go.Scatter(x=[0], y=[0], mode="markers")])
    controls = controls or [Control("a", "slope a", (1.0, 2.0, 3.0), default=1),
                            Control("kind", "kind", ("up", "flat"), kind="select")]

    def frame(a, kind):
        slope = a if kind == "up" else 0.0
        return {"traces": {0: {"y": [0.0, slope]}}, "readout": f"slope {slope:g}"}

    return explorable("toy", fig, controls, frame)


def payload(html: str) -> dict:
    match = re.search(r'<script type="application/json" class="gan-explorable-data">(.*?)</script>', html, re.S)
    return json.loads(match.group(1).replace("<\\/", "</"))


def test_every_combination_has_a_frame_and_equal_frames_are_stored_once():
    ex = toy()
    assert len(ex.index) == 6
    assert len(ex.frames) == 4  # the three "flat" frames are one
    assert ex.frame("2,0")["traces"]["0"]["y"] == [0.0, 3.0]
    assert ex.frame()["readout"] == "slope 2"  # defaults: a = 2.0, kind = up


def test_frame_naming_a_missing_trace_is_refused():
    fig = go.Figure([go.Scatter(x=[0], y=[0])])
    with pytest.raises(ValueError, match="frame updates traces \\[3\\]"):
        explorable("bad", fig, [Control("a", "a", (1,))], lambda a: {"traces": {3: {"y": [a]}}})


@pytest.mark.parametrize("kwargs, message", [
    ({"values": ()}, "must not be empty"), ({"values": (1, 2), "labels": ("x",)}, "1 labels for 2 values"),
    ({"values": (1,), "default": 1}, "default index 1"), ({"values": (1,), "kind": "knob"}, "kind must be"),
])
def test_bad_controls_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Control("c", "c", **kwargs)


def test_clean_array_rounds_and_marks_gaps():
    assert clean_array([1 / 3, np.nan, np.inf, 12345678.0], digits=3) == [0.333, None, None, 12300000.0]


def test_html_holds_controls_frames_and_a_static_image_but_no_script_source():
    ex = toy()
    html = ex.html()
    spec = payload(html)
    assert spec["index"] == ex.index and len(spec["frames"]) == 4
    assert html.count("data-control=") == 2 and '<option value="1">flat</option>' in html
    assert "data:image/png;base64," in html
    assert "<script src" not in html and "http" not in html  # plotly.js comes once from _static


def test_json_cannot_close_its_script_element():
    fig = go.Figure([go.Scatter(x=[0], y=[0], name="</script><b>")])
    ex = explorable("x", fig, [Control("a", "a", (1,))], lambda a: {"traces": {}, "readout": "</script>"})
    html = ex.html()
    assert html.count("</script>") == 1
    assert payload(html)["data"][0]["name"] == "</script><b>"


def test_mimebundle_offers_html_for_the_web_and_png_for_the_pdf():
    bundle = toy()._repr_mimebundle_()
    assert set(bundle) == {"text/html", "image/png", "text/plain"}
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")


def test_static_drawing_has_the_default_frame():
    ex = toy()
    mpl_fig = to_matplotlib(ex.figure_at())
    lines = mpl_fig.axes[0].get_lines()
    np.testing.assert_allclose(lines[0].get_ydata(), [0.0, 2.0])
    plt.close(mpl_fig)


def test_static_drawing_handles_subplots_log_axes_and_refuses_unknown_traces():
    fig = explorables._two_panels({"x": {"title": {"text": "a"}}, "y": {}},
                                  {"x": {}, "y": {"type": "log", "range": [-2, 1]}})
    fig.add_scatter(row=1, col=2, x=np.arange(3), y=np.array([1.0, 10.0, 100.0]))
    mpl_fig = to_matplotlib(fig)
    assert len(mpl_fig.axes) == 2 and mpl_fig.axes[1].get_yscale() == "log"
    assert mpl_fig.axes[1].get_ylim() == pytest.approx((0.01, 10.0))
    assert mpl_fig.axes[0].get_xlabel() == "a"
    plt.close(mpl_fig)
    with pytest.raises(ValueError, match="'heatmap' is not supported"):
        to_matplotlib(go.Figure([go.Heatmap(z=[[1]])]))


def rounded(values):
    return np.array(clean_array(values), dtype=float)


def test_bilinear_frames_are_the_simulation():
    ex = explorables.bilinear_game(etas=(0.2, 0.5), n_steps=20)
    key = f"{list(sd.UPDATE_RULES).index('extragradient')},1"
    path = sd.run_dynamics(sd.extragradient_step, (1.0, 0.0), 0.5, 20)
    np.testing.assert_array_equal(ex.frame(key)["traces"]["0"]["x"], rounded(path[:, 0]))
    assert len(ex.index) == 2 * len(sd.UPDATE_RULES)


def test_dirac_frames_are_the_simulation_and_unused_strength_shares_a_frame():
    ex = explorables.dirac_gan_field(strengths=(0.3, 1.0), n_steps=50)
    variants = list(explorables.DIRAC_VARIANTS)
    r1 = ex.frame(f"{variants.index('r1')},1")
    path = dirac_gan.simulate("r1", n_steps=50, gamma=1.0)
    np.testing.assert_array_equal(r1["traces"]["2"]["y"], rounded(path[:, 1]))
    gan = variants.index("gan")
    assert ex.index[f"{gan},0"] == ex.index[f"{gan},1"]


def test_packing_frames_are_the_exact_divergences():
    ex = explorables.packing(ms=(1, 2, 3))
    p, q_drop, _ = pdv.dropped_and_off_generators(8)
    exact = pdv.product_divergences(p, q_drop, 3)
    assert ex.frame("2")["traces"]["0"]["y"] == clean_array([exact["tv"], exact["js"], exact["d_loss"]])


def test_wasserstein_frames_match_the_lp_and_js_controls():
    ex = explorables.wasserstein_pairs(shifts=(0.0, 0.5, 5.0))
    pair = "1/4 on 0..3 vs 1/2, 1/3, 1/6 on 1, 3, 5"
    key = f"{list(explorables._pairs()).index(pair)},1"
    w1 = sw.w1_lp([0.0, 1, 2, 3], [0.25] * 4, [1.5, 3.5, 5.5], [1 / 2, 1 / 3, 1 / 6])
    assert ex.frame(key)["traces"]["5"]["y"] == clean_array([w1])
    # JS: zero for equal laws, log 2 for disjoint supports
    assert explorables.discrete_js([0, 1], [0.5, 0.5], [0, 1], [0.5, 0.5]) == pytest.approx(0.0, abs=1e-12)
    assert explorables.discrete_js([0, 1], [0.5, 0.5], [5, 6], [0.5, 0.5]) == pytest.approx(np.log(2))


def test_instance_noise_frames_cover_every_sigma():
    ex = explorables.instance_noise(sigmas=(0.3, 1.0), thetas=np.linspace(0, 2, 5), mc_thetas=(1.0,))
    narrow, wide = ex.frame("0")["traces"]["1"]["y"], ex.frame("1")["traces"]["1"]["y"]
    assert narrow[0] == pytest.approx(0.0, abs=1e-9) and narrow[-1] > wide[-1]  # wider noise, smaller JS
