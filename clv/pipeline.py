"""The pipeline as functions: each stage takes the ``Settings`` and a progress callback, returns its result.

A notebook or an orchestrator (Airflow, Dagster) calls these; so do the ``clv`` command line, the
tests and the benchmarks::

    from duckdb_clv import pipeline
    from duckdb_clv.settings import load_settings

    settings = load_settings(db="shop.duckdb", horizon_days=180)
    pipeline.run(settings, {"orders": ["exports/orders_*.csv"]})

Stages, in order: ``load`` (files into schema ``raw``), ``build`` (the dbt feature layer),
``train`` (models into the registry), ``evaluate`` (the registry on the test cutoff), ``score``
(the scored marts, by dbt and the SQL functions), ``publish`` (the read-only serving database)
and ``report`` (the HTML report); ``run`` chains them. Each raises a one-line error of its
layer (``ClvError``, ``IngestError``, ``TrainingError``, ``UdfError``) and, on failure, leaves the
database, the registry and the published file as they were.

Progress arrives as ``Step`` values: a count of work done in a stage (``done`` of ``total``,
``total`` unknown while it is ``None``), or a ``note`` worth showing as a line of its own.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from duckdb_clv.build import BuildResult, build_features
from duckdb_clv.errors import ClvError
from duckdb_clv.ingest.loader import LoadReport, load_files
from duckdb_clv.ingest.pseudonymize import Pseudonymizer
from duckdb_clv.publish import PUBLISHED
from duckdb_clv.publish import publish as publish_tables
from duckdb_clv.score import ScoreResult, score_customers
from duckdb_clv.settings import Settings
from duckdb_clv.udfs import registry

if TYPE_CHECKING:  # importing these needs the train extra; the stages import them when they run
    from duckdb_clv.report.html import ReportResult
    from duckdb_clv.training.evaluation.holdout import Oracle
    from duckdb_clv.training.pipeline import TrainResult


@dataclass(frozen=True)
class Step:
    """One progress event of a stage.

    Attributes
    ----------
    stage : str
        ``load``, ``build``, ``train``, ``evaluate``, ``score``, ``publish`` or ``report``.
    done : int
        Units of work finished in the stage so far (dbt nodes, training steps, ...).
    total : int or None
        Units in all, when known.
    detail : str
        What is being worked on.
    note : str or None
        A line worth showing on its own (a load count, a training step, a warning).
    result : object or None
        The stage's result, on the step ``run`` sends when a stage has finished.
    """

    stage: str
    done: int = 0
    total: int | None = None
    detail: str = ""
    note: str | None = None
    result: object | None = None


Progress = Callable[[Step], None]


def _quiet(_step: Step) -> None:
    pass


def print_notes(step: Step) -> None:
    """A plain progress callback for notebooks and logs: prints each note (load counts, training steps, warnings)."""
    if step.note is not None:
        print(step.note)


@dataclass(frozen=True)
class RunResult:
    """What ``run`` did, stage by stage; ``evaluation`` and ``report`` are ``None`` without a test cutoff."""

    load: LoadReport | None
    build: BuildResult
    train: TrainResult
    evaluation: dict | None
    score: ScoreResult
    published: dict[str, int]
    report: ReportResult | None


def load(
    settings: Settings,
    inputs: Mapping[str, Sequence[str]],
    mapping: Mapping[str, object] | None = None,
    min_date: str = "1990-01-01",
    max_date: str | None = None,
    pseudonymizer: Pseudonymizer | None = None,
    progress: Progress = _quiet,
) -> LoadReport:
    """Validate and load files into schema ``raw`` of ``settings.db``.

    Parameters
    ----------
    settings : Settings
        Where the database is.
    inputs : mapping
        Files or globs per table (``orders`` required; ``customers``, ``order_items``, ``returns``, ``events``).
    mapping : mapping, optional
        Column names and formats per table (``duckdb_clv.ingest.mapping``).
    min_date, max_date : str, optional
        Timestamps outside these bounds are rejected (``max_date`` defaults to tomorrow).
    pseudonymizer : Pseudonymizer, optional
        Replaces customer ids by keyed hashes and skips personal columns.
    progress : callable
        Receives a ``Step`` per file read.
    """
    return load_files(
        settings.db,
        {t: list(files) for t, files in inputs.items()},
        dict(mapping or {}),
        min_date,
        max_date,
        progress=lambda line: progress(Step("load", note=line)),
        pseudonymizer=pseudonymizer,
    )


def build(
    settings: Settings, full_refresh: bool = False, select: str | None = None, progress: Progress = _quiet
) -> BuildResult:
    """Run ``dbt build`` on the feature layer: features for the scoring and training cutoffs, labels, tests.

    Parameters
    ----------
    settings : Settings
        The database, cutoffs, horizon and churn window.
    full_refresh : bool
        Rebuild every cutoff instead of only new ones and the scoring cutoff.
    select : str, optional
        A dbt selector, to build part of the project.
    progress : callable
        Receives a ``Step`` per dbt node finished.
    """
    return build_features(
        settings.db,
        settings.feature_vars(),
        full_refresh=full_refresh,
        select=select,
        progress=lambda done, total, name: progress(Step("build", done, total, name)),
        models_dir=settings.models_dir,
    )


def train(settings: Settings, families: Sequence[str] | None = None, progress: Progress = _quiet) -> TrainResult:
    """Train every model family, export each to ONNX with a parity check, register them, pick champions.

    Parameters
    ----------
    settings : Settings
        The database, the registry, the seed and the search budget.
    families : sequence of str, optional
        A subset of ``duckdb_clv.training.settings.FAMILIES`` (default: ``DEFAULT_FAMILIES``, every
        family but the sequence models).
    progress : callable
        Receives a ``Step`` per training step, with the step's log line as ``note``.

    Raises
    ------
    TrainingError
        When no model of a task can be trained; the registry keeps its earlier versions.
    """
    from duckdb_clv.training.pipeline import train_models
    from duckdb_clv.training.settings import DEFAULT_FAMILIES, TrainSettings

    try:
        train_settings = TrainSettings(
            seed=settings.seed, trials=settings.trials, families=tuple(families) if families else DEFAULT_FAMILIES
        )
    except ValueError as err:
        raise ClvError(str(err)) from err
    return train_models(
        settings.db,
        settings.models_dir,
        train_settings,
        log=lambda line: progress(Step("train", note=line)),
        progress=lambda what, done, total: progress(Step("train", done, total, what)),
    )


def has_test_cutoff(settings: Settings) -> bool:
    """Whether the value champion was trained with a time split, so that there is a test cutoff to evaluate on."""
    pointer = registry.champion(settings.models_dir, "value")
    card = registry.read_card(settings.models_dir, pointer["name"], pointer["version"]) if pointer else {}
    return bool(card.get("cutoffs", {}).get("test"))


def shop_oracle(shop_dir: str | Path, cutoff: str, horizon_days: int, churn_window_days: int, seed: int = 0) -> Oracle:
    """A generated shop's oracle at ``cutoff``: expected value over the horizon, chance of no order in the window.

    The oracle knows each customer's latent state and simulates their future (``seed``); only a
    shop made by ``clv generate`` has one.
    """
    from duckdb_clv.ingest.generator.oracle import oracle
    from duckdb_clv.training.evaluation.holdout import Oracle

    value = oracle(shop_dir, cutoff, horizon_days=horizon_days, seed=seed)
    churn = oracle(shop_dir, cutoff, horizon_days=churn_window_days, seed=seed)
    ids = value.column("customer_id").to_numpy(zero_copy_only=False)
    # Churn is the chance of no order in the (shorter) churn window, aligned to the value rows.
    p_order = dict(zip(churn.column("customer_id").to_pylist(), churn.column("p_order").to_pylist(), strict=True))
    no_order = np.array([1 - p_order.get(cid, np.nan) for cid in ids.tolist()], dtype=np.float64)
    return Oracle(ids, value.column("expected_value").to_numpy(), no_order)


def sample_shop_oracle(settings: Settings, shop_dir: str | Path, seed: int = 0) -> Oracle:
    """The generated shop's oracle at the champion's test cutoff, to pass to ``evaluate`` and ``report``."""
    from duckdb_clv.training.evaluation.holdout import evaluation_setup

    setup = evaluation_setup(settings.models_dir)
    return shop_oracle(shop_dir, setup.cutoff, setup.horizon_days, setup.churn_window_days, seed)


# Simulations per customer and decision month behind the true value of each action.
ACTION_ORACLE_SIMS = 50


def shop_action_oracle(shop_dir: str | Path, sims: int = ACTION_ORACLE_SIMS) -> Callable[[str, int], object] | None:
    """A generated shop's counterfactuals per action (``action_values``) at a date; None without campaigns.

    The policy table of ``evaluate`` values each policy's choices with it.
    """
    from duckdb_clv.ingest.generator.oracle import action_values

    if not any(Path(shop_dir).glob("campaigns.*")):
        return None
    return lambda date, horizon_days: action_values(shop_dir, date, horizon_days=horizon_days, n_sims=sims, seed=0)


def evaluate(
    settings: Settings, oracle: Oracle | None = None, progress: Progress = _quiet, shop: str | Path | None = None
) -> dict:
    """Score every registered value and churn model on the test cutoff; write ``settings.evaluation``.

    With an action champion (a policy learnt from campaign history) the report gains the policy
    table (``training.policies.judge``): the policies and baselines at three budgets, by the
    off-policy estimates from the log and, for a generated ``shop`` with campaigns, by the truth.

    Parameters
    ----------
    settings : Settings
        The database, the registry and where the JSON evaluation goes.
    oracle : Oracle, optional
        A generated shop's oracle (``sample_shop_oracle``): added beside the models.
    progress : callable
        Receives a ``Step`` when scoring starts and ends.
    shop : path, optional
        The generated shop folder behind ``oracle``: the policies' true values come from it.

    Returns
    -------
    dict
        Per task, every model's test metrics, and the accuracy targets (as in the JSON file);
        ``policies`` when there is an action champion.
    """
    from duckdb_clv.training.evaluation.holdout import evaluate_registry, write_report
    from duckdb_clv.training.policies.judge import policy_report

    policies = registry.champion(Path(settings.models_dir), "action") is not None
    values_at = shop_action_oracle(shop) if policies and shop is not None else None
    steps = 2 if policies else 1
    progress(Step("evaluate", 0, steps, "scoring the registered models on the test cutoff"))
    report = evaluate_registry(settings.db, settings.models_dir, oracle=oracle)
    if policies:
        progress(Step("evaluate", 1, steps, "judging the next-best-action policies (cross-fitted)"))
        report["policies"] = policy_report(
            settings.db, settings.models_dir, values_at, lambda line: progress(Step("evaluate", 1, steps, line))
        )
    progress(Step("evaluate", steps, steps))
    write_report(report, settings.evaluation)
    return report


def score(settings: Settings, progress: Progress = _quiet) -> ScoreResult:
    """Build ``customer_scores`` and ``segment_summary`` with dbt, scored by the champions in SQL.

    Raises
    ------
    ClvError
        When a task has no champion, or a dbt model or test fails (the earlier marts are kept).
    """
    return score_customers(
        settings.db,
        settings.models_dir,
        settings.scoring_vars(),
        progress=lambda done, total, name: progress(Step("score", done, total, name)),
    )


def publish(settings: Settings, progress: Progress = _quiet, sql_models: bool = False) -> dict[str, int]:
    """Copy the scored marts into ``settings.published`` in one atomic swap; returns rows per table.

    With ``sql_models`` the champions are compiled to SQL macros (``udfs.compiler.champions``)
    first and written into the same file, so any DuckDB client can score; a champion that cannot
    compile stops the publish before anything is written. When a champion reads the weekly
    history, ``ml_scoring_set`` (the scoring date's features with their histories) is published
    too, as the rows its macro scores.

    Raises
    ------
    ClvError
        When the marts are missing, a champion cannot compile, or the write fails.
    """
    statements: tuple[str, ...] = ()
    tables = PUBLISHED
    if sql_models:
        from duckdb_clv.udfs.compiler.champions import sql_models as compile_champions
        from duckdb_clv.udfs.compiler.expressions import CompileError

        progress(Step("compile", 0, 1, "champions to SQL"))
        try:
            compiled, infos = compile_champions(Path(settings.models_dir))
        except CompileError as err:
            raise ClvError(f"{err}, or publish without --with-sql-models") from err
        statements = tuple(compiled)
        if any(info.reads_history for info in infos):
            tables = (*PUBLISHED, "ml_scoring_set")
        progress(Step("compile", 1, 1, "champions to SQL"))
    progress(Step("publish", 0, 1, str(settings.published)))
    rows = publish_tables(settings.db, settings.published, tables, statements)
    progress(Step("publish", 1, 1, str(settings.published)))
    return rows


def report(settings: Settings, oracle: Oracle | None = None, progress: Progress = _quiet) -> ReportResult:
    """Write the HTML report to ``settings.report``: accuracy on the test cutoff and the scored customers.

    Parameters
    ----------
    settings : Settings
        The database (scored, for the customer sections), the registry and the report path.
    oracle : Oracle, optional
        A generated shop's oracle (``sample_shop_oracle``): added to every accuracy chart.
    progress : callable
        Receives a ``Step`` per part of the report.
    """
    from duckdb_clv.report.html import write_report

    steps = itertools.count()
    return write_report(
        settings.db,
        settings.models_dir,
        settings.report,
        oracle=oracle,
        progress=lambda what: progress(Step("report", next(steps), None, what)),
        backtest=settings.backtest,
    )


def run(
    settings: Settings,
    inputs: Mapping[str, Sequence[str]] | None,
    mapping: Mapping[str, object] | None = None,
    min_date: str = "1990-01-01",
    max_date: str | None = None,
    pseudonymizer: Pseudonymizer | None = None,
    ground_truth: str | Path | None = None,
    progress: Progress = _quiet,
) -> RunResult:
    """Every stage in order: load, build, train, evaluate, score, publish, report.

    A history too short for a time split trains the BG/NBD baseline alone: it scores and
    publishes, but there is no test cutoff, so evaluate and report are skipped (``None``).

    Parameters
    ----------
    settings : Settings
        Every setting of every stage.
    inputs : mapping or None
        Files per table, as for ``load``; ``None`` starts from the data already loaded.
    mapping, min_date, max_date, pseudonymizer
        As for ``load``.
    ground_truth : path, optional
        A shop made by ``clv generate``: its oracle joins the evaluation and the report.
    progress : callable
        Receives every stage's ``Step``, and one with the stage's ``result`` as each stage finishes.
    """

    def finished(stage: str, result: object) -> object:
        progress(Step(stage, result=result))
        return result

    loaded = None
    if inputs:
        loaded = finished("load", load(settings, inputs, mapping, min_date, max_date, pseudonymizer, progress))
    built = finished("build", build(settings, progress=progress))
    trained = finished("train", train(settings, progress=progress))
    evaluable = has_test_cutoff(settings)
    oracle = sample_shop_oracle(settings, ground_truth) if evaluable and ground_truth is not None else None
    evaluation = finished("evaluate", evaluate(settings, oracle, progress, ground_truth)) if evaluable else None
    scored = finished("score", score(settings, progress))
    published = finished("publish", publish(settings, progress))
    written = finished("report", report(settings, oracle, progress)) if evaluable else None
    return RunResult(loaded, built, trained, evaluation, scored, published, written)
