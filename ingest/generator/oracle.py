"""The oracle: the best prediction any model could make, from the latent state at a cutoff.

For every customer acquired by the cutoff, it takes what was true *at* the cutoff — still active
or not, engagement that week, purchase rate, dropout propensity, spend level, return propensity —
and averages over everything that had not happened yet by simulating many futures with the same
weekly dynamics the generator used. It never reads what was realised after the cutoff: a dropout
date later than the cutoff only tells it the customer was still active then.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from duckdb_clv.ingest.errors import GenerateError
from duckdb_clv.ingest.generator.actions import ACTION_COST, ACTION_NAMES, engagement_change, response
from duckdb_clv.ingest.generator.dynamics import engagement_target, expected_net_per_order, step_engagement, step_week
from duckdb_clv.ingest.generator.params import ShopParams, discount_probability, week_season

US_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class CutoffState:
    """What is true of each customer at the cutoff (arrays aligned with ``customer_id``)."""

    customer_id: pa.Array
    active: np.ndarray
    engagement: np.ndarray
    weeks_since_acquisition: np.ndarray
    rate: np.ndarray
    dropout_p: np.ndarray
    spend_rate: np.ndarray
    return_propensity: np.ndarray
    engagement_start: np.ndarray
    engagement_drift: np.ndarray
    deal_sensitivity: np.ndarray


def load_truth(shop_dir: str | Path) -> tuple[pa.Table, dict]:
    """Read ``ground_truth.parquet`` and ``shop.json`` written by ``generate_shop``."""
    shop = Path(shop_dir)
    meta_path, truth_path = shop / "shop.json", shop / "ground_truth.parquet"
    if not meta_path.exists() or not truth_path.exists():
        raise GenerateError(f"{shop} has no ground truth: generate it with `clv generate --out {shop}`")
    return pq.read_table(truth_path), json.loads(meta_path.read_text())


def state_at(truth: pa.Table, start: np.datetime64, future: np.datetime64) -> CutoffState:
    """The latent state, at the instant ``future`` begins, of every customer acquired before it."""
    cutoff_us = future.astype("datetime64[us]").astype(np.int64)
    start_us = start.astype("datetime64[us]").astype(np.int64)
    acquired = pc.cast(truth["acquired_at"], pa.int64()).to_numpy()
    known = acquired < cutoff_us
    t = truth.filter(pa.array(known))
    dropout = pc.cast(t["dropout_at"], pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64)
    dropout = np.where(np.isnan(dropout), np.inf, dropout)
    active = dropout >= cutoff_us
    # Engagement of the simulation week that contains the cutoff (the path covers active weeks).
    week0 = t["engagement_week0"].to_numpy()
    cutoff_week = (cutoff_us - 1 - start_us) // (7 * US_PER_DAY)
    path = t["engagement"]
    lengths = pc.list_value_length(path).to_numpy()
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    flat = pc.list_flatten(path).to_numpy()
    pos = np.clip(cutoff_week - week0, 0, np.maximum(lengths - 1, 0))
    engagement = np.where(lengths > 0, flat[np.minimum(offsets[:-1] + pos, max(flat.size - 1, 0))], 0.0)
    return CutoffState(
        customer_id=t["customer_id"].combine_chunks(),
        active=active,
        engagement=engagement.astype(np.float64),
        weeks_since_acquisition=(cutoff_week - week0).astype(np.float64),
        rate=t["purchase_rate"].to_numpy(),
        dropout_p=t["dropout_p"].to_numpy(),
        spend_rate=t["spend_rate"].to_numpy(),
        return_propensity=t["return_propensity"].to_numpy(),
        engagement_start=t["engagement_start"].to_numpy(),
        engagement_drift=t["engagement_drift"].to_numpy(),
        # Shops written before campaigns existed carry no sensitivity; they never need one.
        deal_sensitivity=(
            t["deal_sensitivity"].to_numpy() if "deal_sensitivity" in t.column_names else np.ones(t.num_rows)
        ),
    )


def simulate_futures(
    state: CutoffState,
    start: np.datetime64,
    future: np.datetime64,
    horizon_days: int,
    params: ShopParams,
    n_sims: int,
    seed: int,
    batch: int = 4_096,
    action: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Expected net value and P(at least one order) over the ``horizon_days`` days from ``future``.

    Purchase counts are simulated; each purchase contributes its expected net value given the
    discount calendar and the chance that its refund lands inside the window, which removes the
    noise of drawing amounts without changing the expectation. With ``action`` (an index into
    ``ACTIONS``) every customer is sent that action at ``future`` and no other campaign follows:
    its response applies from the first simulated week, and its cost is subtracted from the value
    of every customer, those who have left included.
    """
    n_weeks = -(-horizon_days // 7)
    exposure = np.minimum(7.0, horizon_days - 7.0 * np.arange(n_weeks))
    season = week_season(future, n_weeks, params)
    mid_week = 7.0 * np.arange(n_weeks) + exposure / 2
    offset_days = float((future - start).astype("timedelta64[D]").astype(np.int64))
    disc = discount_probability(offset_days + mid_week, start, params)
    lo, hi = params.return_delay_days
    refund_seen = np.clip((horizon_days - mid_week - lo) / (hi - lo), 0.0, 1.0)

    n = state.active.size
    value = np.zeros(n)
    p_order = np.zeros(n)
    live = np.flatnonzero(state.active)
    for b0 in range(0, live.size, batch):
        idx = live[b0 : b0 + batch]
        rng = np.random.default_rng([seed, b0])
        rep = np.repeat(idx, n_sims)
        alive = np.ones(rep.size, dtype=bool)
        e = state.engagement[rep].copy()
        weeks_on = state.weeks_since_acquisition[rep].copy()
        total = np.zeros(rep.size)
        bought = np.zeros(rep.size, dtype=bool)
        resp = None
        if action:
            e += engagement_change(np.full(rep.size, action), e, params)
            resp = response(np.full(rep.size, action), state.deal_sensitivity[rep])
        for w in range(n_weeks):
            in_window = resp if w < params.campaign_window_weeks else None
            out = step_week(
                state.rate[rep], state.dropout_p[rep], e, alive, exposure[w], season[w], params, rng, in_window
            )
            net = expected_net_per_order(
                state.spend_rate[rep], state.return_propensity[rep], disc[w], refund_seen[w], params, in_window
            )
            total += out.purchases * net
            bought |= out.purchases > 0
            alive &= ~(out.dropped_after_purchase | out.dropped_disengaged)
            weeks_on += 1
            target = engagement_target(state.engagement_start[rep], state.engagement_drift[rep], weeks_on)
            e = np.where(alive, step_engagement(e, target, params, rng), e)
        value[idx] = total.reshape(-1, n_sims).mean(axis=1)
        p_order[idx] = bought.reshape(-1, n_sims).mean(axis=1)
    return value - ACTION_COST[action], p_order


def _prepare(
    shop_dir: str | Path, cutoff: str, horizon_days: int, n_sims: int
) -> tuple[np.datetime64, np.datetime64, ShopParams, CutoffState]:
    """Checked arguments, the shop's start and parameters, and the state after the cutoff day."""
    if horizon_days < 1 or n_sims < 1:
        raise GenerateError(f"horizon_days and n_sims must be positive, got {horizon_days} and {n_sims}")
    truth, meta = load_truth(shop_dir)
    start = np.datetime64(meta["start"], "D")
    try:
        cut = np.datetime64(cutoff, "D")
    except ValueError as err:
        raise GenerateError(f"cutoff must be a date like 2024-06-30, got {cutoff!r}") from err
    params = ShopParams(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["params"].items()})
    future = cut + np.timedelta64(1, "D")
    return start, future, params, state_at(truth, start, future)


