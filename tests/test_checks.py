"""The argument-validation pattern every public function in sims/ and musicgan/ follows."""
import numpy as np
import pytest

from sims.checks import (check_choice, check_finite, check_int, check_positive, check_probabilities,
                         check_shape)
from sims.plotting import markdown_table
from sims.seeding import as_generator, seed_everything


def test_check_positive_accepts_and_converts():
    assert check_positive(2, "sigma") == 2.0
    assert check_positive(0, "sigma", allow_zero=True) == 0.0


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf")])
def test_check_positive_names_the_argument(bad):
    with pytest.raises(ValueError, match=r"^sigma must be > 0, got "):
        check_positive(bad, "sigma")


def test_check_positive_rejects_non_numbers():
    with pytest.raises(TypeError, match="sigma must be a real number"):
        check_positive("wide", "sigma")


def test_check_int_bounds_and_type():
    assert check_int(3, "m", low=1, high=8) == 3
    with pytest.raises(ValueError, match=r"m must lie in \[1, 8\], got 9"):
        check_int(9, "m", low=1, high=8)
    with pytest.raises(TypeError, match="m must be an integer"):
        check_int(2.0, "m")
    with pytest.raises(TypeError):
        check_int(True, "m")


def test_check_probabilities():
    np.testing.assert_array_equal(check_probabilities([0.25, 0.75], "p"), [0.25, 0.75])
    with pytest.raises(ValueError, match="p must sum to 1, got sum 0.9"):
        check_probabilities([0.5, 0.4], "p")
    with pytest.raises(ValueError, match="p must be non-negative"):
        check_probabilities([1.5, -0.5], "p")
    with pytest.raises(ValueError, match="p must be a non-empty 1-D vector"):
        check_probabilities([[0.5, 0.5]], "p")
    with pytest.raises(ValueError, match="p must be finite"):
        check_probabilities([np.nan, 1.0], "p")


def test_check_shape_wildcards():
    check_shape(np.zeros((5, 2)), (None, 2), "x")
    with pytest.raises(ValueError, match=r"x must have shape \(any, 2\), got \(5, 3\)"):
        check_shape(np.zeros((5, 3)), (None, 2), "x")
    with pytest.raises(ValueError, match="got \\(5,\\)"):
        check_shape(np.zeros(5), (None, 2), "x")


def test_check_finite_and_choice():
    with pytest.raises(ValueError, match="x must be finite, found 2 NaN/inf"):
        check_finite([1.0, np.inf, np.nan], "x")
    assert check_choice("gru", "cell", ["lstm", "gru"]) == "gru"
    with pytest.raises(ValueError, match="cell must be one of 'lstm', 'gru'; got 'rnn'"):
        check_choice("rnn", "cell", ["lstm", "gru"])


def test_error_messages_are_one_line():
    with pytest.raises(ValueError) as info:
        check_shape(np.zeros((3, 3, 3)), (None,), "a_long_argument_name")
    assert "\n" not in str(info.value)


def test_as_generator_is_explicit_and_reproducible():
    a, b = as_generator(7).normal(size=3), as_generator(7).normal(size=3)
    np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(1)
    assert as_generator(rng) is rng
    with pytest.raises(TypeError):
        as_generator(None)
    with pytest.raises(ValueError):
        as_generator(-3)


def test_seed_everything_makes_torch_reproducible():
    torch = pytest.importorskip("torch")
    gen = seed_everything(11)
    first = torch.randn(4), torch.randn(4, generator=gen)
    gen = seed_everything(11)
    second = torch.randn(4), torch.randn(4, generator=gen)
    for x, y in zip(first, second):
        assert torch.equal(x, y)
    torch.use_deterministic_algorithms(False)


def test_markdown_table_shapes_and_caption():
    md = markdown_table(["a", "b"], [[1, 0.123456], ["x", 2]], fmt=".2f", caption="A table", name="tbl-x")
    assert "| 1.00 | 0.12 |" in md.data and ":name: tbl-x" in md.data
    with pytest.raises(ValueError, match="row 0 has 1 cells, the header has 2"):
        markdown_table(["a", "b"], [[1]])


def test_glue_numbers_unwraps_numpy_scalars(monkeypatch):
    import myst_nb

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: glued.setdefault(name, value))
    from sims.plotting import glue_numbers

    glue_numbers(err=np.float64(0.25), n=np.int64(3), label="x")
    assert glued == {"err": 0.25, "n": 3, "label": "x"}
    assert type(glued["err"]) is float and type(glued["n"]) is int


def test_check_probabilities_tolerates_the_dtype_rounding_and_renormalises():
    p = check_probabilities(np.full(10, 0.1, np.float32), "p")
    assert p.dtype == np.float64 and p.sum() == pytest.approx(1.0, abs=1e-15)
    with pytest.raises(ValueError, match="must sum to 1"):
        check_probabilities(np.full(10, 0.1000001, np.float64), "p")


def test_markdown_table_keeps_a_pipe_inside_its_cell():
    """A '|' in a header or cell (|cents|, |x|) is escaped: the table keeps its columns when parsed."""
    from markdown_it import MarkdownIt

    md = markdown_table(["set", "|cents| off"], [["a|b", 1.5]]).data
    html = MarkdownIt("gfm-like").render(md)
    assert html.count("<th>") == 2 and html.count("<td>") == 2
    assert "|cents| off" in html and "a|b" in html
