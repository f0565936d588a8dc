"""``train_models``: the whole training run, from the feature layer to registered champions.

1. Read ``ml_training_set`` and split it by time (train / validation / test cutoffs) and by
   customer (validation and test customers are never fitted on).
2. Fit the BG/NBD + Gamma-Gamma baseline, which needs no labels, at the scoring cutoff (served) and
   at every training cutoff (the rows of that cutoff), each on every customer known then.
3. Fit every candidate for value and churn (with a budgeted search for the tree ensembles), the
   fused value model and the k-means segments (on the scoring cutoff's customers); calibrate on
   validation. The Tweedie value model is anchored on the BG/NBD expectation. When the sequence
   models are asked for, the weekly histories are read for their sample of the training rows and
   for the validation and test rows only (``with_histories``).
4. Export each to ONNX and check parity with the in-memory model on test rows.
5. Only when every export passed: register every model and point each task's champion at the
   candidate with the best validation primary metric; for value, among the models whose level
   follows the scoring-date BG/NBD fit, when there are any (``Candidate.holds_level``).

When the history is too short for a time split, the baseline is fitted alone on the scoring
cutoff's customers and becomes the champion, and the result says so.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from duckdb_clv.training.dataset import (
    BuildInfo,
    CustomerHoldout,
    Dataset,
    TimeSplit,
    connect,
    read_build_info,
    read_rows,
    sample_rows,
    split_rows,
    time_split,
    with_histories,
)
from duckdb_clv.training.errors import TrainingError
from duckdb_clv.training.evaluation.candidate import candidate_metrics
from duckdb_clv.training.export.parity import export_checked
from duckdb_clv.training.export.registry import register
from duckdb_clv.training.failures import Failure, attempt, one_line, survivors_or_raise
from duckdb_clv.training.models.baseline import Baseline
from duckdb_clv.training.models.btyd import BTYDFit
from duckdb_clv.training.models.btyd_dates import RefittedBTYD
from duckdb_clv.training.models.calibration import Platt, ValueScale
from duckdb_clv.training.models.candidates import TASKS, Candidate, FitContext
from duckdb_clv.training.models.fusion import Fused
from duckdb_clv.training.models.mlp import MLP
from duckdb_clv.training.models.search import PRIMARY, SPACES, primary_score, search
from duckdb_clv.training.models.segments import Segmenter
from duckdb_clv.training.models.sequence import SequenceModel
from duckdb_clv.training.models.trees import HGB, Forest
from duckdb_clv.training.reference import (
    MAX_ROWS,
    distribution,
    explanation_baseline,
    feature_reference,
    history_baseline,
    seasonal_reference,
)
from duckdb_clv.training.settings import SEQUENCE_FAMILIES, TrainSettings
from duckdb_clv.udfs import registry
from duckdb_clv.udfs.contract import FEATURES

# Test rows each export is checked on (a seeded sample; all of them on shops this small or smaller).
PARITY_ROWS = 50_000


@dataclass
class TrainResult:
    """What a training run did."""

    info: BuildInfo
    split: TimeSplit | None
    holdout: CustomerHoldout | None = None
    cards: list[dict] = field(default_factory=list)
    champions: dict[str, tuple[str, str]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


Log = Callable[[str], None]
# A candidate ready to register: itself, its ONNX model, its parity figures and its metrics.
Exported = tuple[Candidate | Segmenter, onnx.ModelProto, dict[str, float], dict]


def _fit_candidates(
    train: Dataset,
    validation: Dataset,
    settings: TrainSettings,
    ctx: FitContext,
    log: Log,
    seconds: dict[str, float],
    failures: list[Failure],
    sequence_train: Dataset | None = None,
) -> list[Candidate]:
    """Every candidate but the fused one, fitted and calibrated; a candidate that fails is dropped.

    ``sequence_train``: the sequence models' sample of the training rows, with its histories
    (``validation`` has its histories too when there is one).
    """
    fitted: list[Candidate] = []
    families = settings.families
    train_rows = train.take(sample_rows(len(train), settings.max_train_rows, settings.seed))
    mlp_rows = train.take(sample_rows(len(train), settings.mlp_rows, settings.seed))

    def timed(candidate_name: str, work: Callable[[], Candidate]) -> None:
        start = time.perf_counter()
        log(f"fitting {candidate_name}")
        task = candidate_name.split("_", 1)[0]
        candidate = attempt(candidate_name, task, "fit", work, failures, log)
        if candidate is None:
            return
        fitted.append(candidate)
        seconds[candidate_name] = time.perf_counter() - start
        log(f"{candidate_name} done in {seconds[candidate_name]:.1f} s")

    def searched(make: Callable[[dict, bool], Candidate], space: str, key: str) -> Candidate:
        """Search (unless ``chosen`` has this key already), then refit the best on all training rows."""
        if key not in chosen:
            chosen[key] = search(make, SPACES[space], train, validation, ctx, settings.trials, settings.search_rows)
        best, trials = chosen[key]
        params = {k: v for k, v in best.items() if k != "btyd_features"}
        candidate = make(params, bool(best.get("btyd_features", False))).fit(train_rows, validation, ctx)
        candidate.search_ = [{"params": t.params, "validation_score": t.score} for t in trials]
        return candidate

    chosen: dict[str, tuple[dict, list]] = {}
    for task in TASKS:
        if "btyd" in families and ctx.btyd is not None:
            timed(f"{task}_btyd", lambda task=task: Baseline(task).fit(train, validation, ctx))
        if "hgb" in families:
            # The tree shape is searched once per task, with the first loss (for value the anchored
            # Tweedie model, the one that can be champion); the other value losses reuse it, which
            # keeps the budget at one search per task.
            losses = ("tweedie", "poisson", "squared_error") if task == "value" else ("log_loss",)
            for loss in losses:
                name = HGB(task, {"loss": loss}).name

                # The Tweedie value model learns the value relative to the BG/NBD expectation.
                anchored = loss == "tweedie" and ctx.btyd is not None

                def make(
                    params: dict, btyd: bool, task: str = task, loss: str = loss, anchored: bool = anchored
                ) -> Candidate:
                    return HGB(
                        task,
                        {"loss": loss, "max_iter": settings.max_iter, **params},
                        btyd_features=btyd,
                        anchored=anchored,
                    )

                timed(name, lambda make=make, task=task: searched(make, "hgb", f"hgb_{task}"))
        if "rf" in families:

            def make_rf(params: dict, btyd: bool, task: str = task) -> Candidate:
                return Forest(task, {"n_estimators": settings.forest_trees, **params}, btyd_features=btyd)

            timed(f"{task}_rf", lambda make_rf=make_rf, task=task: searched(make_rf, "rf", f"rf_{task}"))
        if "mlp" in families:
            timed(
                f"{task}_mlp",
                lambda task=task: MLP(task, {"max_epochs": settings.max_epochs}).fit(mlp_rows, validation, ctx),
            )
        if "ziln" in families and task == "value":
            ziln = {"head": "ziln", "max_epochs": settings.max_epochs}
            timed("value_ziln", lambda ziln=ziln: MLP("value", ziln).fit(mlp_rows, validation, ctx))
        for architecture in (f for f in SEQUENCE_FAMILIES if f in families and sequence_train is not None):
            params = {"max_epochs": settings.max_epochs, "max_rows": settings.sequence_rows}
            # Value models learn relative to the BG/NBD expectation when there is one (as the
            # Tweedie trees do), so that they can be champion and fused.
            anchored = task == "value" and ctx.btyd is not None
            timed(
                f"{task}_{architecture}",
                lambda task=task, architecture=architecture, params=params, anchored=anchored: SequenceModel(
                    task, architecture, params, anchored=anchored
                ).fit(sequence_train, validation, ctx),
            )
    return fitted


def _fit_baseline(
    data: Dataset, scoring_X: np.ndarray, info: BuildInfo, settings: TrainSettings, failures: list[Failure], log: Log
) -> RefittedBTYD | None:
    """BG/NBD + Gamma-Gamma at the scoring cutoff and at each cutoff of ``data``, or None when it fails.

    It comes first because anchored models learn relative to it and the search may give its
    outputs to any tree ensemble as extra inputs; without it they go on without it. None records
    its candidates as dropped.
    """
    dropped: list[Failure] = []
    fit = attempt(
        "btyd",
        "value",
        "fit",
        lambda: RefittedBTYD.fit(data, scoring_X, info.scoring_cutoff, info.horizon_days, info.churn_window_days, log),
        dropped,
        lambda _line: None,
    )
    if fit is None:
        for task in TASKS if "btyd" in settings.families else ():
            failures.append(Failure(f"{task}_btyd", task, "fit", dropped[0].reason))
            log(f"warning: {failures[-1].line()}")
    return fit


def _fuse(values: list[Candidate], train: Dataset, validation: Dataset, settings: TrainSettings) -> Fused | None:
    """The fused value model over the best exported value candidates (None with fewer than two).

    When some candidates' level follows the scoring-date BG/NBD fit, only they are fused, so that
    the fused model's level does too. The best ``fuse_top`` learnt models are fused, with the
    BG/NBD baseline when that raises the validation primary metric (or when it is needed to make
    two parts): anchored models carry its expectation already, and averaging the plain baseline
    in can pull their ranking back towards it (on the 100k shop with three anchored models it cost
    0.001 of Gini and took the decile MAPE from 0.60 to 3.96).
    """
    steady = [c for c in values if c.holds_level]
    values = steady if len(steady) >= 2 else values
    scored = sorted(values, key=lambda c: -primary_score("value", validation.value, c.validation_predictions()))
    learnt = [c for c in scored if c.family != "btyd"][: settings.fuse_top]
    baseline = [c for c in values if c.family == "btyd"]
    options = [learnt + baseline] + ([learnt] if baseline and len(learnt) >= 2 else [])
    options = [parts for parts in options if len(parts) >= 2]
    if not options:
        return None

    def fused(parts: list[Candidate]) -> Fused:
        maes = [float(np.mean(np.abs(c.validation_predictions() - validation.value))) for c in parts]
        return Fused(parts, maes).fit(train, validation, FitContext())

    # Ties keep the baseline (the first option), as before this choice existed.
    return max(
        (fused(parts) for parts in options),
        key=lambda f: primary_score("value", validation.value, f.validation_predictions()),
    )


def train_models(
    db: str | Path,
    models_dir: str | Path,
    settings: TrainSettings | None = None,
    log: Log | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> TrainResult:
    """Train, evaluate, export and register every model; returns what was registered and the champions.

    Parameters
    ----------
    db : path
        The built DuckDB database (``clv build``).
    models_dir : path
        The registry root.
    settings : TrainSettings, optional
        Seed, search budget and row caps.
    log : callable, optional
        Receives one line per step (fits, trials, epochs).
    progress : callable, optional
        Receives (stage, done, total) while reading data and training networks.
    """
    settings = settings or TrainSettings()
    log = log or (lambda _line: None)
    models_dir = Path(models_dir)
    with connect(db) as con:
        info = read_build_info(con)
        if len(info.training_cutoffs) < 3:
            return _baseline_only(con, info, models_dir, settings, log)
        data = read_rows(con, progress=(lambda d, t: progress("reading ml_training_set", d, t)) if progress else None)
        # The customers about to be scored: the BG/NBD model and the segments are fitted on them.
        scoring = read_rows(con, "ml_scoring_set")
    split = time_split(info.training_cutoffs)
    holdout = CustomerHoldout(seed=settings.seed)
    train, validation, test = split_rows(data, split, holdout)
    log(
        f"split by time and customer: train {len(train):,} rows on {len(split.train)} cutoffs, validation "
        f"{len(validation):,} rows ({split.validation}), test {len(test):,} rows ({split.test}); validation and test "
        f"customers ({holdout.validation_share:.0%} and {holdout.test_share:.0%}) are never fitted on"
    )
    result = TrainResult(info=info, split=split, holdout=holdout)
    ctx = FitContext(
        seed=settings.seed,
        threads=settings.threads,
        log=log,
        epochs=(lambda e, n: progress("epochs", e, n)) if progress else None,
    )
    failures = result.failures
    start = time.perf_counter()
    # Every customer's rows at every cutoff of the run (the split uses them all): the BG/NBD fits
    # at those cutoffs need no labels. The full matrix goes once they are fitted.
    ctx.btyd = _fit_baseline(data, scoring.X, info, settings, failures, log)
    latest = max(info.training_cutoffs)
    seasonal = seasonal_reference(scoring.X, data.at(latest).X, FEATURES, info.scoring_cutoff, latest)
    del data
    result.seconds["btyd_fit"] = time.perf_counter() - start
    # Rows the references summarise (training/reference.py); sequence models need their histories.
    reference_rows = train.take(sample_rows(len(train), MAX_ROWS, settings.seed))
    scoring_rows = scoring.take(sample_rows(len(scoring), MAX_ROWS, settings.seed))
    sequence_train = None
    if any(f in SEQUENCE_FAMILIES for f in settings.families):
        start = time.perf_counter()
        sequence_train = train.take(sample_rows(len(train), settings.sequence_rows, settings.seed))
        with connect(db) as con:
            sequence_train = with_histories(con, sequence_train)
            validation, test = with_histories(con, validation), with_histories(con, test)
            reference_rows = with_histories(con, reference_rows)
            scoring_rows = with_histories(con, scoring_rows, "ml_scoring_set")
        result.seconds["read_histories"] = time.perf_counter() - start
        log(
            f"read the weekly histories of {len(sequence_train):,} sampled training rows (the sequence models' "
            f"sample), the validation and test rows in {result.seconds['read_histories']:.1f} s"
        )
    candidates = _fit_candidates(train, validation, settings, ctx, log, result.seconds, failures, sequence_train)
    parity_index = sample_rows(len(test), PARITY_ROWS, settings.seed)
    parity_rows = test.take(parity_index)

    def export(candidate: Candidate) -> Exported:
        log(f"exporting {candidate.name} to ONNX and checking it on {len(parity_index):,} test rows")
        test_raw = candidate.predict_rows(test)
        metrics = candidate_metrics(candidate, validation, test, test_raw)
        # The graph serves the scoring-date BG/NBD fit: predict() uses it too.
        history = parity_rows.history if candidate.reads_history else None
        model, parity = export_checked(candidate, parity_rows.X, history=history)
        return candidate, model, parity, metrics

    def keep(candidate: Candidate | None) -> None:
        if candidate is not None:
            done = attempt(candidate.name, candidate.task, "export", lambda: export(candidate), failures, log)
            exported.extend([done] if done else [])

    exported: list[Exported] = []
    for candidate in candidates:
        keep(candidate)
    if "fused" in settings.families:
        # Fused from the value models whose exports passed: every part it serves passed on its own.
        values = [e[0] for e in exported if e[0].task == "value"]
        start = time.perf_counter()
        keep(attempt("value_fused", "value", "fit", lambda: _fuse(values, train, validation, settings), failures, log))
        result.seconds["value_fused"] = time.perf_counter() - start
    for task in TASKS:
        survivors_or_raise(task, sum(e[0].task == task for e in exported), failures)
    if "kmeans" in settings.families:
        start = time.perf_counter()
        log("fitting segment_kmeans")

        def segments() -> Exported:
            # Unsupervised, so fitted where it is used: every customer at the scoring cutoff.
            segmenter = Segmenter(seed=settings.seed).fit(scoring.X)
            return (segmenter, *export_checked(segmenter, parity_rows.X), {})

        segmented = attempt("segment_kmeans", "segment", "fit", segments, failures, log)
        exported.extend([segmented] if segmented else [])
        result.seconds["segment_kmeans"] = time.perf_counter() - start
        survivors_or_raise("segment", int(segmented is not None), failures)
    common = {
        "cutoffs": split.as_dict() | {"scoring": info.scoring_cutoff.isoformat()},
        "customers": holdout.as_dict(),
        "horizon_days": info.horizon_days,
        "churn_window_days": info.churn_window_days,
        "training_rows": {"train": len(train), "validation": len(validation), "test": len(test)},
        "seed": settings.seed,
        "explanation": {"baseline": explanation_baseline(reference_rows.X, FEATURES)},
    }
    # Explanations of a sequence model move the history as one input, from the typical history.
    typical = None if sequence_train is None else {"history_baseline": history_baseline(sequence_train.history)}
    _register_all(models_dir, exported, common, result, _references(reference_rows, scoring_rows, seasonal), typical)
    _choose_champions(models_dir, result)
    if "policy" in settings.families:
        _train_policies(db, models_dir, settings, result, log, progress)
    _record_run(models_dir, result)
    return result


def _train_policies(
    db: str | Path,
    models_dir: Path,
    settings: TrainSettings,
    result: TrainResult,
    log: Log,
    progress: Callable[[str, int, int], None] | None,
) -> None:
    """Fit, register and crown the next-best-action policies where the log has campaign sends.

    A database without campaign history trains no policy (and says so in the log); a policy that
    fails is dropped like a candidate. The CLV models are registered already: a failure here
    never costs them.
    """
    from duckdb_clv.training.policies import train as policies
    from duckdb_clv.training.policies.evaluate import PolicySettings

    with connect(db) as con:
        if not policies.has_decisions(con):
            log("no campaign sends in ml_decision_set: no next-best-action policy (see `clv load --campaigns`)")
            return
        start = time.perf_counter()
        fitted = attempt(
            "action_policies",
            "action",
            "fit",
            lambda: policies.fit_policies(
                con, settings.policy_rows, PolicySettings(seed=settings.seed), log, result.failures, progress
            ),
            result.failures,
            log,
        )
    if fitted is None or not fitted.exported:
        return
    result.seconds.update(fitted.seconds)
    common = {
        "task": "action",
        "output": "action",
        "primary_metric": None,
        "metrics": {},
        "cutoffs": {"scoring": result.info.scoring_cutoff.isoformat()},
        "seed": settings.seed,
    }

    def card(name: str, parity: dict, fields: dict) -> dict:
        return {"name": name, **common, "parity": parity, **fields, "training_seconds": fitted.seconds[name]}

    cards = _register_versions(
        models_dir,
        [(graph, card(name, parity, fields), fitted.features) for name, _, graph, parity, fields in fitted.exported],
    )
    result.cards.extend(cards)
    best = next((c for c in cards if c["name"] == policies.DEFAULT_POLICY), cards[0])
    reason = policies.DEFAULT_REASON if best["name"] == policies.DEFAULT_POLICY else "the only policy that trained"
    registry.promote(models_dir, "action", best["name"], best["version"], reason=reason)
    result.champions["action"] = (best["name"], best["version"])
    result.seconds["policies"] = time.perf_counter() - start


def _references(rows: Dataset, scoring_rows: Dataset, seasonal: dict) -> Callable[[object], dict]:
    """For each model: reference distributions of the features and of its output, on two baselines.

    A sample of the training rows and of the customers at the scoring cutoff
    (``training/reference.py``), and the seasonal moments; the features' part is computed once and
    shared by every card of the run.
    """
    features = {
        "training": feature_reference(rows.X, FEATURES),
        "scoring": feature_reference(scoring_rows.X, FEATURES),
    }

    def reference(model: object) -> dict:
        if isinstance(model, Candidate):
            on_training = model.calibration_.apply(model.predict_rows(rows))
            on_scoring = model.predict(scoring_rows.X, scoring_rows.history)
        else:  # the segments: no labels, no per-cutoff fits
            on_training, on_scoring = model.predict(rows.X), model.predict(scoring_rows.X)
        return {
            baseline: {"features": features[baseline], "output": distribution(output)}
            for baseline, output in (("training", on_training), ("scoring", on_scoring))
        } | {"seasonal": seasonal}

    return reference


def _references_on(X: np.ndarray, seed: int) -> Callable[[object], dict]:
    """References where the models were fitted on the scoring cutoff's own rows (no training cutoffs)."""
    rows = X[sample_rows(len(X), MAX_ROWS, seed)]
    features = feature_reference(rows, FEATURES)

    def reference(model: object) -> dict:
        output = distribution(model.predict(rows))
        return {baseline: {"features": features, "output": output} for baseline in ("training", "scoring")}

    return reference


