"""``score_customers``: build the scored marts with dbt, the SQL functions registered by the plugin."""

from __future__ import annotations

from pathlib import Path

import duckdb

from clv.build import Progress, build_features
from clv.errors import ClvError
from udfs import registry

SCORED = ("customer_scores", "segment_summary")


def score_customers(
    db: str | Path,
    models_dir: str | Path,
    vip_percentile: float | None = None,
    regular_percentile: float | None = None,
    discount_rate: float | None = None,
    progress: Progress | None = None,
) -> dict[str, object]:
    """Run ``dbt build --select tag:scores``: customer_scores and segment_summary with their tests.

    Parameters
    ----------
    db : path
        The built database.
    models_dir : path
        The model registry whose champions score.
    vip_percentile, regular_percentile : float, optional
        Value-tier thresholds on the predicted-CLV percentile (dbt defaults 0.95 and 0.5).
    discount_rate : float, optional
        Annual rate of the ``discounted_clv`` column (dbt default 0.1).
    progress : callable, optional
        Called with (nodes done, nodes in all, node name).

    Returns the row count and the model versions that scored the customers.
    """
    root = Path(models_dir)
    missing = [t for t in ("value", "churn", "segment") if registry.champion(root, t) is None]
    if missing:
        raise ClvError(f"no {', '.join(missing)} champion in {root}: run `clv train --db {db}` first")
    variables: dict[str, object] = {"score": True}
    for name, value in (
        ("vip_percentile", vip_percentile),
        ("regular_percentile", regular_percentile),
        ("discount_rate", discount_rate),
    ):
        if value is not None:
            if not 0 <= value <= 1:
                raise ClvError(f"{name} must be between 0 and 1, got {value}")
            variables[name] = value
    if variables.get("vip_percentile", 0.95) < variables.get("regular_percentile", 0.5):
        raise ClvError("vip_percentile must be at least regular_percentile")
    build_features(db, variables, select="tag:scores", progress=progress, models_dir=root)
    with duckdb.connect(str(db), read_only=True) as con:
        rows, value, churn, segment = con.execute(
            "SELECT count(*), any_value(value_model), any_value(churn_model), any_value(segment_model) "
            "FROM customer_scores"
        ).fetchall()[0]
    return {"customers": rows, "value_model": value, "churn_model": churn, "segment_model": segment}
