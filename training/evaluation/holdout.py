"""``evaluate_registry``: score the registered models on the test cutoff with onnxruntime and compare.

What is evaluated is what is served: the ONNX files of the registry (checked against their cards),
not the in-memory models. Every value and churn model's latest version is scored on the test
rows of the champion's training run (its test cutoff, its held-out test customers), beside the
BG/NBD baseline and, for generated shops, the oracle that knows each customer's latent state,
passed in as data (``Oracle``; training never runs the simulator). The accuracy targets are
checked and reported.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from duckdb_clv.training.dataset import CustomerHoldout, Dataset, connect, read_rows, with_histories
from duckdb_clv.training.errors import TrainingError
from duckdb_clv.training.evaluation.metrics import churn_metrics, value_metrics
from duckdb_clv.training.export.onnx_tools import run
from duckdb_clv.training.models.candidates import TASKS
from duckdb_clv.training.models.intervals import coverage
from duckdb_clv.udfs import registry

GINI_GAP = 0.05
# The metric columns of the evaluation table, in the order the CLI and the HTML report show them.
VALUE_COLUMNS = ("mae", "rmse", "spearman", "normalized_gini", "decile_mape", "total_ratio")
CHURN_COLUMNS = ("roc_auc", "pr_auc", "brier", "log_loss", "precision", "recall", "f1")


@dataclass(frozen=True)
class Oracle:
    """Predictions that know each customer's latent state, given as data (a generated shop's oracle).

    Training never simulates: the caller that owns the shop computes these for the test cutoff of
    ``evaluation_setup`` and passes them in.

    Attributes
    ----------
    customer_id : ndarray
        The customers covered.
    value : ndarray
        Expected net value over the horizon, per customer.
    churn : ndarray
        Probability of no order within the churn window, per customer.
    """

    customer_id: np.ndarray
    value: np.ndarray
    churn: np.ndarray

    def take(self, ids: np.ndarray) -> dict[str, np.ndarray]:
        """``{"value": ..., "churn": ...}`` for ``ids``, NaN for customers the oracle does not cover."""
        index = {cid: i for i, cid in enumerate(self.customer_id.tolist())}
        rows = np.array([index.get(cid, -1) for cid in ids.tolist()], dtype=np.int64)
        known = rows >= 0
        safe = np.maximum(rows, 0)
        return {
            "value": np.where(known, self.value[safe], np.nan) if len(self.value) else np.full(len(ids), np.nan),
            "churn": np.where(known, self.churn[safe], np.nan) if len(self.churn) else np.full(len(ids), np.nan),
        }


@dataclass(frozen=True)
class EvaluationSetup:
    """Where the champion was tested: the cutoff and the label windows an oracle must use."""

    cutoff: str
    horizon_days: int
    churn_window_days: int


def evaluation_setup(models_dir: str | Path) -> EvaluationSetup:
    """The value champion's test cutoff, horizon and churn window.

    Raises
    ------
    TrainingError
        When there is no champion, or it was fitted without a time split.
    """
    models_dir = Path(models_dir)
    pointer = registry.champion(models_dir, "value")
    if pointer is None:
        raise TrainingError(f"no trained models in {models_dir}: run `clv train` first")
    card = registry.read_card(models_dir, pointer["name"], pointer["version"])
    cutoff = card["cutoffs"].get("test")
    if cutoff is None:
        raise TrainingError(
            "the champion was fitted without a time split (too little history), so there is no test "
            "cutoff to evaluate on; build more training cutoffs and retrain"
        )
    return EvaluationSetup(cutoff, card["horizon_days"], card["churn_window_days"])


def _targets(value_rows: list[dict], churn_rows: list[dict]) -> list[dict]:
    def row(rows: list[dict], name: str) -> dict | None:
        return next((r for r in rows if r["model"] == name), None)

    champion = next((r for r in value_rows if r.get("champion")), None)
    baseline, oracle = row(value_rows, "value_btyd"), row(value_rows, "oracle")
    checks = []
    if champion and baseline:
        for metric, better in (
            ("mae", "lower"),
            ("normalized_gini", "higher"),
            ("spearman", "higher"),
            ("decile_mape", "lower"),
        ):
            a, b = champion["metrics"][metric], baseline["metrics"][metric]
            ok = a < b if better == "lower" else a > b
            checks.append(
                {
                    "target": f"value champion beats BG/NBD on {metric} ({better} is better)",
                    "champion": a,
                    "reference": b,
                    "met": bool(ok),
                }
            )
    if champion and oracle:
        a, b = champion["metrics"]["normalized_gini"], oracle["metrics"]["normalized_gini"]
        checks.append(
            {
                "target": f"value champion normalized Gini within {GINI_GAP} of the oracle's",
                "champion": a,
                "reference": b,
                "met": bool(b - a <= GINI_GAP),
            }
        )
    churn_champion = next((r for r in churn_rows if r.get("champion")), None)
    churn_baseline = row(churn_rows, "churn_btyd")
    if churn_champion and churn_baseline:
        a, b = churn_champion["metrics"]["roc_auc"], churn_baseline["metrics"]["roc_auc"]
        checks.append(
            {
                "target": "churn champion beats the BG/NBD churn score on ROC-AUC",
                "champion": a,
                "reference": b,
                "met": bool(a > b),
            }
        )
    return checks


@dataclass
class ScoredModel:
    """One registered model's predictions on the test rows."""

    name: str
    version: str
    task: str
    champion: bool
    card: dict
    predicted: np.ndarray
    onnx: bytes