def _record_run(models_dir: Path, result: TrainResult) -> None:
    """Write the registry's record of this run, so that `clv models list` and the report can show the drops."""
    registry.write_json_atomic(
        models_dir / registry.RUN_RECORD,
        {
            "created_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
            "registered": [{"name": c["name"], "version": c["version"], "task": c["task"]} for c in result.cards],
            "champions": {task: {"name": n, "version": v} for task, (n, v) in result.champions.items()},
            "failed": [f.as_dict() for f in result.failures],
            "notes": result.notes,
        },
    )


def _register_all(
    models_dir: Path,
    exported: list,
    common: dict,
    result: TrainResult,
    reference: Callable[[object], dict] | None = None,
    history_explanation: dict | None = None,
) -> None:
    """Register every exported model; on any failure remove this run's versions and re-raise.

    ``reference`` gives a model's reference distributions for drift monitoring (cards without
    them still serve; the monitors say they are unavailable); ``history_explanation`` goes into
    the ``explanation`` of the cards of models that read the weekly history.
    """
    start = time.perf_counter()

    def card(candidate: Candidate | Segmenter, parity: dict, metrics: dict) -> dict:
        out = {
            "name": candidate.name,
            "task": candidate.task,
            "output": candidate.task,
            "primary_metric": PRIMARY.get(candidate.task),
            "metrics": metrics,
            "parity": parity,
            "model": candidate.describe(),
            "training_seconds": result.seconds.get(candidate.name),
            **common,
        }
        if reference is not None:
            out["reference"] = reference(candidate)
        if getattr(candidate, "reads_history", False) and history_explanation:
            out["explanation"] = {**out["explanation"], **history_explanation}
        return out

    # A generator: each card's references are computed just before its version is written.
    entries = ((model, card(candidate, parity, metrics), FEATURES) for candidate, model, parity, metrics in exported)
    result.cards.extend(_register_versions(models_dir, entries))
    result.seconds["register"] = time.perf_counter() - start