def oracle(
    shop_dir: str | Path,
    cutoff: str,
    horizon_days: int = 365,
    n_sims: int = 200,
    seed: int = 0,
) -> pa.Table:
    """Per-customer oracle predictions for a cutoff and horizon.

    Parameters
    ----------
    shop_dir
        Folder written by ``generate_shop`` (reads ``ground_truth.parquet`` and ``shop.json``).
    cutoff
        Date ``YYYY-MM-DD``. As in the feature layer, the cutoff day itself is history: the state
        is taken at the end of that day and the window is the ``horizon_days`` days after it,
        (cutoff, cutoff + horizon_days].
    horizon_days
        Length of the window after the cutoff.
    n_sims, seed
        Number of simulated futures per active customer and their seed.

    Returns
    -------
    pyarrow.Table
        ``customer_id``, ``active`` (latent state at the cutoff), ``expected_value`` (expected
        net revenue in the window) and ``p_order`` (probability of at least one order in it),
        one row per customer acquired on or before the cutoff day.
    """
    start, future, params, state = _prepare(shop_dir, cutoff, horizon_days, n_sims)
    value, p_order = simulate_futures(state, start, future, horizon_days, params, n_sims, seed)
    return pa.table(
        {
            "customer_id": state.customer_id,
            "active": pa.array(state.active),
            "expected_value": pa.array(value),
            "p_order": pa.array(p_order),
        }
    )


def action_values(
    shop_dir: str | Path,
    cutoff: str,
    horizon_days: int = 365,
    n_sims: int = 200,
    seed: int = 0,
) -> pa.Table:
    """Each customer's expected net value under every campaign action sent the day after ``cutoff``.

    The counterfactuals of the sample shop's response model (``ingest.generator.actions``): for
    each action, the futures are simulated with that action sent to everyone at the decision date
    and no campaign after it, from the same seeds, so differences between actions carry little
    simulation noise. The oracle policy, which knows every customer's true response, picks the
    largest column.

    Parameters
    ----------
    shop_dir, cutoff, horizon_days, n_sims, seed
        As for ``oracle``: the decision date is the day after ``cutoff`` and the window is
        (cutoff, cutoff + horizon_days].

    Returns
    -------
    pyarrow.Table
        ``customer_id``, ``active`` and one column ``value_<action>`` per action: expected net
        revenue in the window minus the action's cost (customers who have left are worth minus
        the cost), one row per customer acquired on or before the cutoff day.
    """
    start, future, params, state = _prepare(shop_dir, cutoff, horizon_days, n_sims)
    columns = {"customer_id": state.customer_id, "active": pa.array(state.active)}
    for index, name in enumerate(ACTION_NAMES):
        value, _ = simulate_futures(state, start, future, horizon_days, params, n_sims, seed, action=index)
        columns[f"value_{name}"] = pa.array(value)
    return pa.table(columns)
