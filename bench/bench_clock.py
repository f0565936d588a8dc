"""Benchmark: BG/NBD in calendar weeks against BG/NBD in the shop's operational time (issue #14).

For each cutoff, both are fitted on every customer's BTYD summary at the cutoff (purchase days
as the unit, weeks as time, as the feature layer computes it, here straight from ``raw.orders``
of a loaded database), and their expected repeat purchases over the next horizon are divided by
the repeat purchase days the same customers then had. A correction learnt at one cutoff (the
anchored value model's, a calibration's) carries to the scoring date only if this ratio is the
same at both.

    .venv/bin/python -m bench.bench_clock --db SHOP/clv.duckdb --origins 2024-10-01 2024-12-31

For each origin it fits both at the month-ends whose horizon ends by the origin (the training
cutoffs of a backtest at that origin) and at the origin: "carried" is the origin's ratio over the
training cutoffs' mean, the level a correction learnt there would give at the origin (1 is right).
"""

from __future__ import annotations

import argparse
import time

import duckdb
import numpy as np

from duckdb_clv.training.dataset import ShopActivity
from duckdb_clv.training.models.btyd import BGNBD
from duckdb_clv.training.models.btyd_clock import estimate_clock


def read(db: str) -> tuple[np.ndarray, np.ndarray, ShopActivity]:
    """Customer and day of every purchase day, and the shop's repeat purchases per day."""
    with duckdb.connect(db, read_only=True) as con:
        customer, day = con.execute(
            "SELECT list(customer_id ORDER BY customer_id, d), list(d ORDER BY customer_id, d) FROM "
            "(SELECT DISTINCT customer_id, ordered_at::DATE AS d FROM raw.orders)"
        ).fetchone()
    customer, day = np.array(customer), np.array(day, dtype="datetime64[D]")
    first = np.r_[True, customer[1:] != customer[:-1]]
    days, repeats = np.unique(day[~first], return_counts=True)
    return customer, day, ShopActivity(days, repeats.astype(np.float64))


def ratios(customer: np.ndarray, day: np.ndarray, activity: ShopActivity, cutoff: str, horizon_days: int) -> dict:
    end = np.datetime64(cutoff, "D")
    ids, start = np.unique(customer, return_index=True)
    group = np.searchsorted(ids, customer)
    seen = day <= end
    x = np.bincount(group, weights=seen, minlength=ids.size) - 1
    last = np.full(ids.size, np.datetime64("1970-01-01", "D"))
    np.maximum.at(last, group[seen], day[seen])
    later = np.bincount(group, weights=(day > end) & (day <= end + horizon_days), minlength=ids.size)
    known = day[start] <= end
    t = (end - day[start][known]).astype(np.float64) / 7
    t_x = (last[known] - day[start][known]).astype(np.float64) / 7
    x, realised = x[known], later[known].sum()
    weeks = horizon_days / 7
    calendar = BGNBD(penalizer=1e-4).fit(x, t_x, t)
    began = time.perf_counter()
    clock, model = estimate_clock(x, t_x, t, activity.by_week(end), BGNBD(penalizer=1e-4).fit)
    seconds = time.perf_counter() - began
    return {
        "customers": int(known.sum()),
        "calendar": calendar.expected_purchases(weeks, x, t_x, t).sum() / realised,
        "operational": model.expected_purchases(weeks, x, *clock.summary(t_x, t)).sum() / realised,
        "seconds": seconds,
    }


def month_ends_before(day: np.datetime64, count: int) -> list[str]:
    """The last ``count`` month-ends on or before ``day``, oldest first."""
    month = day.astype("datetime64[M]")
    ends = [(month - k).astype("datetime64[D]") - 1 for k in range(-1, count + 1)]
    return sorted(str(e) for e in ends if e <= day)[-count:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="a loaded database (raw.orders)")
    parser.add_argument("--horizon-days", type=int, default=365)
    parser.add_argument("--origins", nargs="+", required=True, help="forecast origins, a horizon before the data end")
    parser.add_argument("--training-cutoffs", type=int, default=12, help="month-ends a horizon before each origin")
    args = parser.parse_args()
    customer, day, activity = read(args.db)
    print(f"{args.db}, horizon {args.horizon_days} days: predicted / realised repeat purchase days")
    print(f"{'origin':<12}{'clock':<13}{'training cutoffs':>18}{'origin':>8}{'carried':>9}{'fit s':>7}")
    for origin in args.origins:
        last_complete = np.datetime64(origin, "D") - args.horizon_days
        cutoffs = month_ends_before(last_complete, args.training_cutoffs)
        at_cutoffs = [ratios(customer, day, activity, c, args.horizon_days) for c in cutoffs]
        at_origin = ratios(customer, day, activity, origin, args.horizon_days)
        for name in ("calendar", "operational"):
            learnt = float(np.mean([r[name] for r in at_cutoffs]))
            # What a correction learnt at the training cutoffs makes of the origin's forecast.
            carried = at_origin[name] / learnt
            spread = max(r[name] for r in at_cutoffs) - min(r[name] for r in at_cutoffs)
            print(
                f"{origin:<12}{name:<13}{learnt:>11.3f} ±{spread / 2:.3f}{at_origin[name]:>8.3f}{carried:>9.3f}"
                f"{at_origin['seconds']:>7.1f}"
            )


if __name__ == "__main__":
    main()
