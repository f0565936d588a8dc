"""Benchmark: do drift alerts fire when the customer base shifts, and stay quiet when it does not? (#16)

On a loaded scenario shop (``clv generate --scenario NAME``, ``clv load``), the models are trained
as of a first scoring date (on a copy of the data up to that day), then the shop is scored monthly
for ``--months`` runs, each run's features built as of its date (point in time: nothing after the
date is read) with the default latest training cutoff (a horizon before the run, the seasonal
comparison's year-before customers), as a user re-scoring each month with the same models would. Every run lands in
``score_history`` and ``monitor_drift``; the script prints per run the columns at warning and
alert, and the first run that alerts.

    .venv/bin/python -m bench.bench_drift_alarms --db /tmp/bt/shock/clv.duckdb --first 2024-03-01 --months 12
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from duckdb_clv import pipeline
from duckdb_clv.backtest import copy_as_of
from duckdb_clv.settings import make_settings


def month_starts(first: dt.date, months: int) -> list[dt.date]:
    out, day = [], first
    for _ in range(months):
        out.append(day)
        day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="a loaded scenario shop (raw tables)")
    parser.add_argument("--first", required=True, help="the first scoring date, YYYY-MM-01")
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--trials", type=int, default=2)
    args = parser.parse_args()
    dates = month_starts(dt.date.fromisoformat(args.first), args.months)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        # Train as the user did on the first date: on the data up to the day before it.
        trained_db, models = work / "train.duckdb", work / "models"
        copy_as_of(args.db, trained_db, (dates[0] - dt.timedelta(days=1)).isoformat())
        settings = make_settings(db=str(trained_db), models_dir=str(models), trials=args.trials)
        pipeline.build(settings)
        pipeline.train(settings)
        print(f"trained as of {dates[0]} in {time.perf_counter() - started:.0f} s", flush=True)
        # Score each month on the whole file, features as of that month's date.
        scored_db = work / "scores.duckdb"
        shutil.copyfile(args.db, scored_db)
        for day in dates:
            began = time.perf_counter()
            # One training cutoff, the default latest (a horizon before the run): the seasonal
            # comparison's year-before customers, as a user's monthly build has it.
            monthly = make_settings(
                db=str(scored_db), models_dir=str(models), as_of_date=day.isoformat(), n_training_cutoffs=1
            )
            pipeline.build(monthly)
            result = pipeline.score(monthly)
            with duckdb.connect(str(scored_db), read_only=True) as con:
                flagged = con.execute(
                    "SELECT baseline || ' ' || status, string_agg(column_name || ' ' || "
                    "round(coalesce(shift, psi), 2), ', ' ORDER BY abs(coalesce(shift, psi)) DESC) "
                    "FROM monitor_drift WHERE baseline != 'training' AND as_of_date = ? AND status != 'ok' "
                    "GROUP BY 1 ORDER BY 1",
                    [day],
                ).fetchall()
                (orders_30d,) = con.execute(
                    "SELECT any_value(shift) FROM monitor_drift WHERE baseline = 'seasonal' AND as_of_date = ? "
                    "AND column_name = 'orders_30d'",
                    [day],
                ).fetchone()
            counts = result.drift
            print(
                f"{day}: {counts.get('alert', 0)} alert, {counts.get('warning', 0)} warning, seasonal shift "
                f"of orders_30d {orders_30d if orders_30d is None else round(orders_30d, 3)} "
                f"({time.perf_counter() - began:.0f} s)",
                flush=True,
            )
            for status, columns in flagged:
                print(f"    {status}: {columns}", flush=True)


if __name__ == "__main__":
    main()
