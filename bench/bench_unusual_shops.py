"""Benchmark: the bank of unusual shops through `clv run`, as a user runs it (issue #21).

For each scenario of ``ingest/generator/scenarios.py`` this generates a shop with
``clv generate --scenario``, then runs ``clv run`` on its files with the default training budget
(the wholesale shop with the 91-day horizon and churn window of the invoice-level file that first
broke the run) and prints, per shape: size, order values, whether every customer was scored or
the one-line error it stopped with, the candidates dropped, the champions, the worst value parity
error among the registered models, and the wall time.

    .venv/bin/python bench/bench_unusual_shops.py [--only wholesale,tiny] [--out bench/out/unusual]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from duckdb_clv.ingest.generator.scenarios import SCENARIOS
from duckdb_clv.ingest.schema import LOAD_ORDER

ROOT = Path(__file__).resolve().parent.parent

CLV = [sys.executable, "-m", "duckdb_clv"]
# Scenario -> (customers, extra `clv run` flags); None keeps the scenario's own size.
RUNS = {
    "wholesale": (3_400, ["--horizon-days", "91", "--churn-window-days", "91"]),
    "frequent": (1_000, []),
    "one_time": (5_000, []),
    "tiny": (None, []),
    "short": (3_000, []),
    "one_week": (3_000, []),
    "large_units": (3_000, []),
}


def one(name: str, out: Path) -> dict[str, object]:
    """Generate and run one scenario; returns the figures of its row."""
    customers, flags = RUNS[name]
    shop, work = out / name / "shop", out / name / "run"
    shutil.rmtree(out / name, ignore_errors=True)
    size = ["--customers", str(customers)] if customers else []
    subprocess.run(
        [*CLV, "generate", "--scenario", name, *size, "--seed", "42", "--out", str(shop)],
        check=True,
        capture_output=True,
    )
    files = [a for t in LOAD_ORDER for a in (f"--{t.replace('_', '-')}", str(shop / f"{t}.parquet"))]
    work.mkdir(parents=True)
    start = time.perf_counter()
    done = subprocess.run(
        [
            *CLV,
            "--db",
            str(work / "clv.duckdb"),
            "--models-dir",
            str(work / "models"),
            "run",
            *files,
            *flags,
            "--to",
            str(work / "published.duckdb"),
            "--report",
            str(work / "report.html"),
        ],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    with duckdb.connect() as con:
        orders = con.execute(
            f"SELECT count(*), count(DISTINCT customer_id), median(amount), quantile_cont(amount, 0.99) "
            f"FROM '{shop / 'orders.parquet'}'"
        ).fetchall()[0]
    row: dict[str, object] = {
        "scenario": name,
        "customers": orders[1],
        "orders": orders[0],
        "median_order": orders[2],
        "p99_order": orders[3],
        "seconds": seconds,
    }
    if done.returncode != 0:
        row["outcome"] = "stopped: " + (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        return row
    with duckdb.connect(str(work / "published.duckdb"), read_only=True) as con:
        scored = con.execute("SELECT count(*) FROM customer_scores").fetchall()[0][0]
    run = json.loads((work / "models" / "last_training.json").read_text())
    cards = [
        json.loads((work / "models" / r["name"] / r["version"] / "card.json").read_text()) for r in run["registered"]
    ]
    row["outcome"] = f"scored {scored:,} of {orders[1]:,}"
    row["dropped"] = [f"{f['name']} ({f['stage']})" for f in run["failed"]]
    row["champions"] = {task: c["name"] for task, c in run["champions"].items()}
    row["worst_value_parity"] = max(c["parity"]["max_error"] for c in cards if c["task"] == "value")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated scenarios (default: all)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "unusual"))
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(RUNS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; choose from {sorted(SCENARIOS)}")
    for name in names:
        row = one(name, Path(args.out))
        print(json.dumps(row, default=str), flush=True)


if __name__ == "__main__":
    main()
