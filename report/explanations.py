"""The report's explanation section: what drives each champion's predictions, and its intervals.

Contributions come from the same explainers the SQL functions use (``udfs.explain``), run on a
fixed sample of the test customers; coverage compares each value model's intervals (from its card)
with what the test customers then spent.
"""

from __future__ import annotations

import numpy as np

from duckdb_clv.report import figures
from duckdb_clv.training.evaluation.holdout import ScoredModel, TestScores
from duckdb_clv.udfs.errors import UdfError
from duckdb_clv.udfs.explain import explainer_for
from duckdb_clv.udfs.intervals import bounds
from duckdb_clv.udfs.models import LoadedModel
from duckdb_clv.udfs.sessions import open_session

SAMPLE_ROWS = 1_000
LEVELS = np.round(np.arange(0.05, 1.0, 0.05), 2)


def _loaded(model: ScoredModel) -> LoadedModel:
    where = f"{model.name} {model.version}"
    return LoadedModel(
        model.name, model.version, model.task, model.card, open_session(model.onnx, model.task, where), model.onnx
    )


def contributions(scores: TestScores) -> tuple[list[tuple[str, str]], list[str]]:
    """((chart data URI, alt text) per champion, notes for champions that could not be explained)."""
    images, notes = [], []
    rows = np.random.default_rng(0).permutation(len(scores.data))[:SAMPLE_ROWS]
    X = np.ascontiguousarray(scores.data.X[np.sort(rows)])
    history = None if scores.data.history is None else np.ascontiguousarray(scores.data.history[np.sort(rows)])
    for task in ("value", "churn"):
        champion = scores.champion(task)
        if champion is None:
            continue
        try:
            out = explainer_for(_loaded(champion)).explain(X, history if "history_input" in champion.card else None)
        except UdfError as err:
            notes.append(f"{champion.name} {champion.version}: {err}")
            continue
        title = f"{champion.name} {champion.version} ({out.method}; base {out.base:,.2f} {out.scale})"
        chart = figures.beeswarm_figure(list(out.inputs), out.contributions, out.values, title, out.scale)
        images.append((chart, f"contributions to {champion.name}"))
    return images, notes


def coverage(scores: TestScores) -> tuple[str | None, list[list[object]]]:
    """(the coverage chart, table rows: model, then coverage and mean width at 0.5, 0.8, 0.9)."""
    measured, rows = {}, []
    actual = scores.data.value
    for model in scores.models:
        spec = model.card.get("model", {}).get("intervals") if model.task == "value" else None
        if not spec:
            continue
        inside = []
        for level in LEVELS:
            lower, upper = bounds(spec, model.predicted, float(level))
            inside.append(float(np.mean((actual >= lower) & (actual <= upper))))
        name = model.name + (" (champion)" if model.champion else "")
        measured[name] = np.array(inside)
        row: list[object] = [name]
        for level in (0.5, 0.8, 0.9):
            lower, upper = bounds(spec, model.predicted, level)
            row += [float(np.mean((actual >= lower) & (actual <= upper))), float(np.mean(upper - lower))]
        rows.append(row)
    if not measured:
        return None, rows
    return figures.coverage_figure(LEVELS, measured), rows
