"""The Arrow UDF kernels behind ``recommend_action(features [, budget_share := ...])`` and ``action_cost(action)``.

A next-best-action policy (``task: action``, docs/ACTIONS.md) reads the contract's features and then
the campaign history's, as its card lists them; its ONNX graph gives the expected net value of
every action over the action horizon (rows x actions, "none" first, each net of its cost). The
recommendation is the action worth most, and its *expected uplift* is how much more it is worth
than doing nothing; when no action is worth more than nothing the recommendation is ``none`` with
an uplift of 0.

With ``budget_share := s`` (a share of customers, 0 < s <= 1) a customer is recommended an action
only when its uplift lies in the top ``s`` of the customers the policy was trained to score: the
card keeps the percentiles of the best uplift over the customers at the scoring cutoff, and the
threshold is the (1 - s) quantile. A row-wise function cannot rank a whole table; ``campaign_plan``
ranks exactly.
"""

from __future__ import annotations

import inspect

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from duckdb_clv.udfs.errors import UdfError
from duckdb_clv.udfs.functions import _model, columns_matrix
from duckdb_clv.udfs.models import LoadedModel

TASK = "action"
CONTROL = "none"
RESULT = pa.struct([("action", pa.string()), ("expected_uplift", pa.float64())])
RESULT_SQL = "STRUCT(action VARCHAR, expected_uplift DOUBLE)"


def check_budget_share(share: float) -> float:
    """``share`` when it is a share of customers in (0, 1]; a UdfError otherwise."""
    if not np.isfinite(share) or not 0 < share <= 1:
        raise UdfError(f"budget_share must be above 0 and at most 1 (0.2 treats a fifth of customers), got {share}")
    return share


def threshold(card: dict, share: float) -> float:
    """The uplift a customer must exceed to be within the top ``share`` of the card's scoring customers."""
    quantiles = card.get("budget", {}).get("quantiles") or []
    if not quantiles:
        raise UdfError(f"{card['name']} {card['version']} has no uplift distribution in its card; retrain it")
    grid = np.linspace(0.0, 1.0, len(quantiles))
    return float(np.interp(1.0 - share, grid, quantiles))


def _check_inputs(model: LoadedModel, names: tuple[str, ...]) -> None:
    theirs = tuple(f["name"] for f in model.card.get("features", []))
    if theirs != names:
        differ = [f for f in theirs if f not in names] + [f for f in names if f not in theirs]
        raise UdfError(
            f"{model.ref} reads other inputs than the action champion these functions were registered with "
            f"(differing: {differ[:5] or 'order'}); connect again to bind its features"
        )


def best_action(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of action values: the index of the best action besides doing nothing, and its uplift over nothing."""
    uplift = values[:, 1:] - values[:, [0]]
    if not uplift.shape[1]:
        return np.zeros(len(values), dtype=np.int64), np.zeros(len(values))
    return uplift.argmax(axis=1) + 1, uplift.max(axis=1)


def recommend(model: LoadedModel, X: np.ndarray, shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(action names, expected uplifts) of ``X`` under each row's budget share (NaN: no budget)."""
    actions = model.card["actions"]
    choice, best = best_action(model.run(X).astype(np.float64))
    treat = best > 0
    for share in np.unique(shares[~np.isnan(shares)]):
        rows = shares == share
        treat[rows] &= best[rows] > threshold(model.card, float(share))
    names = np.where(treat, np.asarray(actions, dtype=object)[choice], CONTROL)
    return names, np.where(treat, best, 0.0)


def recommend_kernel(names: tuple[str, ...]):
    """Kernel for ``_clv_recommend_<spec>(model, budget_share, present, features...)`` over ``names``."""

    def kernel(refs: pa.Array, budget: pa.Array, present: pa.Array, *columns: pa.Array) -> pa.Array:
        n = len(refs)
        if n == 0:
            return pa.array([], type=RESULT)
        distinct = pc.unique(refs).to_pylist()
        if None in distinct or len(distinct) != 1:
            raise UdfError("recommend_action takes one model per query: pass a constant model name or leave it out")
        model = _model(TASK, distinct[0])
        _check_inputs(model, names)
        given = ~np.asarray(budget.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        shares = np.full(n, np.nan)
        shares[given] = pc.cast(pc.drop_null(budget), pa.float64()).to_numpy(zero_copy_only=False)
        # NULL means no budget; NaN is a budget nobody meant.
        for share in np.unique(shares[given]):
            check_budget_share(float(share))
        X = columns_matrix(columns, names)
        missing = ~np.asarray(present.to_numpy(zero_copy_only=False), dtype=bool)
        action = np.full(n, CONTROL, dtype=object)
        uplift = np.zeros(n)
        rows = np.flatnonzero(~missing)
        if rows.size:
            action[rows], uplift[rows] = recommend(model, np.ascontiguousarray(X[rows]), shares[rows])
        return pa.StructArray.from_arrays(
            [pa.array(action, type=pa.string()), pa.array(uplift)], fields=list(RESULT), mask=pa.array(missing)
        )

    params = ["refs", "budget", "present", *(f"f{j}" for j in range(len(names)))]
    kernel.__signature__ = inspect.Signature([inspect.Parameter(p, inspect.Parameter.POSITIONAL_ONLY) for p in params])
    return kernel


def action_cost_kernel():
    """Kernel for ``_clv_action_cost(model, action)``: the cost of one send of ``action`` in the policy's card."""

    def kernel(refs: pa.Array, actions: pa.Array) -> pa.Array:
        out: list[float | None] = []
        costs: dict[str, dict[str, float]] = {}
        for ref, action in zip(refs.to_pylist(), actions.to_pylist(), strict=True):
            if action is None:
                out.append(None)
                continue
            if ref not in costs:
                card = _model(TASK, ref).card
                costs[ref] = dict(zip(card["actions"], card["costs"], strict=True))
            known = costs[ref]
            if action not in known:
                raise UdfError(f"{action!r} is not one of the policy's actions ({', '.join(known)})")
            out.append(float(known[action]))
        return pa.array(out, type=pa.float64())

    return kernel
