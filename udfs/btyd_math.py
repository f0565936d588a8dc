"""BG/NBD closed forms in numpy alone, for the ``p_alive`` and ``expected_purchases`` SQL functions.

Scoring may not import scipy, so the Gauss hypergeometric function is summed as its series,
vectorized over customers, until every remaining term is negligible (the same series the exported
ONNX graph sums). Parameters come from a registered BG/NBD model's card; the time unit is the
card's (weeks in this project).
"""

from __future__ import annotations

import numpy as np

SERIES_TOL = 1e-12
SERIES_MAX_TERMS = 20_000


def hyp2f1(a: np.ndarray, b: np.ndarray, c: np.ndarray, z: np.ndarray) -> np.ndarray:
    """2F1(a, b; c; z) for 0 <= z < 1, elementwise.

    Each element stops adding terms once its own term is below tol x its sum, so its value does
    not depend on the other elements it is computed with.
    """
    a, b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c, z)))
    term = np.ones_like(z)
    total = np.ones_like(z)
    active = np.ones(z.shape, dtype=bool)
    for k in range(SERIES_MAX_TERMS):
        term = term * (a + k) * (b + k) / ((c + k) * (k + 1)) * z
        total = total + np.where(active, term, 0.0)
        active &= np.abs(term) > SERIES_TOL * np.abs(total)
        if not active.any():
            break
    return total


def p_alive(params: dict[str, float], x: np.ndarray, t_x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """P(still active at T) given x repeat purchases, the last at t_x (1 without repeats)."""
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        log_ratio = (
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (np.log(alpha + t) - np.log(alpha + t_x))
        )
        return np.where(x > 0, 1.0 / (1.0 + np.exp(log_ratio)), 1.0)


def expected_purchases(
    params: dict[str, float], x: np.ndarray, t_x: np.ndarray, t: np.ndarray, periods: np.ndarray
) -> np.ndarray:
    """Expected repeat purchases in (T, T + periods]."""
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    z = periods / (alpha + t + periods)
    head = (a + b + x - 1) / (a - 1)
    # (1 - z)^(r + x) 2F1(r + x, b + x; a + b + x - 1; z) through Euler's transformation, whose
    # series converges from its first term (see training/btyd_graph.py).
    decay = (1 - z) ** (a - 1)
    series = hyp2f1(np.full_like(z, a + b - 1 - r), np.full_like(z, a - 1), a + b + x - 1, z)
    return head * (1 - decay * series) * p_alive(params, x, t_x, t)


def check_summary(x: np.ndarray, t_x: np.ndarray, t: np.ndarray) -> None:
    """Raise ValueError naming the first rule a BTYD summary breaks (SQL shows it as the error)."""
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(t_x)) and np.all(np.isfinite(t))):
        raise ValueError("frequency, recency and T must be finite numbers; pass NULL for unknown values")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(t < 0):
        raise ValueError("frequency, recency and T must be >= 0 (repeat purchases, and weeks since the first)")
    if np.any(t_x > t + 1e-9):
        raise ValueError("recency must not exceed T; pass both in weeks since the first purchase")
    if np.any(x != np.round(x)):
        raise ValueError("frequency must be a whole number of repeat purchases")
