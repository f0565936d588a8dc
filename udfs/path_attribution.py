"""Path attribution for any model: walk from a reference row to the row, share each step's change.

The straight path from the reference ``r`` to the row ``x`` is cut into ``STEPS`` equal steps. In
each step the model's change is measured exactly, and shared among the features by their own
effect over that step: ``d_j``, the change when feature ``j`` alone takes its next value. The part
of the step's change that no single feature explains (their interaction) is shared in proportion
to ``|d_j|``. So the contributions add up to ``F(x) - F(r)`` exactly, a feature that does not
change gets nothing, and as the steps shrink this becomes integrated gradients (Sundararajan et
al., 2017) for a smooth model. A missing feature (NaN) leaves the reference value in the first
step, as the model cannot see a value between.

The model is evaluated ``STEPS * (features + 1)`` times per row, in one batch per chunk of rows.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

STEPS = 8
MAX_BATCH = 100_000  # model rows per call


def _points(reference: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(steps + 1, rows, features): the path's points; NaN features jump to NaN after the first point."""
    alphas = np.linspace(0.0, 1.0, STEPS + 1)[:, None, None]
    filled = np.where(np.isnan(x), reference, x)
    points = reference + alphas * (filled - reference)
    points = np.where(np.isnan(x)[None] & (alphas > 0), np.nan, points)
    return points.astype(np.float32)


def attribute(
    model: Callable[[np.ndarray], np.ndarray],
    reference: np.ndarray,
    X: np.ndarray,
    base: float,
    active: np.ndarray | None = None,
    blocks: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(contributions rows x features, predictions) with ``base + contributions.sum(1) == predictions``.

    ``model`` maps a float32 (rows x features) matrix to one float64 output per row; ``base`` is
    its output at ``reference``. ``active``: the features the model reads (default all); the
    others keep the row's values along the path and get no contribution. ``blocks``: groups of
    columns that move together as one input (a sequence model's 312 weekly values); each block's
    contribution is reported in its first column, the rest of its columns get 0.
    """
    n, width = X.shape
    active = np.arange(width) if active is None else np.asarray(active)
    groups = [np.array([j]) for j in active] + [np.asarray(b) for b in blocks or []]
    out = np.zeros((n, width))
    heads = np.array([g[0] for g in groups])
    rows_per_call = max(1, MAX_BATCH // (STEPS * (len(groups) + 1)))
    for start in range(0, n, rows_per_call):
        chunk = X[start : start + rows_per_call]
        out[start : start + len(chunk), heads] = _chunk(model, reference, chunk, groups)
    # Every path starts from the same reference: the base plus the steps is the model's output at x.
    return out, base + out.sum(axis=1)


def _chunk(
    model: Callable[[np.ndarray], np.ndarray], reference: np.ndarray, X: np.ndarray, groups: list[np.ndarray]
) -> np.ndarray:
    n, k = len(X), len(groups)
    columns = np.concatenate(groups)
    points = _points(reference[columns], X[:, columns])  # (S + 1, n, columns)
    start, end = points[:-1], points[1:]
    # One group moved at a time: (S, k, n, columns), each start point with group g at its end value.
    single = np.repeat(start[:, None], k, axis=1)
    offset = 0
    for g, group in enumerate(groups):
        at = slice(offset, offset + len(group))
        single[:, g, :, at] = end[:, :, at]
        offset += len(group)
    moving = np.concatenate([points.reshape(-1, len(columns)), single.reshape(-1, len(columns))])
    full = np.repeat(X[None], len(moving) // n, axis=0).reshape(-1, X.shape[1])
    full[:, columns] = moving
    values = model(np.ascontiguousarray(full, dtype=np.float32))
    on_path = values[: (STEPS + 1) * n].reshape(STEPS + 1, n)
    moved = values[(STEPS + 1) * n :].reshape(STEPS, k, n)
    change = on_path[1:] - on_path[:-1]  # (S, n)
    own = moved - on_path[:-1, None, :]  # (S, k, n)
    rest = change - own.sum(axis=1)
    weight = np.abs(own)
    total = weight.sum(axis=1)
    same = (start == end) | (np.isnan(start) & np.isnan(end))  # (S, n, columns)
    bounds = np.cumsum([0] + [len(g) for g in groups])
    changed = ~np.logical_and.reduceat(same, bounds[:-1], axis=2)  # a group moves if any column does
    changed = changed.transpose(0, 2, 1)  # (S, k, n)
    # Shares of the interaction: by |own effect|, or evenly over the moved features when none has one.
    share = np.where(total[:, None, :] > 0, weight / np.where(total > 0, total, 1.0)[:, None, :], 0.0)
    even = changed / np.maximum(changed.sum(axis=1), 1)[:, None, :]
    share = np.where((total > 0)[:, None, :], share, even)
    return (own + rest[:, None, :] * share).sum(axis=0).T  # (n, k)
