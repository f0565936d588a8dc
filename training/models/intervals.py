"""Fitting a value model's prediction intervals on the validation customers (see ``udfs.intervals``)."""

from __future__ import annotations

import numpy as np

from duckdb_clv.udfs.intervals import GRID, bounds, central_ends, interval

BANDS = 10
MIN_BAND_ROWS = 200  # fewer validation customers per band make the outer quantiles unreliable
LEVELS = (0.5, 0.8, 0.9)


def fit_intervals(prediction: np.ndarray, actual: np.ndarray) -> dict[str, object]:
    """The card's ``intervals``: bands of the prediction and each band's residual quantiles."""
    prediction = np.asarray(prediction, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    offset = max(float(np.median(prediction)), 1e-6)
    count = max(1, min(BANDS, len(prediction) // MIN_BAND_ROWS))
    edges = np.unique(np.quantile(prediction, np.linspace(0, 1, count + 1)[1:-1]))
    band = np.searchsorted(edges, prediction, side="right")
    residual = (actual - prediction) / (prediction + offset)
    bands = []
    for b in range(len(edges) + 1):
        mine = band == b
        if not mine.any():  # an empty band between tied edges: borrow the nearest one's rows
            mine = band == max(0, b - 1) if b else np.ones(len(band), dtype=bool)
        quantiles = np.quantile(residual[mine], GRID)
        scores = _scores(quantiles, prediction[mine], actual[mine], offset)
        bands.append(
            {"rows": int(mine.sum()), "quantiles": _compact(quantiles), "widths": _compact(np.quantile(scores, GRID))}
        )
    return {
        "method": "split conformal per decile band of the prediction, on validation customers",
        "offset": offset,
        "edges": [float(e) for e in edges],
        "bands": bands,
    }


def _compact(values: np.ndarray) -> list[float]:
    return [float(f"{v:.7g}") for v in values]


def _scores(quantiles: np.ndarray, prediction: np.ndarray, actual: np.ndarray, offset: float) -> np.ndarray:
    """Each customer's smallest central width (on a grid of 400) whose interval holds their value."""
    widths = np.linspace(0.0, 1.0, 401)[1:]
    score = np.ones(len(prediction))
    # Widest first, so each customer ends with the smallest width that still covers them.
    for width in widths[::-1]:
        lo, hi = central_ends(quantiles, width)
        lower, upper = interval(prediction, offset, lo, hi)
        score = np.where((actual >= lower) & (actual <= upper), width, score)
    return score


def coverage(spec: dict, prediction: np.ndarray, actual: np.ndarray) -> dict[str, dict[str, float]]:
    """Share of customers whose realised value falls inside each level's interval, and the mean width."""
    out = {}
    for level in LEVELS:
        lower, upper = bounds(spec, prediction, level)
        inside = (actual >= lower) & (actual <= upper)
        out[f"{level:g}"] = {"coverage": float(np.mean(inside)), "mean_width": float(np.mean(upper - lower))}
    return out
