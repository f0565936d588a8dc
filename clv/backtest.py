"""``backtest``: what the tool would have said had it run earlier, against what then happened.

A figure measured one month after the last training cutoff is not a figure at the scoring date:
a user scores a whole horizon after the last cutoff whose labels are complete. A backtest
reproduces that gap. For each forecast origin O (a date; the origin day itself is history):

1. **A copy of the data as it stood at O.** A working database holds only the raw rows dated on
   or before O: orders placed, their items, returns received and events seen by then, and the
   customers known by then. Nothing later exists in it, so no stage can read it.
2. **The whole pipeline as of O** on that copy: features at O and at training cutoffs whose horizon
   ended before O, training, selection and calibration, into a registry of its own.
3. **Scores at O**: every registered value and churn model scores the customers known at O
   (``ml_scoring_set``), in onnxruntime, as served.
4. **What happened**: each customer's net value over (O, O + horizon] and whether it ordered
   within the churn window, from a build of the full data with O as a label cutoff.

The metrics are those of ``clv evaluate`` (same names, same JSON shape), plus the aggregate
forecast: predicted against realised revenue and active customers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np

from duckdb_clv import pipeline
from duckdb_clv.build import build_features
from duckdb_clv.errors import ClvError
from duckdb_clv.pipeline import Progress, Step
from duckdb_clv.settings import Settings

# Origins are spaced a quarter apart, and each needs this much history beyond one horizon so
# that at least a few monthly training cutoffs have complete labels before it.
ORIGIN_SPACING_DAYS = 91
MIN_HISTORY_BEYOND_HORIZON_DAYS = 92
DEFAULT_ORIGINS = 2
RAW_TABLES = ("customers", "orders", "order_items", "returns", "events", "campaigns")


def _day(value: object) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def order_span(db: str | Path) -> tuple[dt.date, dt.date]:
    """The first and last order day in ``db``'s raw orders, or a ClvError saying what to load."""
    path = Path(db)
    if not path.exists():
        raise ClvError(f"no database at {path}: load data first with `clv load --db {path} --orders FILE`")
    with duckdb.connect(str(path), read_only=True) as con:
        first, last = con.execute("SELECT min(ordered_at), max(ordered_at) FROM raw.orders").fetchone()
    if first is None:
        raise ClvError(f"{path} has no orders: load some with `clv load --db {path} --orders FILE`")
    return _day(first), _day(last)


def default_origins(db: str | Path, horizon_days: int, count: int = DEFAULT_ORIGINS) -> list[str]:
    """The latest origin whose next horizon is fully observed, then up to ``count - 1`` more a quarter apart.

    An origin needs ``horizon_days`` of data after it and ``horizon_days`` plus about three months
    before it (for training cutoffs with complete labels); origins without that are left out.

    Raises
    ------
    ClvError
        When the history is too short for even one origin.
    """
    first, last = order_span(db)
    latest = last - dt.timedelta(days=horizon_days)
    earliest = first + dt.timedelta(days=horizon_days + MIN_HISTORY_BEYOND_HORIZON_DAYS)
    origins = [latest - dt.timedelta(days=ORIGIN_SPACING_DAYS * k) for k in range(count)]
    usable = [o.isoformat() for o in origins if o >= earliest]
    if not usable:
        need = 2 * horizon_days + MIN_HISTORY_BEYOND_HORIZON_DAYS
        raise ClvError(
            f"the orders span {(last - first).days} days, too short for a backtest with a {horizon_days}-day "
            f"horizon (it needs about {need}); use a shorter --horizon-days"
        )
    return sorted(usable)


def _check_origins(db: str | Path, origins: Sequence[str], horizon_days: int) -> list[str]:
    first, last = order_span(db)
    checked = []
    for origin in origins:
        try:
            day = dt.date.fromisoformat(origin)
        except (TypeError, ValueError) as err:
            raise ClvError(f"--origin must be a date like 2024-12-31, got {origin!r}") from err
        if day + dt.timedelta(days=horizon_days) > last:
            raise ClvError(
                f"origin {origin} plus the {horizon_days}-day horizon runs past the last order ({last}): "
                "choose an earlier origin or a shorter horizon"
            )
        if day <= first:
            raise ClvError(f"origin {origin} is not after the first order ({first}): choose a later origin")
        checked.append(day.isoformat())
    return sorted(set(checked))


