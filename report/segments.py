"""The report's segment section: segments by name, on the first two principal components.

The segment champion's graph outputs each customer's principal components beside the segment, so
the scatter shows the same projection the k-means ran on, for a seeded sample of the customers
at the scoring cutoff.
"""

from __future__ import annotations

import duckdb
import numpy as np

from duckdb_clv.report import figures
from duckdb_clv.training.dataset import read_rows
from duckdb_clv.training.models.segments import COMPONENTS_OUTPUT
from duckdb_clv.udfs.functions import segment_names
from duckdb_clv.udfs.sessions import open_session

SAMPLE_ROWS = 5_000


def projection(con: duckdb.DuckDBPyConnection, data: bytes, card: dict) -> tuple[str, str] | None:
    """(the PCA scatter, the explained-variance and silhouette chart), or None for a model without PCA."""
    described = card["model"]
    if "pca" not in described:
        return None
    # A fixed sample by customer id hash: the same customers in every report of one database.
    sample = f"customer_id IN (SELECT customer_id FROM ml_scoring_set ORDER BY hash(customer_id) LIMIT {SAMPLE_ROWS})"
    rows = read_rows(con, "ml_scoring_set", where=sample)
    session = open_session(data, "segment", f"{card['name']} {card['version']}")
    segment, components = session.run(["segment", COMPONENTS_OUTPUT], {"features": rows.X})
    scatter = figures.segments_scatter(components[:, :2], segment.ravel().astype(int), segment_names(card))
    pca = described["pca"]
    curve = figures.pca_figure(
        np.asarray(pca["explained_variance_ratio"]),
        pca["variance_share"],
        pca["components"],
        {int(k): v for k, v in described["silhouettes"].items()},
        described["k"],
    )
    return scatter, curve
