"""Symbolic statements of the mel-spectrogram chapter (book/music_data.md).

The HTK mel scale m(f) = 2595 log10(1 + f / 700), its inverse, its two regimes, the width of equally spaced
mel bands, the area of a Slaney-normalised triangle and the inverse of the per-band normalisation. Each
function returns sympy expressions; ``tests/test_mel.py`` asserts that they simplify as the chapter claims
and that deliberately wrong variants do not.
"""
from __future__ import annotations

import sympy as sp

__all__ = ["f", "m", "delta", "mel", "mel_inverse", "mel_slope", "slope_at_zero", "linear_regime_series",
           "log_regime_gap", "band_edge_after", "band_width", "triangle_area", "normalise", "denormalise"]

f, m = sp.symbols("f m", nonnegative=True)         # frequency in Hz, mel value
delta = sp.symbols("Delta", positive=True)         # spacing of the band edges in mel
MEL_FACTOR, BREAK_HZ = sp.Integer(2595), sp.Integer(700)


def mel(f_=f) -> sp.Expr:
    """m(f) = 2595 log10(1 + f / 700)  (eq. mel-scale)."""
    return MEL_FACTOR * sp.log(1 + f_ / BREAK_HZ, 10)


def mel_inverse(m_=m) -> sp.Expr:
    """f(m) = 700 (10^(m / 2595) - 1)  (eq. mel-inverse)."""
    return BREAK_HZ * (10 ** (m_ / MEL_FACTOR) - 1)


def mel_slope(f_=f) -> sp.Expr:
    """dm/df = 2595 / (ln 10 (700 + f)): mel per Hz, falling as 1 / (700 + f)  (eq. mel-slope)."""
    return sp.diff(mel(f_), f_)


def slope_at_zero() -> sp.Expr:
    """dm/df at f = 0: 2595 / (700 ln 10), about 1.61 mel per Hz."""
    return mel_slope().subs(f, 0)


def linear_regime_series(order: int = 3) -> sp.Expr:
    """Taylor series of m(f) at f = 0: the linear term dominates while f << 700 Hz."""
    return sp.series(mel(), f, 0, order).removeO()


def log_regime_gap(f_=f) -> sp.Expr:
    """m(f) - 2595 log10(f / 700) = 2595 log10(1 + 700 / f), which vanishes as f grows."""
    return mel(f_) - MEL_FACTOR * sp.log(f_ / BREAK_HZ, 10)


def band_edge_after(f_=f, delta_=delta) -> sp.Expr:
    """The frequency Delta mel above f: 700 + f' = (700 + f) 10^(Delta / 2595)  (eq. band-width)."""
    return mel_inverse(mel(f_) + delta_)


def band_width(f_=f, delta_=delta) -> sp.Expr:
    """f' - f = (700 + f) (10^(Delta / 2595) - 1): bands widen in proportion to 700 + f."""
    return (BREAK_HZ + f_) * (10 ** (delta_ / MEL_FACTOR) - 1)


def triangle_area(left, centre, right, height) -> sp.Expr:
    """Integral of the triangle rising from ``left`` to ``height`` at ``centre`` and back to 0 at ``right``."""
    x = sp.symbols("x", real=True)
    rising = height * (x - left) / (centre - left)
    falling = height * (right - x) / (right - centre)
    return sp.integrate(rising, (x, left, centre)) + sp.integrate(falling, (x, centre, right))


def normalise(value, mean, std, n_std) -> sp.Expr:
    """(value - mean) / (n_std std), before clipping to [-1, 1]  (eq. normalise)."""
    return (value - mean) / (n_std * std)


def denormalise(x, mean, std, n_std) -> sp.Expr:
    """x n_std std + mean."""
    return x * n_std * std + mean
