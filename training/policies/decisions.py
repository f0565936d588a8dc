"""The logged campaign decisions, straight from ``ml_decision_set``: what the policies learn from.

One row per customer and decision cutoff: the feature contract's columns and the campaign history
(``fct_customer_treatments``, whose per-action columns depend on the shop's own actions), the
action the log took, its cost, the net value of the step to the next cutoff and over the action
horizon. Rows are read in a stable order (cutoff, customer), so the same database gives the same
matrices, and each row knows the row of the same customer at the next cutoff (``next_row``), the
transition a sequential policy learns from.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import duckdb
import numpy as np
import pyarrow as pa

from duckdb_clv.training.errors import TrainingError
from duckdb_clv.udfs.contract import FEATURES, differences

VIEW = "ml_decision_set"
# Columns of the view that are not features.
NOT_FEATURES = (
    "customer_id",
    "cutoff_date",
    "future_value",
    "future_orders",
    "churned",
    "action",
    "action_cost",
    "step_value",
    "action_horizon_value",
    "action_horizon_days",
    "next_cutoff_date",
)
CONTROL = "none"
BATCH_ROWS = 1 << 17


@dataclass(frozen=True)
class Decisions:
    """Logged decisions; row i of every array is the same customer and cutoff."""

    X: np.ndarray  # float32 (rows, len(features))
    features: tuple[str, ...]  # the contract's, then the campaign history's
    actions: tuple[str, ...]  # "none" first, then the log's actions sorted
    costs: np.ndarray  # float64 per action: the median logged cost of one send
    action: np.ndarray  # int8 index into actions
    cost: np.ndarray  # float64 logged cost of the row's action
    horizon_value: np.ndarray  # float64 net value over the action horizon
    step_value: np.ndarray  # float64 net value up to the next cutoff
    cutoff: np.ndarray  # datetime64[D]
    customer_id: np.ndarray  # object (str)
    next_row: np.ndarray  # int64: the row of the same customer at the next cutoff, -1 if none

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def reward(self) -> np.ndarray:
        """Net value over the action horizon minus what the logged action cost."""
        return self.horizon_value - self.cost

    @property
    def step_reward(self) -> np.ndarray:
        """Net value of the step minus what the logged action cost."""
        return self.step_value - self.cost

    def take(self, rows: np.ndarray) -> Decisions:
        """The rows selected by a boolean mask or an index array; ``next_row`` follows them where kept."""
        index = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows)
        where = np.full(len(self), -1, dtype=np.int64)
        where[index] = np.arange(index.size)
        nxt = self.next_row[index]
        return replace(
            self,
            X=self.X[index],
            action=self.action[index],
            cost=self.cost[index],
            horizon_value=self.horizon_value[index],
            step_value=self.step_value[index],
            cutoff=self.cutoff[index],
            customer_id=self.customer_id[index],
            next_row=np.where(nxt >= 0, where[np.maximum(nxt, 0)], -1),
        )


def decision_columns(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """The feature columns of ``ml_decision_set``: the contract's, then the campaign history's."""
    try:
        columns = [r[0] for r in con.execute(f"DESCRIBE {VIEW}").fetchall()]
    except duckdb.CatalogException as err:
        raise TrainingError(f"{VIEW} does not exist: run `clv build` first") from err
    features = [c for c in columns if c not in NOT_FEATURES]
    contract = [c for c in features if c in FEATURES]
    problem = differences(contract)
    if problem:
        raise TrainingError(f"{VIEW} does not match the feature contract ({problem}); rebuild with `clv build`")
    return (*FEATURES, *(c for c in features if c not in FEATURES))


def read_decisions(con: duckdb.DuckDBPyConnection, where: str = "") -> Decisions:
    """Read ``ml_decision_set`` (optionally filtered) into ``Decisions``.

    Raises
    ------
    TrainingError
        When the view is missing, holds no decision, or no action besides ``none``.
    """
    features = decision_columns(con)
    filter_sql = f" WHERE {where}" if where else ""
    total = con.execute(f"SELECT count(*) FROM {VIEW}{filter_sql}").fetchone()[0]
    names = [r[0] for r in con.execute(f"SELECT DISTINCT action FROM {VIEW}{filter_sql} ORDER BY 1").fetchall()]
    if total == 0 or not [a for a in names if a != CONTROL]:
        raise TrainingError(
            "no campaign decisions to learn from: load your campaign history with `clv load --campaigns FILE` "
            "(sends in the months after the training cutoffs) and rebuild"
        )
    actions = (CONTROL, *(a for a in names if a != CONTROL))
    X = np.empty((total, len(features)), dtype=np.float32)
    action = np.empty(total, dtype=np.int8)
    numbers = {k: np.empty(total) for k in ("action_cost", "action_horizon_value", "step_value")}
    cutoff = np.empty(total, dtype="datetime64[D]")
    following = np.empty(total, dtype="datetime64[D]")
    ids = np.empty(total, dtype=object)
    code = {a: i for i, a in enumerate(actions)}
    columns = ", ".join(("customer_id", "cutoff_date", "next_cutoff_date", "action", *numbers, *features))
    reader = con.sql(f"SELECT {columns} FROM {VIEW}{filter_sql} ORDER BY cutoff_date, customer_id")
    start = 0
    for batch in reader.to_arrow_reader(BATCH_ROWS):
        end = start + batch.num_rows
        ids[start:end] = batch.column("customer_id").to_numpy(zero_copy_only=False)
        cutoff[start:end] = batch.column("cutoff_date").cast(pa.date32()).to_numpy(zero_copy_only=False)
        nxt = batch.column("next_cutoff_date").cast(pa.date32()).to_numpy(zero_copy_only=False)
        following[start:end] = nxt.astype("datetime64[D]")
        action[start:end] = [code[a] for a in batch.column("action").to_pylist()]
        for k, arr in numbers.items():
            arr[start:end] = batch.column(k).to_numpy(zero_copy_only=False)
        for j, name in enumerate(features):
            X[start:end, j] = batch.column(name).to_numpy(zero_copy_only=False)
        start = end
    costs = np.array(
        [np.median(numbers["action_cost"][action == i]) if (action == i).any() else 0.0 for i in range(len(actions))]
    )
    costs[0] = 0.0
    return Decisions(
        X=X,
        features=features,
        actions=actions,
        costs=costs,
        action=action,
        cost=numbers["action_cost"],
        horizon_value=numbers["action_horizon_value"],
        step_value=numbers["step_value"],
        cutoff=cutoff,
        customer_id=ids,
        next_row=_next_rows(ids, cutoff, following),
    )


def _next_rows(ids: np.ndarray, cutoff: np.ndarray, following: np.ndarray) -> np.ndarray:
    """For each row, the row of the same customer at its next cutoff (-1 when there is none)."""
    position = {(c, d): i for i, (c, d) in enumerate(zip(ids.tolist(), cutoff.tolist(), strict=True))}
    return np.array(
        [position.get((c, d), -1) for c, d in zip(ids.tolist(), following.tolist(), strict=True)], dtype=np.int64
    )