@dataclass
class TestScores:
    """Every value and churn model of the registry scored on the test cutoff, with the oracle if known."""

    test_cutoff: str
    horizon_days: int
    churn_window_days: int
    data: Dataset
    models: list[ScoredModel]
    oracle: dict[str, np.ndarray] | None = None
    rows_without_oracle: int | None = None

    def champion(self, task: str) -> ScoredModel | None:
        """The scored champion of a task, if it was trained on this test cutoff."""
        return next((m for m in self.models if m.task == task and m.champion), None)

    def model(self, name: str) -> ScoredModel | None:
        """The scored latest version of a model, by name."""
        return next((m for m in self.models if m.name == name), None)


def score_test_cutoff(db: str | Path, models_dir: str | Path, oracle: Oracle | None = None) -> TestScores:
    """Score the latest version of every value and churn model on the champion's test cutoff.

    Parameters
    ----------
    db : path
        The built database the models were trained from.
    models_dir : path
        The registry root.
    oracle : Oracle, optional
        Predictions for the test cutoff of ``evaluation_setup`` that know each customer's latent state:
        added beside the models, and every model is restricted to the customers the oracle covers
        (the number left out is kept in ``rows_without_oracle``).
    """
    models_dir = Path(models_dir)
    setup = evaluation_setup(models_dir)
    pointer = registry.champion(models_dir, "value")
    champion_card = registry.read_card(models_dir, pointer["name"], pointer["version"])
    test_cutoff = setup.cutoff
    holdout = champion_card.get("customers")
    with connect(db) as con:
        test = read_rows(con, where=f"cutoff_date = DATE '{dt.date.fromisoformat(test_cutoff).isoformat()}'")
        if holdout is not None:
            # Only the test customers: every other customer's earlier rows were fitted on.
            test = test.take(CustomerHoldout.from_dict(holdout).groups(test.customer_id) == CustomerHoldout.TEST)
        if needs_history(models_dir):
            test = with_histories(con, test)
    if len(test) == 0:
        raise TrainingError(f"the database has no test rows at the test cutoff {test_cutoff}; rebuild the features")
    scores = TestScores(test_cutoff, champion_card["horizon_days"], champion_card["churn_window_days"], test, [])
    if oracle is not None:
        add_oracle(scores, oracle)
    scores.models = score_models(
        models_dir,
        scores.data,
        lambda card: card["cutoffs"].get("test") == test_cutoff and card.get("customers") == holdout,
    )
    return scores


def add_oracle(scores: TestScores, oracle: Oracle) -> None:
    """Put the oracle beside the models, on the rows it covers; the count left out is kept.

    The oracle covers customers with a first order by the cutoff; one who signed up but has not
    bought yet has no latent state to simulate from. Every model is then compared on the customers
    the oracle covers. Call it before scoring the models, which score ``scores.data``.
    """
    truth = oracle.take(scores.data.customer_id)
    covered = ~np.isnan(truth["value"])
    scores.rows_without_oracle = int((~covered).sum())
    scores.data = scores.data.take(covered)
    scores.oracle = {k: v[covered] for k, v in truth.items()}