# What _register_versions writes: a model, its card and its input features.
Entry = tuple[onnx.ModelProto, dict, tuple[str, ...]]


def _register_versions(models_dir: Path, entries: Iterable[Entry]) -> list[dict]:
    """Register each (model, card, input features) in turn; on any failure remove the versions written and re-raise."""
    written: list[Path] = []
    cards = []
    try:
        for model, card, features in entries:
            full = register(models_dir, model, card, features)
            written.append(models_dir / full["name"] / full["version"])
            cards.append(full)
    except BaseException:
        for path in written:
            shutil.rmtree(path, ignore_errors=True)
        raise
    return cards


def _choose_champions(models_dir: Path, result: TrainResult) -> None:
    for task in registry.SCORING_TASKS:
        cards = [c for c in result.cards if c["task"] == task]
        if not cards:
            continue
        among = ""
        if task == "segment":
            best = cards[0]
        else:
            metric = PRIMARY[task]
            steady = [c for c in cards if c["model"].get("level_follows_btyd_at_scoring")]
            if task == "value" and steady:
                # A model of the raw value keeps the level of the cutoffs it learnt on; these follow
                # the customer base to the scoring date (docs/TRAINING.md#holding-the-level).
                cards, among = steady, " among the models whose level follows the scoring-date BG/NBD fit"
            best = max(cards, key=lambda c, metric=metric: c["metrics"]["validation"][metric])
        reason = f"best validation {PRIMARY.get(task, 'segments')}{among} in the training run of {best['created_at']}"
        registry.promote(models_dir, task, best["name"], best["version"], reason=reason)
        result.champions[task] = (best["name"], best["version"])


