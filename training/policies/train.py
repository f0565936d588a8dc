"""Fitting, exporting and registering the next-best-action policies in a training run.

Where the database holds campaign history (``ml_decision_set`` has sends), ``clv train`` fits both
policies on the logged decisions: the one-step uplift policy (``ActionValues`` over the action
horizon) and the sequential one (fitted Q-iteration over the monthly steps). Each is exported to
one ONNX graph of its action values, checked against the fitted model, and registered with a card
naming its actions, their costs, its inputs (the contract's features, then the campaign
history's) and the distribution of its best uplift over the customers at the scoring cutoff,
which is how ``recommend_action(s, budget_share := ...)`` turns a share into a threshold. The
one-step policy becomes the ``action`` champion: on the 100k sample shop it beat the sequential
one at every budget (docs/ACTIONS.md), and the issue makes the winner the default.

A shop with a very long log is learned from a seeded sample of its customers (all their months,
so each row keeps its next month for the sequential policy), at most ``policy_rows`` rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import numpy as np
import onnx

from duckdb_clv.training.failures import Failure, attempt
from duckdb_clv.training.policies.decisions import VIEW, read_decisions
from duckdb_clv.training.policies.evaluate import PolicySettings, fit_sequential
from duckdb_clv.training.policies.export import export_checked
from duckdb_clv.training.policies.learners import ActionValues
from duckdb_clv.udfs.action_functions import best_action

SCORING_VIEW = "ml_action_scoring_set"
UPLIFT, SEQUENTIAL = "action_uplift", "action_fitted_q"
# The model that becomes the ``action`` champion, and why (the figures in docs/ACTIONS.md).
DEFAULT_POLICY = UPLIFT
DEFAULT_REASON = (
    "the one-step uplift policy is the default: on the 100k sample shop it earned more than the sequential "
    "policy at every budget (docs/ACTIONS.md)"
)
# Rows the export of each policy is checked on (a seeded sample of the decisions).
PARITY_ROWS = 20_000
# Percentiles of the best uplift the card keeps: recommend_action's budget thresholds, from a
# seeded sample of the scoring customers at most this large (a percentile of 200,000 customers
# is within 0.05 of a percentage point of the whole's; all 1M would cost 45 s per policy).
QUANTILES = np.linspace(0.0, 1.0, 101)
QUANTILE_ROWS = 200_000

Log = Callable[[str], None]


@dataclass
class FittedPolicies:
    """The policies of one run, ready to register: (name, model, ONNX graph, parity, card fields)."""

    features: tuple[str, ...]
    exported: list[tuple[str, ActionValues, onnx.ModelProto, dict, dict]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def has_decisions(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the database has logged campaign decisions to learn from (a built ``ml_decision_set`` with sends)."""
    try:
        sends = con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {VIEW} WHERE action <> 'none' LIMIT 1)").fetchone()
        return bool(sends[0])
    except duckdb.CatalogException:
        return False


def sample_filter(con: duckdb.DuckDBPyConnection, max_rows: int, seed: int) -> str:
    """A WHERE clause keeping a seeded share of the customers so that about ``max_rows`` rows are left ('' for all).

    Customers, not rows, are sampled: a kept customer keeps every month, and so its transitions.
    md5 is the same on every DuckDB version, so the same data and seed keep the same customers.
    """
    total = con.execute(f"SELECT count(*) FROM {VIEW}").fetchone()[0]
    if total <= max_rows:
        return ""
    keep = int(max_rows / total * 1_000_000)
    return f"md5_number_lower('{int(seed)}:' || customer_id) % 1000000 < {keep}"


def read_scoring_rows(con: duckdb.DuckDBPyConnection, features: tuple[str, ...]) -> np.ndarray:
    """The policies' inputs at the scoring cutoff (``ml_action_scoring_set``), float32 in ``features`` order."""
    table = con.sql(f"SELECT {', '.join(features)} FROM {SCORING_VIEW} ORDER BY customer_id").fetchnumpy()
    return np.column_stack([np.asarray(table[f], dtype=np.float32) for f in features])