def copy_as_of(source: str | Path, target: str | Path, origin: str | None) -> dict[str, int]:
    """Write ``target`` with the raw tables of ``source`` as they stood at the end of day ``origin``.

    ``origin`` None copies everything. Returns the rows copied per table.
    """
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    end = f"DATE '{origin}' + 1" if origin else None
    # Each table keeps the rows that existed by the end of the origin day: orders placed by then
    # and their items; returns received by then (of those orders); events seen by then; customers
    # who had signed up by then or had ordered by then.
    placed = f"(SELECT order_id FROM src.raw.orders WHERE ordered_at < {end})"
    filters = {
        "orders": f"ordered_at < {end}",
        "order_items": f"order_id IN {placed}",
        "returns": f"returned_at < {end} AND order_id IN {placed}",
        "events": f"event_at < {end}",
        "campaigns": f"sent_at < {end}",
        "customers": f"(signup_at IS NULL OR signup_at < {end}) OR customer_id IN "
        f"(SELECT customer_id FROM src.raw.orders WHERE ordered_at < {end})",
    }
    rows = {}
    with duckdb.connect(str(target)) as con:
        con.execute(f"ATTACH '{Path(source).resolve()}' AS src (READ_ONLY)")
        con.execute("CREATE SCHEMA raw")
        # Databases loaded before campaigns existed have no raw.campaigns.
        present = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src' AND schema_name = 'raw'"
            ).fetchall()
        }
        for table in (t for t in RAW_TABLES if t in present):
            where = f" WHERE {filters[table]}" if end else ""
            con.execute(f"CREATE TABLE raw.{table} AS SELECT * FROM src.raw.{table}{where}")
            rows[table] = con.execute(f"SELECT count(*) FROM raw.{table}").fetchone()[0]
        con.execute("DETACH src")
    return rows


def _outcomes(settings: Settings, work: Path, origins: list[str], progress: Progress) -> dict[str, dict]:
    """Per origin, each customer's realised net value, orders and churn, from a build of all the data."""
    db = work / "outcomes.duckdb"
    copy_as_of(settings.db, db, None)
    variables = dataclasses.replace(settings, as_of_date=None, training_cutoffs=tuple(origins)).feature_vars()
    build_features(
        db,
        variables,
        # The labels and what they need only; tests relating them to models left out are skipped.
        select="+fct_customer_labels",
        only_complete_tests=True,
        progress=lambda done, total, name: progress(Step("backtest", done, total, f"outcomes: {name}")),
        models_dir=settings.models_dir,
    )
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT cast(cutoff_date AS VARCHAR), customer_id, future_value, future_orders, churned "
            "FROM fct_customer_labels WHERE cutoff_date IN (SELECT unnest(?::DATE[])) ORDER BY 1, 2",
            [origins],
        ).fetchall()
    out: dict[str, dict] = {o: {} for o in origins}
    for origin, customer, value, orders, churned in rows:
        out[origin][customer] = (value, orders, churned)
    return out


def _forecast(scores: object) -> dict:
    """Predicted against realised totals: revenue over the horizon, customers active in the churn window."""
    data = scores.data
    value, churn = scores.champion("value"), scores.champion("churn")
    out = {
        "revenue": {"realised": float(data.value.sum())},
        "active_customers": {"realised": int((data.churned == 0).sum())},
    }
    if value is not None:
        out["revenue"]["predicted"] = float(value.predicted.sum())
    if churn is not None:
        out["active_customers"]["predicted"] = float((1.0 - churn.predicted).sum())
    for part in out.values():
        if "predicted" in part and part["realised"]:
            part["ratio"] = part["predicted"] / part["realised"]
    return out


def _gap_closed(report: dict) -> float | None:
    """Share of the BG/NBD-to-oracle normalized-Gini gap the value champion closes."""
    rows = {r["model"]: r for r in report["value"]}
    champion = next((r for r in report["value"] if r["champion"]), None)
    if champion is None or "oracle" not in rows or "value_btyd" not in rows:
        return None
    btyd, oracle = rows["value_btyd"]["metrics"]["normalized_gini"], rows["oracle"]["metrics"]["normalized_gini"]
    if oracle <= btyd:
        return None
    return (champion["metrics"]["normalized_gini"] - btyd) / (oracle - btyd)


