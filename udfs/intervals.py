"""Prediction intervals for value models: split conformal, per band of the predicted value.

Training (``training.models.intervals``) takes each value model's calibrated predictions on the
validation customers and their realised values and cuts the predictions into bands (deciles).
Within a band, intervals come from the normalized residual ``r = (y - p) / (p + offset)``
(``offset``: the median prediction, so small predictions do not blow the ratio up): the interval
of central width ``w`` runs between the band's residual quantiles at ``(1 - w) / 2`` and
``(1 + w) / 2``, mapped back to values and floored at 0.

Values have a point mass at 0 (most customers buy nothing in a year), and an interval floored at
0 covers every customer who buys nothing, so a width ``w`` covers more than ``w`` of the band.
The width is therefore chosen by conformal calibration of the intervals themselves: each
validation customer's score is the smallest width whose interval holds their value, and the
interval at ``level`` for a band of ``n`` customers uses the ``ceil((n + 1) level)``-th smallest
score. It then holds a new customer's value with probability at least ``level``, and at most
about ``level`` unless the band's customers who buy nothing alone exceed it (no interval that
contains 0 can cover less than they are). The card stores, per band, 201 quantiles of the
residuals and of the scores; both are read by interpolation.
"""

from __future__ import annotations

import math

import numpy as np

GRID = np.linspace(0.0, 1.0, 201)


def check_level(level: float) -> None:
    """Raise ValueError unless ``level`` is a coverage strictly between 0 and 1."""
    if not (isinstance(level, float | int) and 0 < level < 1):
        raise ValueError(f"level must be a coverage between 0 and 1 (exclusive), for example 0.8; got {level}")


def central_ends(quantiles: np.ndarray, width: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Residual quantiles at the ends of the central ``width`` of a band's distribution."""
    width = np.asarray(width, dtype=np.float64)
    return np.interp((1 - width) / 2, GRID, quantiles), np.interp((1 + width) / 2, GRID, quantiles)


def interval(
    prediction: np.ndarray, offset: float, q_lo: np.ndarray, q_hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The value interval for residual quantiles ``q_lo``, ``q_hi``; values are never negative."""
    scale = prediction + offset
    return np.maximum(prediction + q_lo * scale, 0.0), np.maximum(prediction + q_hi * scale, 0.0)


def bounds(spec: dict, prediction: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) of the ``level`` interval around each prediction, from a card's ``intervals``."""
    check_level(level)
    prediction = np.asarray(prediction, dtype=np.float64)
    band = np.searchsorted(np.asarray(spec["edges"], dtype=np.float64), prediction, side="right")
    q_lo = np.empty(len(prediction))
    q_hi = np.empty(len(prediction))
    for b, entry in enumerate(spec["bands"]):
        rows = int(entry["rows"])
        # The conformal order statistic of the band's scores: the ceil((n + 1) level)-th of n.
        corrected = min(1.0, math.ceil((rows + 1) * level) / rows)
        width = np.interp(corrected, GRID, np.asarray(entry["widths"], dtype=np.float64))
        lo, hi = central_ends(np.asarray(entry["quantiles"], dtype=np.float64), width)
        mine = band == b
        q_lo[mine], q_hi[mine] = lo, hi
    return interval(prediction, float(spec["offset"]), q_lo, q_hi)
