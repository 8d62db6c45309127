"""Symbolic derivations for min_x max_y f(x, y) = xy: the gradient flow and six discrete update rules.

Conventions used throughout the chapter and its tests:

- the state is z = (x, y); x descends on f, y ascends on f;
- the game's vector field is v(z) = (-df/dx, +df/dy) = (-y, x) = B z with B = [[0, -1], [1, 0]];
- every discrete method, applied to this linear field, is a linear map z_{t+1} = M z_t (a 4 x 4 map on
  (x_t, y_t, x_{t-1}, y_{t-1}) for optimistic GDA), so its radius after t steps is fixed by the eigenvalues of M.

``update_matrix`` derives M by applying each update rule to symbolic x, y; ``eigenvalues`` states the
eigenvalues derived by hand in the book, and the tests check that they are the roots of M's characteristic
polynomial. The Dirac-GAN's linearisation lives in :mod:`theory.dirac_gan`.
"""
from __future__ import annotations

import functools

import numpy as np
import sympy as sp

__all__ = [
    "METHODS", "characteristic_gap", "eigenvalues", "eigenvalues_numeric", "flow_conserved_quantity", "flow_jacobian",
    "gradient_flow", "alternating_invariant", "matrix_power", "spectral_radius", "stability_threshold",
    "update_matrix", "update_matrix_numeric",
]

t = sp.Symbol("t", real=True)
eta, gamma = sp.symbols("eta gamma", positive=True)   # step size; damping / consensus weight
alpha, beta = sp.symbols("alpha beta", positive=True)  # learning rates of x and y in the flow
x0, y0 = sp.symbols("x_0 y_0", real=True)
x, y, x_prev, y_prev = sp.symbols("x y x_prev y_prev", real=True)
lam = sp.Symbol("lambda")

F_XY = x * y
METHODS = ("gda", "alternating", "extragradient", "optimistic", "consensus", "damped")


def field(u, w):
    """The game's vector field v = (-df/dx, +df/dy) at (u, w), as a sympy column."""
    return sp.Matrix([-sp.diff(F_XY, x), sp.diff(F_XY, y)]).subs({x: u, y: w}, simultaneous=True)


# --- continuous time -------------------------------------------------------------------------------------

def gradient_flow(lr_x=alpha, lr_y=beta):
    """Solve dx/dt = -lr_x df/dx, dy/dt = +lr_y df/dy with x(0) = x_0, y(0) = y_0; return (x(t), y(t))."""
    xf, yf = sp.Function("x"), sp.Function("y")
    rhs = field(xf(t), yf(t))
    system = [sp.Eq(xf(t).diff(t), lr_x * rhs[0]), sp.Eq(yf(t).diff(t), lr_y * rhs[1])]
    solution = sp.dsolve(system, [xf(t), yf(t)], ics={xf(0): x0, yf(0): y0})
    by_name = {eq.lhs.func.__name__: eq.rhs for eq in solution}
    return by_name["x"], by_name["y"]


def flow_conserved_quantity(lr_x=alpha, lr_y=beta, u=x, w=y):
    """lr_y u^2 + lr_x w^2: constant along the flow (a circle when lr_x = lr_y, else an ellipse)."""
    return lr_y * u**2 + lr_x * w**2


def flow_jacobian(lr_x=alpha, lr_y=beta):
    """Jacobian of (lr_x v_x, lr_y v_y) with respect to (x, y); eigenvalues +-i sqrt(lr_x lr_y)."""
    scaled = sp.Matrix([lr_x * field(x, y)[0], lr_y * field(x, y)[1]])
    return scaled.jacobian([x, y])


# --- discrete time: the update rules applied to symbolic x, y ----------------------------------------------