def _one_origin(
    settings: Settings,
    origin: str,
    work: Path,
    outcomes: dict,
    families: Sequence[str] | None,
    ground_truth: str | Path | None,
    progress: Progress,
) -> dict:
    from duckdb_clv.training.dataset import connect, read_rows, with_histories
    from duckdb_clv.training.evaluation.holdout import (
        TestScores,
        add_oracle,
        evaluation_report,
        needs_history,
        score_models,
    )

    here = dataclasses.replace(
        settings,
        db=str(work / origin / "clv.duckdb"),
        models_dir=str(work / origin / "models"),
        as_of_date=origin,
        training_cutoffs=None,
    )
    copied = copy_as_of(settings.db, here.db, origin)
    built = pipeline.build(here, progress=progress)
    # A backtest judges the CLV and churn models; the policies are judged by `clv evaluate`.
    from duckdb_clv.training.settings import DEFAULT_FAMILIES

    trained = pipeline.train(here, [f for f in families or DEFAULT_FAMILIES if f != "policy"], progress=progress)
    with connect(here.db) as con:
        data = read_rows(con, "ml_scoring_set")
        if needs_history(here.models_dir):
            data = with_histories(con, data, "ml_scoring_set")
    # What each customer scored at the origin then did; every one of them has an outcome.
    known = outcomes[origin]
    missing = [c for c in data.customer_id.tolist() if c not in known]
    if missing:
        raise ClvError(f"{len(missing)} customers scored at {origin} have no outcome (first: {missing[0]}); rebuild")
    realised = np.array([known[c] for c in data.customer_id.tolist()], dtype=np.float64).reshape(-1, 3)
    data = dataclasses.replace(
        data, value=realised[:, 0], orders=realised[:, 1], churned=realised[:, 2].astype(np.int8)
    )
    scores = TestScores(origin, settings.horizon_days, settings.churn_window_days, data, [])
    if ground_truth is not None:
        add_oracle(
            scores,
            pipeline.shop_oracle(ground_truth, origin, settings.horizon_days, settings.churn_window_days),
        )
    scores.models = score_models(here.models_dir, scores.data)
    report = evaluation_report(scores)
    report.pop("test_cutoff")
    report = {
        "origin": origin,
        **report,
        "forecast": _forecast(scores),
        "gini_gap_closed": _gap_closed(report),
        "training_cutoffs": built.training_cutoffs,
        "champions": {task: f"{name}/{version}" for task, (name, version) in trained.champions.items()},
        "notes": list(trained.notes),
        "raw_rows_at_origin": copied,
    }
    return report


def backtest(
    settings: Settings,
    origins: Sequence[str] | None = None,
    n_origins: int = DEFAULT_ORIGINS,
    families: Sequence[str] | None = None,
    ground_truth: str | Path | None = None,
    progress: Progress | None = None,
    keep_work: bool = False,
) -> dict:
    """Run the whole pipeline as of each origin and compare its scores with what then happened.

    Parameters
    ----------
    settings : Settings
        The database (left as it is), the horizon, churn window, seed and search budget.
    origins : sequence of str, optional
        Forecast origins (dates); default ``default_origins``.
    n_origins : int
        How many default origins at most.
    families : sequence of str, optional
        Model families to train at each origin (default: every family but the sequence models).
    ground_truth : path, optional
        A shop made by ``clv generate``: its oracle joins each origin's table.
    progress : callable, optional
        Receives a ``Step`` per origin and the steps of its build and training.
    keep_work : bool
        Keep the working copies (each origin's database and registry) instead of removing them;
        their folder is in the result's ``work``.

    The result is also written to ``settings.backtest`` as JSON.

    Returns
    -------
    dict
        ``horizon_days``, ``churn_window_days`` and, per origin, ``value`` and ``churn`` lists as in
        ``clv evaluate``'s JSON, ``targets``, ``forecast`` (predicted and realised revenue and
        active customers) and, with an oracle, ``gini_gap_closed``.
    """
    progress = progress or (lambda _step: None)
    chosen = (
        _check_origins(settings.db, origins, settings.horizon_days)
        if origins
        else default_origins(settings.db, settings.horizon_days, n_origins)
    )
    result = {"horizon_days": settings.horizon_days, "churn_window_days": settings.churn_window_days, "origins": []}
    # Working copies live beside the database (same disk). They go when the backtest ends; a failed
    # one keeps them, so that the dbt log its error names can be read.
    work = Path(tempfile.mkdtemp(prefix=".backtest-", dir=Path(settings.db).resolve().parent))
    progress(Step("backtest", 0, len(chosen), note=f"backtest at {', '.join(chosen)}: reading what happened"))
    outcomes = _outcomes(settings, work, chosen, progress)
    for i, origin in enumerate(chosen):
        progress(Step("backtest", i, len(chosen), note=f"origin {origin}: the pipeline as of that day"))
        result["origins"].append(_one_origin(settings, origin, work, outcomes, families, ground_truth, progress))
        progress(Step("backtest", i + 1, len(chosen)))
    if keep_work:
        result["work"] = str(work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    path = Path(settings.backtest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    return result
