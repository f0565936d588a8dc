"""Reference distributions for drift monitoring, stored in every model card.

Each feature, and the model's output, is summarised by decile bins of its non-missing values and
the share of rows in each, plus its missing share. The bins follow DuckDB's
``histogram(x, boundaries)``: a value falls in the first bin whose upper edge is at least the
value, the last bin is open above, so ``monitor_drift`` counts a scoring run's values into exactly
these bins in SQL. Two baselines are kept (docs/MONITORING.md):

- ``training``: the training rows, every training cutoff pooled, what the model learnt from;
- ``scoring``: the customers at the scoring cutoff of the training run, what it was put to work
  on. Later scoring runs are compared with this one for alerts: the gap between the training
  cutoffs and the scoring date moves some features even in a shop where nothing changed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

QUANTILES = np.linspace(0.1, 0.9, 9)
MAX_ROWS = 200_000  # rows summarised per baseline; a seeded random sample beyond


def distribution(values: np.ndarray) -> dict[str, object]:
    """Decile edges of the non-missing values, each bin's share of them, and the missing share.

    ``shares`` has one more entry than ``edges``: bins (-inf, e0], (e0, e1], ..., (e_last, inf).
    Tied quantiles give one edge, so a column of few distinct values gets a bin per value.
    """
    values = np.asarray(values, dtype=np.float64)
    present = values[np.isfinite(values)]
    missing = 1.0 - present.size / values.size if values.size else 0.0
    if present.size == 0:
        # One bin that no value reaches: the missing share says it all.
        return {"edges": [], "shares": [1.0], "missing_share": missing, "rows": int(values.size)}
    # float32 storage: the edges must compare the same way to the values DuckDB reads.
    edges = np.unique(np.quantile(present, QUANTILES).astype(np.float32).astype(np.float64))
    counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=edges.size + 1)
    return {
        "edges": [float(e) for e in edges],
        "shares": [round(float(c), 8) for c in counts / present.size],
        "missing_share": float(missing),
        "rows": int(values.size),
    }


def feature_reference(X: np.ndarray, names: Sequence[str]) -> dict[str, dict[str, object]]:
    """The distribution of every feature column of ``X``, by name.

    Callers pass a sample of at most ``MAX_ROWS`` rows (``dataset.sample_rows``), the same rows
    they summarise the models' outputs on.
    """
    return {name: distribution(X[:, j]) for j, name in enumerate(names)}
