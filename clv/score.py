"""``score_customers``: build the scored marts with dbt, the SQL functions registered by the plugin."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
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
    recorded: bool = True  # appended to score_history; False when the same run was recorded before
    history_runs: int = 1  # scoring runs in score_history after this one
    drift: dict[str, int] = field(default_factory=dict)  # this run's seasonal and scoring rows by status
    unavailable: tuple[str, ...] = ()  # monitors without reference statistics in the model's card
    warnings: tuple[str, ...] = ()  # dbt tests of severity warn that found rows (drift alerts)


def score_customers(
    db: str | Path,
    models_dir: str | Path,
    variables: dict[str, object] | None = None,
    progress: Progress | None = None,
) -> ScoreResult:
    """Run ``dbt build --select tag:scores``: customer_scores, segment_summary, score_history, the monitors, tests.

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
    missing = [t for t in registry.SCORING_TASKS if registry.champion(root, t) is None]
    if missing:
        raise ClvError(f"no {', '.join(missing)} champion in {root}: run `clv train --db {db}` first")
    # The next best action needs a policy, which only a campaign log trains: without one its
    # columns stay NULL and campaign_plan stays empty.
    variables = {
        **(variables or make_settings().scoring_vars()),
        "next_best_action": bool(registry.champion(root, "action")),
    }
    built = build_features(db, variables, select="tag:scores", progress=progress, models_dir=root)
    with duckdb.connect(str(db), read_only=True) as con:
        rows, as_of, value, churn, segment, scored_at = con.execute(
            "SELECT count(*), any_value(as_of_date), any_value(value_model), any_value(churn_model), "
            "any_value(segment_model), any_value(scored_at) FROM customer_scores"
        ).fetchall()[0]
        run = "as_of_date = ? AND value_model = ? AND churn_model = ? AND segment_model = ?"
        key = [as_of, value, churn, segment]
        # The run was recorded now if its rows in the history carry this build's timestamp.
        recorded_at, runs = con.execute(
            f"SELECT (SELECT any_value(scored_at) FROM score_history WHERE {run}), (SELECT count(*) FROM "
            "(SELECT DISTINCT as_of_date, value_model, churn_model, segment_model FROM score_history))",
            key,
        ).fetchall()[0]
        # This run's drift rows: statuses of the alerting baselines, and which monitors it has at all.
        measured_rows = con.execute(
            f"SELECT baseline, status, CASE WHEN is_output THEN column_name ELSE 'features' END "
            f"FROM monitor_drift WHERE {run}",
            key,
        ).fetchall()
    drift = dict(Counter(status for baseline, status, _ in measured_rows if baseline != "training"))
    measured = {monitor for _, _, monitor in measured_rows}
    seasonal = any(baseline == "seasonal" for baseline, _, _ in measured_rows)
    unavailable = tuple(
        f"{what} drift ({model}'s card has no reference statistics: it was trained before monitoring; "
        "retrain to enable it)"
        for what, model in (
            ("features", value),
            ("predicted_clv", value),
            ("churn_probability", churn),
            ("segment", segment),
        )
        if what not in measured
    )
    if "features" in measured and not seasonal:
        unavailable += (
            "seasonal drift (it needs a training cutoff about a year before the scoring date in this build and in "
            f"the one {value} was trained on, and a card written since seasonal monitoring)",
        )
    return ScoreResult(
        rows, value, churn, segment, recorded_at == scored_at, runs, drift, unavailable, tuple(built.warnings)
    )