def _next_state(method: str, step, reg):
    """One step of ``method`` from (x, y) (and (x_prev, y_prev) for optimistic GDA), as sympy expressions."""
    z = sp.Matrix([x, y])
    v = field(x, y)
    if method == "gda":
        return z + step * v
    if method == "alternating":  # x moves first; y then sees the new x
        x_new = x + step * v[0]
        return sp.Matrix([x_new, y + step * field(x_new, y)[1]])
    if method == "extragradient":  # extrapolate, then step from z with the field at the look-ahead point
        z_half = z + step * v
        return z + step * field(z_half[0], z_half[1])
    if method == "optimistic":
        z_new = z + 2 * step * v - step * field(x_prev, y_prev)
        return sp.Matrix([z_new[0], z_new[1], x, y])
    if method == "consensus":  # ascend v minus reg * grad of L = |v|^2 / 2
        grad_l = sp.Matrix([sp.Rational(1, 2) * v.dot(v)]).jacobian([x, y]).T
        return z + step * (v - reg * grad_l)
    if method == "damped":  # y's objective gets -reg y^2 / 2, the analogue of a zero-centred penalty
        return z + step * (v - sp.Matrix([0, reg * y]))
    raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}; got {method!r}")


def update_matrix(method: str, step=eta, reg=gamma) -> sp.Matrix:
    """The matrix M with z_{t+1} = M z_t, obtained by differentiating one step of the rule."""
    state = [x, y, x_prev, y_prev] if method == "optimistic" else [x, y]
    return sp.simplify(_next_state(method, step, reg).jacobian(state))


def eigenvalues(method: str, step=eta, reg=gamma) -> list:
    """Eigenvalues of ``update_matrix(method)`` as derived by hand (see the book); checked in the tests."""
    i = sp.I
    if method == "gda":
        return [1 + i * step, 1 - i * step]
    if method == "alternating":
        root = step * sp.sqrt(step**2 - 4) / 2
        return [1 - step**2 / 2 + root, 1 - step**2 / 2 - root]
    if method == "extragradient":
        return [1 - step**2 + i * step, 1 - step**2 - i * step]
    if method == "optimistic":  # for each eigenvalue b = +-i of B: lambda^2 - (1 + 2 step b) lambda + step b = 0
        root = sp.sqrt(1 - 4 * step**2)
        return [(1 + 2 * step * b + s * root) / 2 for b in (i, -i) for s in (1, -1)]
    if method == "consensus":
        return [1 - step * reg + i * step, 1 - step * reg - i * step]
    if method == "damped":
        root = step * sp.sqrt(reg**2 / 4 - 1)
        return [1 - step * reg / 2 + root, 1 - step * reg / 2 - root]
    raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}; got {method!r}")


def characteristic_gap(method: str, step=eta, reg=gamma):
    """charpoly(M) minus prod(lambda - lambda_k), expanded: zero exactly when ``eigenvalues`` is right."""
    matrix = update_matrix(method, step, reg)
    claimed = sp.prod([lam - root for root in eigenvalues(method, step, reg)])
    return sp.simplify(sp.expand(matrix.charpoly(lam).as_expr() - claimed))


def alternating_invariant(step=eta, u=x, w=y):
    """Q(x, y) = x^2 - step x y + y^2: conserved by alternating updates, positive definite iff step < 2."""
    return u**2 - step * u * w + w**2


def stability_threshold(method: str, reg=gamma):
    """The largest step size below which the spectral radius is < 1 (alternating: <= 1); None if none.

    Derived from |lambda|^2 = det M for a complex pair (and, for optimistic GDA, from its eigenvalue with the
    larger modulus once 4 step^2 > 1), or from the sign of the discriminant for alternating updates. For the
    damped rule the eigenvalues are a complex pair only when reg < 2, so its threshold ``reg`` assumes that.
    """
    if method == "gda":
        return None  # det M = 1 + step^2 > 1 for every step > 0
    if method == "alternating":  # the eigenvalues leave the unit circle when the discriminant turns positive
        return sp.solve(sp.Eq(eta**2 - 4, 0), eta)[0]
    if method == "optimistic":
        big = (1 + (2 * eta + sp.sqrt(4 * eta**2 - 1))**2) / 4  # |lambda|^2 of the larger root, eta > 1/2
        return sp.solve(sp.Eq(big, 1), eta)[0]
    det = update_matrix(method, eta, reg).det()
    roots = [r for r in sp.solve(sp.Eq(det, 1), eta) if r != 0]
    return sp.simplify(roots[0])


# --- numbers from the closed forms ------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _eigen_function(method: str):
    return sp.lambdify((eta, gamma), eigenvalues(method), "numpy")


@functools.lru_cache(maxsize=None)
def _matrix_function(method: str):
    return sp.lambdify((eta, gamma), update_matrix(method), "numpy")