def uplift_quantiles(values: np.ndarray) -> list[float]:
    """Percentiles 0..100 of the best action's uplift over doing nothing (0 where nothing is worth more)."""
    if values.shape[1] < 2:
        return []
    best = np.maximum(best_action(values)[1], 0.0)
    return [float(q) for q in np.quantile(best, QUANTILES)] if best.size else []


def fit_policies(
    con: duckdb.DuckDBPyConnection,
    max_rows: int,
    settings: PolicySettings,
    log: Log,
    failures: list[Failure],
    progress: Callable[[str, int, int], None] | None = None,
) -> FittedPolicies:
    """Fit both policies on the logged decisions (a sample of customers beyond ``max_rows``) and export them.

    A policy whose fit or export fails (too few untreated rows, an export that disagrees with its
    model) is dropped into ``failures`` and the other goes on, as candidates do.

    Raises
    ------
    TrainingError
        When the decisions cannot be read (no campaign history, a stale build).
    """
    start = time.perf_counter()
    where = sample_filter(con, max_rows, settings.seed)
    data = read_decisions(con, where)
    scoring_X = read_scoring_rows(con, data.features)
    scoring_customers = len(scoring_X)
    if len(scoring_X) > QUANTILE_ROWS:
        keep = np.random.default_rng(settings.seed).choice(len(scoring_X), size=QUANTILE_ROWS, replace=False)
        scoring_X = scoring_X[np.sort(keep)]
    horizon = con.execute(f"SELECT any_value(action_horizon_days) FROM {VIEW}").fetchone()[0]
    out = FittedPolicies(features=data.features)
    out.seconds["read"] = time.perf_counter() - start
    months = np.unique(data.cutoff)
    log(
        f"policies: {len(data):,} logged decisions over {months.size} months"
        + (" (a seeded sample of the customers)" if where else "")
        + f", actions {', '.join(data.actions)}, read in {out.seconds['read']:.1f} s"
    )
    common = {
        "actions": list(data.actions),
        "costs": [float(c) for c in data.costs],
        "action_horizon_days": int(horizon),
        "decisions": {
            "rows": len(data),
            "sampled": bool(where),
            "months": [str(m) for m in months],
            "logged_mix": {a: float((data.action == i).mean()) for i, a in enumerate(data.actions)},
        },
    }
    rng = np.random.default_rng(settings.seed)
    parity_rows = np.sort(rng.choice(len(data), size=min(PARITY_ROWS, len(data)), replace=False))
    one_step = ActionValues(len(data.actions), data.costs, settings.seed)

    def steps(k: int, n: int) -> None:
        if progress:
            progress("fitted Q steps", k, n)

    for name, fit in (
        (UPLIFT, lambda: one_step.fit(data.X, data.action, data.horizon_value)),
        (SEQUENTIAL, lambda: fit_sequential(data, settings, steps)),
    ):
        began = time.perf_counter()
        log(f"fitting {name}")
        model = attempt(name, "action", "fit", fit, failures, log)
        if model is None:
            continue
        checked = attempt(
            name, "action", "export", lambda m=model, n=name: export_checked(m, data.X[parity_rows], n), failures, log
        )
        if checked is None:
            continue
        graph, parity = checked
        out.seconds[name] = time.perf_counter() - began
        described = {
            "family": "uplift" if name == UPLIFT else "fitted_q",
            "params": {"steps": settings.steps, "gamma": settings.gamma} if name == SEQUENTIAL else {},
            "floor": model.floor_,
            "arms_fitted": [data.actions[a] for a, r in enumerate(model.ratios_, start=1) if r is not None],
        }
        values = model.predict(scoring_X) if len(scoring_X) else np.zeros((0, len(data.actions)))
        card = {
            **common,
            "model": described,
            "budget": {"quantiles": uplift_quantiles(values), "customers": len(scoring_X), "of": scoring_customers},
        }
        out.exported.append((name, model, graph, parity, card))
        log(f"{name} done in {out.seconds[name]:.1f} s")
    return out
