"""``write_report``: one self-contained HTML file on how good the models are and what they say.

The accuracy part scores the registered ONNX models on the test cutoff (the same pass as
``clv evaluate``); the customer part reads the scored marts that ``clv score`` built. Plots are
inline PNGs, the page has no scripts and no external links, so it can be mailed or archived as is.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from duckdb_clv.report import explanations, figures
from duckdb_clv.report.segments import projection as segment_projection
from duckdb_clv.training.dataset import connect
from duckdb_clv.training.evaluation.holdout import (
    CHURN_COLUMNS,
    VALUE_COLUMNS,
    Oracle,
    TestScores,
    evaluation_report,
    score_test_cutoff,
)
from duckdb_clv.training.evaluation.importance import permutation_importance
from duckdb_clv.udfs import registry
from duckdb_clv.udfs.functions import segment_names

# Section ids, in page order; tests and the headless render check look for each.
SECTIONS = (
    "summary",
    "accuracy",
    "dropped",
    "gain",
    "deciles",
    "churn",
    "importance",
    "explanations",
    "backtest",
    "customers",
    "segments",
    "rfm",
    "monitoring",
    "cards",
)

CSS = """
body { font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; margin: 0 auto;
       max-width: 1100px; padding: 1.5rem 2rem 4rem; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #ddd; padding-bottom: 0.3rem; }
.lead { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.86rem; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f6f6f6; }
tr.champion td { font-weight: 600; background: #f1f7ff; }
img { max-width: 100%; display: block; margin: 0.8rem 0; }
.met { color: #137333; font-weight: 600; } .unmet { color: #b3261e; font-weight: 600; }
.note { color: #666; font-size: 0.9rem; }
nav a { margin-right: 0.9rem; font-size: 0.9rem; }
.wide { overflow-x: auto; max-width: 100%; }
"""


@dataclass
class ReportResult:
    """Where the report went and what it holds."""

    path: Path
    sections: tuple[str, ...]
    images: int


def _table(columns: list[str], rows: list[list[object]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        cells = "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row)
        body.append(f"<tr{cls}>{cells}</tr>")
    # Wide tables (segment profiles) scroll inside the page instead of overflowing it.
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _fmt(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        return f"{float(value):,.4f}" if abs(value) < 1000 else f"{float(value):,.0f}"
    return str(value)


def _img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _section(sid: str, title: str, lead: str, body: str) -> str:
    return f'<section id="{sid}"><h2>{html.escape(title)}</h2><p class="lead">{lead}</p>{body}</section>'


def _accuracy(report: dict) -> str:
    parts = []
    for task, columns in (("value", VALUE_COLUMNS), ("churn", CHURN_COLUMNS)):
        rows = [[r["model"], r["version"], *[r["metrics"][c] for c in columns]] for r in report[task]]
        classes = ["champion" if r["champion"] else "" for r in report[task]]
        parts.append(f"<h3>{task}</h3>" + _table(["model", "version", *columns], rows, classes))
    checks = "".join(
        f'<li><span class="{"met" if c["met"] else "unmet"}">{"met" if c["met"] else "not met"}</span> '
        f"{html.escape(c['target'])}: {c['champion']:.4f} vs {c['reference']:.4f}</li>"
        for c in report["targets"]
    )
    if checks:
        parts.append(f"<h3>Targets</h3><ul>{checks}</ul>")
    return "".join(parts)


def _value_predictions(scores: TestScores) -> dict[str, np.ndarray]:
    out = {m.name + (" (champion)" if m.champion else ""): m.predicted for m in scores.models if m.task == "value"}
    if scores.oracle is not None:
        out["oracle"] = scores.oracle["value"]
    return out


def _churn_predictions(scores: TestScores, every: bool) -> dict[str, np.ndarray]:
    out = {}
    for m in scores.models:
        if m.task == "churn" and (every or m.champion or m.name.endswith("_btyd")):
            out[m.name + (" (champion)" if m.champion else "")] = m.predicted
    if scores.oracle is not None:
        out["oracle"] = scores.oracle["churn"]
    return out


def _importance(scores: TestScores, progress: Callable[[str], None]) -> str:
    parts = []
    threads = max(1, os.cpu_count() or 1)
    for task, metric, truth in (
        ("value", "normalized Gini", scores.data.value),
        ("churn", "ROC-AUC", scores.data.churned),
    ):
        champion = scores.champion(task)
        if champion is None:
            continue
        progress(f"permutation importance of {champion.name}")
        history = scores.data.history if "history_input" in champion.card else None
        importances = permutation_importance(
            champion.onnx, task, scores.data.X, truth, threads=threads, history=history
        )
        parts.append(
            _img(
                figures.importance_figure(importances, f"{champion.name} {champion.version}", metric),
                f"permutation importance of {champion.name}",
            )
        )
    return "".join(parts)


def _explanations(scores: TestScores) -> str:
    charts, notes = explanations.contributions(scores)
    body = "".join(_img(uri, alt) for uri, alt in charts) + "".join(
        f'<p class="note">Not explained: {html.escape(n)}</p>' for n in notes
    )
    chart, rows = explanations.coverage(scores)
    if chart is None:
        return body + '<p class="note">No value model of this registry has calibrated intervals.</p>'
    columns = ["model", "coverage 0.5", "width 0.5", "coverage 0.8", "width 0.8", "coverage 0.9", "width 0.9"]
    return body + _img(chart, "interval coverage") + _table(columns, rows)


def _scored(con: duckdb.DuckDBPyConnection) -> dict[str, np.ndarray] | None:
    try:
        table = con.sql(
            "SELECT s.predicted_clv, s.value_tier, s.segment, f.rfm_recency_score, f.rfm_frequency_score "
            "FROM customer_scores s JOIN fct_customer_features f "
            "ON f.customer_id = s.customer_id AND f.cutoff_date = s.as_of_date"
        ).to_arrow_table()
    except duckdb.CatalogException:
        return None
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}


def _groups(keys: np.ndarray, clv: np.ndarray, order: list[str]) -> tuple[list[str], list[int], list[float]]:
    counts = [int((keys == k).sum()) for k in order]
    totals = [float(clv[keys == k].sum()) for k in order]
    return [str(k) for k in order], counts, totals


def _customers(
    scored: dict[str, np.ndarray] | None, segment_card: dict | None, projection: tuple[str, str] | None
) -> tuple[str, str, str]:
    missing = '<p class="note">No scored customers yet: run <code>clv score</code>, then <code>clv report</code>.</p>'
    if scored is None:
        return missing, missing, missing
    clv = scored["predicted_clv"].astype(np.float64)
    tiers = _groups(scored["value_tier"], clv, [t for t in ("VIP", "regular", "potential")])
    customers = _img(figures.distribution_figure(clv), "predicted CLV distribution") + _img(
        figures.bars_figure(*tiers, "Value tiers"), "value tiers"
    )
    segment_ids = sorted(int(s) for s in np.unique(scored["segment"]))
    named = segment_names(segment_card) if segment_card is not None else {}
    seg = _groups(scored["segment"].astype(int), clv, segment_ids)
    labels = [named.get(int(s), f"segment {s}") for s in seg[0]]
    segments = _img(figures.bars_figure(labels, seg[1], seg[2], "K-means segments"), "segments")
    if projection is not None:
        segments += _img(projection[0], "segments on the principal components") + _img(
            projection[1], "explained variance and silhouette"
        )
    if segment_card is not None:
        profiles = segment_card["model"]["profiles"]
        names = segment_card["model"]["features"]
        rows = [
            [p["segment"], named[int(p["segment"])], p["customers"], p["share"], *[p["mean"][n] for n in names]]
            for p in profiles
        ]
        segments += "<h3>Segment profiles (means on the customers the segments were fitted on)</h3>" + _table(
            ["segment", "name", "customers", "share", *names], rows
        )
    recency = scored["rfm_recency_score"].astype(int)
    frequency = scored["rfm_frequency_score"].astype(int)
    counts = np.zeros((5, 5), dtype=np.int64)
    sums = np.zeros((5, 5))
    np.add.at(counts, (recency - 1, frequency - 1), 1)
    np.add.at(sums, (recency - 1, frequency - 1), clv)
    mean = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    return customers, segments, _img(figures.rfm_heatmap(counts, mean), "RFM heatmap")


def _cards(models_dir: Path) -> str:
    rows = []
    for task in registry.TASKS:
        pointer = registry.champion(models_dir, task)
        if pointer is None:
            continue
        card = registry.read_card(models_dir, pointer["name"], pointer["version"])
        cutoffs = card["cutoffs"]
        train = cutoffs.get("train") or []
        sizes = card.get("training_rows", {})
        rows.append(
            [
                task,
                card["name"],
                card["version"],
                card["created_at"],
                f"{train[0]} to {train[-1]} ({len(train)})" if train else "-",
                cutoffs.get("validation") or "-",
                cutoffs.get("test") or "-",
                # A policy's card has its action horizon and no churn window.
                card.get("horizon_days", card.get("action_horizon_days")),
                card.get("churn_window_days", "-"),
                sizes.get("train", 0),
                card["sha256"][:12],
            ]
        )
    columns = [
        "task",
        "champion",
        "version",
        "created",
        "training cutoffs",
        "validation",
        "test",
        "horizon days",
        "churn window days",
        "training rows",
        "sha256",
    ]
    return _table(columns, rows) + '<p class="note">Full cards: <code>clv models show NAME VERSION</code>.</p>'


def _backtest(path: Path | None) -> str:
    """The backtest of ``clv backtest`` (its JSON), or a note saying how to run one."""
    if path is None or not path.exists():
        where = f" ({html.escape(str(path))})" if path else ""
        return (
            f'<p class="note">No backtest found{where}. Run <code>clv backtest</code>: it reruns the whole '
            "pipeline as of earlier dates and compares what it would have said with what happened.</p>"
        )
    result = json.loads(path.read_text())
    origins = result.get("origins") or []
    rows, totals, realised = [], {"value champion": [], "value_btyd": [], "oracle": []}, []
    for origin in origins:
        models = {r["model"]: r for r in origin["value"]}
        champion = next((r for r in origin["value"] if r["champion"]), None)
        revenue, active = origin["forecast"]["revenue"], origin["forecast"]["active_customers"]
        gap = origin.get("gini_gap_closed")
        rows.append(
            [
                origin["origin"],
                origin.get("rows", 0) + (origin.get("rows_without_oracle") or 0),
                champion["model"] if champion else "-",
                revenue.get("predicted"),
                revenue["realised"],
                revenue.get("ratio"),
                *[models[m]["metrics"]["total_ratio"] if m in models else None for m in ("value_btyd", "oracle")],
                active.get("ratio"),
                f"{gap:.0%}" if gap is not None else "-",
            ]
        )
        realised.append(revenue["realised"])
        for name, key in (("value champion", champion["model"] if champion else None), ("value_btyd", "value_btyd")):
            totals[name].append(models[key]["metrics"]["total_ratio"] * revenue["realised"] if key in models else 0.0)
        oracle = models.get("oracle")
        totals["oracle"].append(oracle["metrics"]["total_ratio"] * revenue["realised"] if oracle else 0.0)
    if not any(totals["oracle"]):
        del totals["oracle"]
    summary = _table(
        [
            "origin",
            "customers",
            "value champion",
            "predicted revenue",
            "realised revenue",
            "ratio",
            "BG/NBD ratio",
            "oracle ratio",
            "active customers ratio",
            "Gini gap closed",
        ],
        rows,
    )
    chart = _img(figures.forecast_figure([o["origin"] for o in origins], totals, realised), "backtest totals")
    detail = "".join(f"<h3>Origin {html.escape(o['origin'])}</h3>" + _accuracy(o) for o in origins)
    return (
        summary
        + chart
        + f'<p class="note">{html.escape(str(path))}: horizon {result["horizon_days"]} days, churn window '
        f"{result['churn_window_days']} days. Ratios are predicted over realised totals (1 = right level).</p>" + detail
    )


def _monitoring(con: duckdb.DuckDBPyConnection) -> str:
    """Predicted against realised over the scoring runs, the newest run's drift, and the alert list."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if "monitor_drift" not in tables:
        return '<p class="note">No scoring runs monitored yet: <code>clv score</code> records each run.</p>'
    parts = []
    if "monitor_accuracy" in tables:
        runs = con.execute(
            "SELECT as_of_date, value_model, horizon_share, predicted_total, predicted_to_date, realised_to_date, "
            "total_ratio, normalized_gini, roc_auc, churn_rate, predicted_churn_rate FROM monitor_accuracy "
            "ORDER BY as_of_date, measured_at"
        ).fetchall()
        dates = [str(r[0]) for r in runs]
        labels = [f"{d}\n{r[1]}" if dates.count(d) > 1 else d for d, r in zip(dates, runs, strict=True)]
        parts.append(
            _img(
                figures.forecast_figure(
                    labels,
                    {"predicted (pro rata of the horizon seen)": [r[4] for r in runs]},
                    [r[5] for r in runs],
                    xlabel="scoring run",
                    ylabel="value over the horizon seen so far",
                ),
                "predicted against realised per scoring run",
            )
        )
        parts.append(
            _table(
                [
                    "scoring date",
                    "value model",
                    "horizon seen",
                    "predicted",
                    "realised so far",
                    "total ratio",
                    "normalized Gini",
                    "churn ROC-AUC",
                    "churn rate (predicted)",
                ],
                [
                    [
                        str(r[0]),
                        r[1],
                        f"{r[2]:.0%}",
                        r[3],
                        r[5],
                        r[6],
                        r[7],
                        r[8],
                        "" if r[9] is None else f"{r[9]:.1%} ({r[10]:.1%})",
                    ]
                    for r in runs
                ],
            )
        )
    newest = con.execute(
        "SELECT as_of_date, value_model, churn_model, segment_model FROM monitor_drift "
        "ORDER BY measured_at DESC LIMIT 1"
    ).fetchone()
    top = con.execute(
        "SELECT column_name, shift, status FROM monitor_drift WHERE baseline = 'seasonal' AND as_of_date = ? "
        "AND value_model = ? AND churn_model = ? AND segment_model = ? ORDER BY abs(shift) DESC LIMIT 15",
        list(newest),
    ).fetchall()
    if top:
        parts.append(
            _img(
                figures.drift_figure(
                    [r[0] for r in top],
                    [r[1] for r in top],
                    [r[2] for r in top],
                    f"Largest seasonal shifts, run of {newest[0]}",
                ),
                "top drifting features",
            )
        )
    else:
        parts.append(
            f'<p class="note">The run of {html.escape(str(newest[0]))} has no seasonal comparison (it needs a training '
            "cutoff about a year before the scoring date).</p>"
        )
    flagged = con.execute(
        "SELECT as_of_date, value_model, baseline, column_name, shift, psi, status FROM monitor_drift "
        "WHERE status IN ('warning', 'alert') ORDER BY measured_at DESC, status = 'alert' DESC, "
        "coalesce(abs(shift), psi) DESC LIMIT 60"
    ).fetchall()
    if flagged:
        parts.append(
            _table(
                ["scoring date", "value model", "baseline", "column", "seasonal shift", "PSI", "status"],
                [[str(r[0]), *r[1:]] for r in flagged],
            )
        )
    else:
        parts.append('<p class="note">No warnings or alerts in any monitored run.</p>')
    return "".join(parts)


def _dropped(models_dir: Path) -> str:
    run = registry.last_run(models_dir)
    if run is None:
        return '<p class="note">No record of the latest training run in this registry (it predates the record).</p>'
    failed = run.get("failed") or []
    if not failed:
        when = html.escape(run["created_at"])
        return f'<p class="note">Every candidate of the run of {when} was fitted, exported and passed parity.</p>'
    rows = [[f["name"], f["task"], f["stage"], f["reason"]] for f in failed]
    return _table(["model", "task", "stage", "why"], rows) + (
        f'<p class="note">Training run of {html.escape(run["created_at"])}: these candidates were dropped and '
        "the run went on with the others.</p>"
    )


def write_report(
    db: str | Path,
    models_dir: str | Path,
    out: str | Path,
    oracle: Oracle | None = None,
    progress: Callable[[str], None] | None = None,
    backtest: str | Path | None = None,
) -> ReportResult:
    """Evaluate the registry on the test cutoff and write the HTML report.

    Parameters
    ----------
    db : path
        The built (and, for the customer sections, scored) database.
    models_dir : path
        The model registry.
    out : path
        The HTML file to write; replaced in one rename, so a reader never sees half a report.
    oracle : Oracle, optional
        A generated shop's oracle for the test cutoff (``evaluation_setup``): added to every accuracy chart.
    progress : callable, optional
        Called with a short description of each step.
    backtest : path, optional
        The JSON ``clv backtest`` wrote: shown in the backtest section (a note says how to make one).
    """
    say = progress or (lambda _step: None)
    models_dir = Path(models_dir)
    say("scoring the registered models on the test cutoff")
    scores = score_test_cutoff(db, models_dir, oracle)
    report = evaluation_report(scores)
    truth = scores.data
    champion = scores.champion("value")
    baseline = scores.model("value_btyd")
    deciles = {m.name + (" (champion)" if m.champion else ""): m.predicted for m in (champion, baseline) if m}
    if scores.oracle is not None:
        deciles["oracle"] = scores.oracle["value"]
    say("drawing the accuracy charts")
    gain = _img(figures.lorenz_figure(truth.value, _value_predictions(scores)), "cumulative gain")
    decile = _img(figures.decile_figure(truth.value, deciles), "deciles")
    churn = _img(figures.roc_figure(truth.churned, _churn_predictions(scores, every=True)), "churn ROC") + _img(
        figures.calibration_figure(truth.churned, _churn_predictions(scores, every=False)), "churn calibration"
    )
    importance = _importance(scores, say)
    say("explaining the champions' predictions")
    explained = _explanations(scores)
    say("reading the scored customers")
    segment_pointer = registry.champion(models_dir, "segment")
    segment_data, segment_card = (
        registry.verified_model(models_dir, segment_pointer["name"], segment_pointer["version"])
        if segment_pointer
        else (None, None)
    )
    with connect(db) as con:
        scored = _scored(con)
        monitoring = _monitoring(con)
        projection = (
            segment_projection(con, segment_data, segment_card)
            if scored is not None and segment_card is not None
            else None
        )
    customers, segments, rfm = _customers(scored, segment_card, projection)
    oracle_note = ""
    if scores.oracle is not None:
        left_out = scores.rows_without_oracle or 0
        oracle_note = (
            f" The oracle (dashed) knows each generated customer's latent state; {left_out:,} "
            f"customer{'s' if left_out != 1 else ''} without a first order by the cutoff "
            f"{'are' if left_out != 1 else 'is'} left out of every row."
        )
    summary = _table(
        ["test cutoff", "customers", "horizon days", "churn window days", "value champion", "churn champion"],
        [
            [
                scores.test_cutoff,
                len(truth),
                scores.horizon_days,
                scores.churn_window_days,
                champion.name if champion else "-",
                (scores.champion("churn").name if scores.champion("churn") else "-"),
            ]
        ],
    )
    body = [
        _section(
            "summary",
            "What this report shows",
            "Every registered value and churn model, scored with onnxruntime (as SQL serves them) on the test "
            "cutoff, the latest one whose horizon is fully observed, and on held-out test customers. Models were "
            "trained on earlier cutoffs of other customers and chosen on the cutoff before it with yet other "
            "customers, so these figures chose nothing and no model saw these customers." + oracle_note,
            summary,
        ),
        _section(
            "accuracy",
            "Accuracy on the test cutoff",
            "Value: error of the predicted net value over the horizon; normalized Gini = how well the ordering "
            "finds the valuable customers (1 = perfect). Churn: probability of no order in the churn window. "
            "Highlighted rows are the champions.",
            _accuracy(report),
        ),
        _section(
            "dropped",
            "Candidates dropped in training",
            "A candidate that fails to fit, to export or its parity check is dropped and the run goes on with the "
            "others; none of these serve.",
            _dropped(models_dir),
        ),
        _section(
            "gain",
            "Cumulative gain",
            "How much of next period's value the top customers of each model hold. "
            "The higher the curve, the better the model finds the valuable customers.",
            gain,
        ),
        _section(
            "deciles",
            "Predicted vs actual value by decile",
            "Customers split into ten groups by predicted value: bars close together mean the totals are right "
            "where it matters.",
            decile,
        ),
        _section(
            "churn",
            "Churn: ranking and calibration",
            "ROC: how well churners rank above active customers. Calibration: whether a predicted 30% churns "
            "30% of the time.",
            churn,
        ),
        _section(
            "importance",
            "What the champions look at",
            "Permutation importance on a sample of test customers: the fall in the primary metric when one "
            "feature's values are shuffled among customers.",
            importance,
        ),
        _section(
            "explanations",
            "Why a customer gets their score, and how sure it is",
            "Each dot is one test customer's contribution of one input to the champion's prediction (explain_clv "
            "and explain_churn in SQL: exact Shapley values for tree models, a path attribution for the others); "
            "base plus the contributions is the prediction. The inputs named bgnbd_* are computed inside the model "
            "from frequency, recency and age. Below: the share of test customers whose realised value fell inside "
            "each value model's interval (predict_clv_interval), against the interval's level.",
            explained,
        ),
        _section(
            "backtest",
            "Backtest: what the tool would have said, against what happened",
            "At each forecast origin the whole pipeline was rerun on the data as it stood that day, and its scores "
            "were compared with what the customers then did over a whole horizon: the gap a real forecast spans, "
            "which the test cutoff above does not.",
            _backtest(Path(backtest) if backtest else None),
        ),
        _section(
            "customers",
            "Predicted CLV and value tiers",
            "Today's scores (customer_scores) at the scoring cutoff.",
            customers,
        ),
        _section(
            "segments",
            "Segments",
            "K-means on the principal components of 12 standardized RFM and behaviour features, named by the rules "
            "in docs/SCORING.md. The scatter shows a fixed sample of the scored customers on the first two "
            "components; the chart beside the curve shows how the number of components and of segments were chosen.",
            segments,
        ),
        _section("rfm", "RFM heatmap", "Each cell: mean predicted CLV (colour, first number) and customers.", rfm),
        _section(
            "monitoring",
            "Monitoring: how past scoring runs turned out, and drift",
            "Every clv score run is kept (score_history). Once the loaded data covers a run's horizon its "
            "prediction meets what happened (monitor_accuracy; before that, pro rata of the share seen). Drift: "
            "each feature's year-over-year change against the one the models were trained in "
            "(docs/MONITORING.md).",
            monitoring,
        ),
        _section("cards", "Model cards", "The champions serving each task.", _cards(models_dir)),
    ]
    nav = "".join(f'<a href="#{sid}">{sid}</a>' for sid in SECTIONS)
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>duckdb-clv report</title><style>{CSS}</style></head><body>"
        f'<h1>Customer lifetime value: model report</h1><p class="lead">{html.escape(str(db))} · '
        f"{html.escape(str(models_dir))} · {created}</p><nav>{nav}</nav>{''.join(body)}</body></html>"
    )
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return ReportResult(path, SECTIONS, page.count('<img src="data:image/png;base64,'))