def eigenvalues_numeric(method: str, step, reg=0.0) -> np.ndarray:
    """The closed-form eigenvalues at numeric (step, reg): complex, shape (k,) or (k, n) for n step sizes.

    k = 2, or 4 for optimistic GDA. Complex arithmetic makes sqrt of a negative number imaginary, as in the
    formulas.
    """
    values = _eigen_function(method)(np.asarray(step, dtype=complex), np.asarray(reg, dtype=complex))
    return np.asarray(np.broadcast_arrays(*values), dtype=complex)


def update_matrix_numeric(method: str, step, reg=0.0) -> np.ndarray:
    """``update_matrix`` at numeric (step, reg), float, shape (2, 2) or (4, 4)."""
    return np.asarray(_matrix_function(method)(float(step), float(reg)), dtype=float)


def spectral_radius(method: str, step, reg=0.0):
    """max |lambda_k|: the factor by which the distance to (0, 0) changes per step, in the long run.

    A float for a scalar ``step``, an array of shape (n,) for n step sizes.
    """
    radius = np.abs(eigenvalues_numeric(method, step, reg)).max(axis=0)
    return float(radius) if radius.ndim == 0 else radius


def matrix_power(matrix: np.ndarray, roots: np.ndarray, n_steps: int) -> np.ndarray:
    """M^n from M's eigenvalues alone (Sylvester's formula), for distinct eigenvalues.

    M^n = sum_k lambda_k^n prod_{j != k} (M - lambda_j I) / (lambda_k - lambda_j). The formula reproduces M^n
    only if ``roots`` are M's eigenvalues, so comparing it with an iterated simulation tests the roots.
    """
    size = matrix.shape[0]
    gaps = np.abs(roots[:, None] - roots[None, :]) + np.eye(size)
    if roots.shape != (size,) or gaps.min() < 1e-9:
        raise ValueError(f"roots must be {size} distinct eigenvalues, got {np.round(roots, 12)}")
    power = np.zeros((size, size), dtype=complex)
    for k, root in enumerate(roots):
        projector = np.eye(size, dtype=complex)
        for j, other in enumerate(roots):
            if j != k:
                projector = projector @ (matrix - other * np.eye(size)) / (root - other)
        power += root**n_steps * projector
    return power.real


# --- time averages and the general step-size condition ----------------------------------------------------

def flow_period_average(lr_x=alpha, lr_y=beta):
    """(x, y) averaged over one period 2 pi / sqrt(lr_x lr_y) of the gradient flow: the orbit's centre.

    Zero: the centre of every orbit is the equilibrium, so time averages of the flow converge to it (like 1/T)
    even though the flow itself never does.
    """
    x_t, y_t = gradient_flow(lr_x, lr_y)
    period = 2 * sp.pi / sp.sqrt(lr_x * lr_y)
    return [sp.simplify(sp.integrate(c, (t, 0, period)) / period) for c in (x_t, y_t)]


def averaging_determinant(method: str, step=eta, reg=gamma):
    """det(I - M): non-zero means sum_{t<T} M^t = (I - M)^-1 (I - M^T), so the average of the first T iterates is
    (I - M)^-1 (z_0 - z_T) / T, which tends to 0 like 1/T whenever the iterates stay bounded (alternating GDA)."""
    matrix = update_matrix(method, step, reg)
    return sp.factor(sp.simplify((sp.eye(matrix.shape[0]) - matrix).det()))


def _simultaneous_factor(root, step):
    """|1 + step * root|^2: the squared per-step factor of a simultaneous step on the eigen-direction of root."""
    return sp.expand((1 + step * root) * (1 + step * sp.conjugate(root)))


def step_size_limit(decay, frequency):
    """The largest stable simultaneous step for a Jacobian eigenvalue -decay + i frequency (decay > 0).

    |1 + h lambda|^2 < 1 reduces to h |lambda|^2 < 2 decay, so h < 2 decay / |lambda|^2 = -2 Re(lambda)/|lambda|^2
    (Mescheder et al. 2017, Lemma 4); a purely imaginary eigenvalue (decay = 0) admits no step at all.
    """
    h = sp.Symbol("h", positive=True)
    root = -decay + sp.I * frequency
    limits = [r for r in sp.solve(sp.Eq(_simultaneous_factor(root, h), 1), h) if r != 0]
    return sp.simplify(limits[0]) if limits else None
