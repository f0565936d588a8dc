"""``score_customers``: build the scored marts with dbt, the SQL functions registered by the plugin."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from duckdb_clv.build import Progress, build_features
from duckdb_clv.errors import ClvError
from duckdb_clv.settings import make_settings
from duckdb_clv.udfs import registry


@dataclass(frozen=True)
class ScoreResult:
    """What a scoring run wrote: customers scored and the model versions (``name/version``) that scored them."""

    customers: int
    value_model: str
    churn_model: str
    segment_model: str


def score_customers(
    db: str | Path,
    models_dir: str | Path,
    variables: dict[str, object] | None = None,
    progress: Progress | None = None,
) -> ScoreResult:
    """Run ``dbt build --select tag:scores``: customer_scores and segment_summary with their tests.

    Parameters
    ----------
    db : path
        The built database.
    models_dir : path
        The model registry whose champions score.
    variables : dict, optional
        The scoring vars (``Settings.scoring_vars``: tiers and discount rate); default the settings' defaults.
    progress : callable, optional
        Called with (nodes done, nodes in all, node name).

    Raises
    ------
    ClvError
        When a task has no champion, or a dbt model or test fails.
    """
    root = Path(models_dir)
    missing = [t for t in registry.TASKS if registry.champion(root, t) is None]
    if missing:
        raise ClvError(f"no {', '.join(missing)} champion in {root}: run `clv train --db {db}` first")
    build_features(
        db, variables or make_settings().scoring_vars(), select="tag:scores", progress=progress, models_dir=root
    )
    with duckdb.connect(str(db), read_only=True) as con:
        rows, value, churn, segment = con.execute(
            "SELECT count(*), any_value(value_model), any_value(churn_model), any_value(segment_model) "
            "FROM customer_scores"
        ).fetchall()[0]
    return ScoreResult(rows, value, churn, segment)
