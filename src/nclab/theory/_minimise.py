"""Global minimisation of a univariate loss on q >= 0, given a bracket that contains every
q with loss below the value at q = 0 (scan on a log grid, then refine every local minimum)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize_scalar


def minimise_on_halfline(
    f: Callable[[np.ndarray], np.ndarray],
    q_lo: float,
    q_hi: float,
    *,
    n_grid: int = 4001,
) -> tuple[float, float]:
    """Return ``(q*, f(q*))`` minimising ``f`` over ``{0} ∪ [q_lo, q_hi]``.

    ``f`` must be vectorised. The scan is uniform in ``log q``; every interior grid minimum is
    refined by bounded Brent in ``log q`` on its two neighbouring cells, so separate local
    minima cannot hide each other. ``q = 0`` is always a candidate (the boundary optimum).
    """
    best_q, best_f = 0.0, float(f(np.array([0.0]))[0])
    if not (q_hi > q_lo > 0) or not math.isfinite(q_hi):
        return best_q, best_f
    u = np.linspace(math.log(q_lo), math.log(q_hi), n_grid)
    vals = f(np.exp(u))
    interior = np.flatnonzero((vals[1:-1] <= vals[:-2]) & (vals[1:-1] <= vals[2:])) + 1
    candidates = set(interior.tolist()) | {int(np.argmin(vals))}
    for i in sorted(candidates):
        lo, hi = u[max(i - 1, 0)], u[min(i + 1, n_grid - 1)]
        res = minimize_scalar(
            lambda s: float(f(np.array([math.exp(s)]))[0]),
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": 1e-12, "maxiter": 500},
        )
        q, val = math.exp(res.x), float(res.fun)
        if vals[i] < val:  # Brent never does worse than the grid point it started from
            q, val = math.exp(u[i]), float(vals[i])
        if val < best_f:
            best_q, best_f = q, val
    return best_q, best_f