def _baseline_only(con, info: BuildInfo, models_dir: Path, settings: TrainSettings, log: Log) -> TrainResult:
    """Too little history for a time split: fit BG/NBD + Gamma-Gamma alone and serve it.

    It needs no labels, so it is fitted at the scoring cutoff on every customer known then: of the
    models, the one whose level follows the customer base without any validation to set it.
    """
    cutoff = info.scoring_cutoff
    rows = read_rows(con, "ml_scoring_set")
    note = (
        f"history too short for a validation: {len(info.training_cutoffs)} training cutoffs with a fully observed "
        f"{info.horizon_days}-day horizon (3 are needed for a time split); serving the BG/NBD + Gamma-Gamma "
        f"baseline alone, fitted on the {len(rows):,} customers at the scoring cutoff {cutoff}, uncalibrated; "
        "it is the champion until more history arrives"
    )
    log(note)
    try:
        fit = RefittedBTYD(BTYDFit.fit(rows.X, info.horizon_days, info.churn_window_days, cutoff.isoformat()))
    except (TrainingError, ValueError) as err:
        raise TrainingError(
            f"no model could be trained: with {len(info.training_cutoffs)} training cutoffs only the BG/NBD "
            f"baseline can be fitted, and it failed: {one_line(err)}"
        ) from err
    result = TrainResult(info=info, split=None, notes=[note])
    exported = []
    for task in TASKS:
        candidate = Baseline(task)
        candidate.btyd_ = fit
        # Without labels nothing can be calibrated: the model is served as fitted.
        candidate.calibration_ = ValueScale(1.0) if task == "value" else Platt(1.0, 0.0)
        model, parity = export_checked(candidate, rows.X[:100_000])
        exported.append((candidate, model, parity, {"validation": {}, "test": {}}))
    common = {
        "cutoffs": {"fitted_on": cutoff.isoformat(), "scoring": info.scoring_cutoff.isoformat()},
        "horizon_days": info.horizon_days,
        "churn_window_days": info.churn_window_days,
        "training_rows": {"fit": len(rows)},
        "seed": settings.seed,
        "note": note,
        "explanation": {
            "baseline": explanation_baseline(rows.X[sample_rows(len(rows), MAX_ROWS, settings.seed)], FEATURES)
        },
    }
    if "kmeans" in settings.families:
        # Segments need no labels: they are fitted on the same customers as the baseline.
        segmenter = Segmenter(seed=settings.seed).fit(rows.X)
        exported.append((segmenter, *export_checked(segmenter, rows.X[:100_000]), {}))
    # The models were fitted on the scoring cutoff's customers: they are both baselines.
    _register_all(models_dir, exported, common, result, _references_on(rows.X, settings.seed))
    for card in result.cards:
        registry.promote(models_dir, card["task"], card["name"], card["version"], reason=note)
        result.champions[card["task"]] = (card["name"], card["version"])
    _record_run(models_dir, result)
    return result