def needs_history(models_dir: str | Path) -> bool:
    """Whether the latest version of any model in the registry reads the weekly history (a sequence model)."""
    models_dir = Path(models_dir)
    latest = [(name, registry.versions(models_dir, name)) for name in registry.model_names(models_dir)]
    # A name folder without versions (an export that was rolled back) has nothing to score.
    return any("history_input" in registry.read_card(models_dir, name, found[-1]) for name, found in latest if found)


def score_models(
    models_dir: str | Path, data: Dataset, belongs: Callable[[dict], bool] = lambda _card: True
) -> list[ScoredModel]:
    """The latest version of every value and churn model whose card ``belongs``, run on ``data``.

    What is scored is what is served: the registry's ONNX files, checked against their cards, in
    onnxruntime. Sequence models read ``data.history`` (see ``needs_history``).
    """
    models_dir = Path(models_dir)
    champions = {t: registry.champion(models_dir, t) for t in TASKS}
    threads = max(1, os.cpu_count() or 1)
    scored = []
    for name in registry.model_names(models_dir):
        version = registry.versions(models_dir, name)[-1]
        onnx_bytes, card = registry.verified_model(models_dir, name, version)
        task = card["task"]
        if task not in TASKS or not belongs(card):
            continue
        history = None
        if "history_input" in card:
            if data.history is None:
                raise TrainingError(f"{name} {version} reads the weekly history: read the rows with their histories")
            history = data.history
        predicted = run(onnx_bytes, data.X, task, threads=threads, history=history).ravel().astype(np.float64)
        current = champions[task]
        is_champion = bool(current and (current["name"], current["version"]) == (name, version))
        scored.append(ScoredModel(name, version, task, is_champion, card, predicted, onnx_bytes))
    return scored


def evaluation_report(scores: TestScores) -> dict:
    """The metrics of every scored model, the oracle's, and the accuracy targets, as a JSON-able dict."""
    test = scores.data
    report: dict = {
        "test_cutoff": scores.test_cutoff,
        "rows": len(test),
        "horizon_days": scores.horizon_days,
        "churn_window_days": scores.churn_window_days,
        "value": [],
        "churn": [],
    }
    if scores.rows_without_oracle is not None:
        report["rows_without_oracle"] = scores.rows_without_oracle
    for m in scores.models:
        if m.task == "value":
            metrics = value_metrics(test.value, m.predicted)
            spec = m.card.get("model", {}).get("intervals")
            if spec:
                metrics["intervals"] = coverage(spec, m.predicted, test.value)
        else:
            metrics = churn_metrics(test.churned, m.predicted, m.card["metrics"]["validation"]["threshold"])
        report[m.task].append({"model": m.name, "version": m.version, "champion": m.champion, "metrics": metrics})
    if scores.oracle is not None:
        report["value"].append(
            {
                "model": "oracle",
                "version": "-",
                "champion": False,
                "metrics": value_metrics(test.value, scores.oracle["value"]),
            }
        )
        threshold = next((r["metrics"]["threshold"] for r in report["churn"] if r["champion"]), 0.5)
        report["churn"].append(
            {
                "model": "oracle",
                "version": "-",
                "champion": False,
                "metrics": churn_metrics(test.churned, scores.oracle["churn"], threshold),
            }
        )
    report["targets"] = _targets(report["value"], report["churn"])
    return report


def evaluate_registry(
    db: str | Path, models_dir: str | Path, oracle: Oracle | None = None, out: str | Path | None = None
) -> dict:
    """Evaluate the latest version of every value and churn model on the test cutoff.

    Parameters
    ----------
    db : path
        The built database the models were trained from.
    models_dir : path
        The registry root.
    oracle : Oracle, optional
        A generated shop's oracle for the test cutoff: adds its rows (and the Gini-gap target).
    out : path, optional
        Where to write the JSON report.
    """
    report = evaluation_report(score_test_cutoff(db, models_dir, oracle))
    if out is not None:
        write_report(report, out)
    return report


def write_report(report: dict, out: str | Path) -> None:
    """Write an evaluation report as JSON to ``out``, creating its folder."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
