"""Dress simulated arrays as the shop's tables, in the canonical raw schema of ``ingest.schema``.

Ids are strings as a real shop exports them; customer ids in the large tables are dictionary
encoded, which keeps 50M event rows cheap to build and to write.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from duckdb_clv.ingest.generator.actions import ACTION_COST, ACTION_NAMES
from duckdb_clv.ingest.generator.params import (
    AGE_BANDS,
    CATEGORIES,
    CHANNELS,
    COUNTRIES,
    EVENT_TYPES,
    GENDERS,
    ShopSpec,
)
from duckdb_clv.ingest.generator.population import Population
from duckdb_clv.ingest.generator.simulate import Lives, Orders

# Numbering blocks per chunk keep ids unique without coordination between worker processes.
ORDERS_PER_CHUNK_BLOCK = 10**8
EVENTS_PER_CHUNK_BLOCK = 10**10
CURRENCY = "EUR"

FIRST_NAMES = (
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Elif",
    "Finn",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Kira",
    "Luca",
    "Mia",
    "Noah",
    "Olga",
    "Paul",
    "Rosa",
    "Sami",
    "Tara",
    "Yusuf",
)
LAST_NAMES = (
    "Adler",
    "Berg",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Horvat",
    "Ivanova",
    "Jansen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Novak",
    "Olsen",
    "Peters",
    "Rossi",
    "Schmidt",
)


def customer_ids(first: int, count: int, total: int) -> pa.Array:
    """Ids ``C0000001``... numbered in acquisition order across the whole shop."""
    width = max(7, len(str(total)))
    numbers = pa.array(np.arange(first + 1, first + count + 1)).cast(pa.string())
    return pc.binary_join_element_wise("C", pc.utf8_lpad(numbers, width, "0"), "")


def numbered(prefix: str, numbers: np.ndarray, width: int = 11) -> pa.Array:
    """String ids ``prefix`` + zero-padded number."""
    text = pc.utf8_lpad(pa.array(numbers).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, text, "")


def timestamps(spec: ShopSpec, days: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Float days since the start of the period as second-precision timestamps (null where masked)."""
    start_us = spec.start.astype("datetime64[us]").astype(np.int64)
    seconds = np.round(np.nan_to_num(np.asarray(days, dtype=np.float64)) * 86400.0)
    return pa.array(start_us + seconds.astype(np.int64) * 1_000_000, type=pa.timestamp("us"), mask=mask)


def labels(codes: np.ndarray, names: tuple[str, ...]) -> pa.DictionaryArray:
    """Categorical codes (negative for missing) as a dictionary-encoded string column."""
    mask = codes < 0
    idx = pa.array(np.where(mask, 0, codes).astype(np.int32), mask=mask)
    return pa.DictionaryArray.from_arrays(idx, pa.array(names, type=pa.string()))


def customers_table(spec: ShopSpec, pop: Population, ids: pa.Array, rng: np.random.Generator) -> pa.Table:
    """One row per customer with attributes and the personal data a real export carries."""
    n = len(pop)
    first = rng.integers(0, len(FIRST_NAMES), size=n)
    last = rng.integers(0, len(LAST_NAMES), size=n)
    first_names = pa.array(np.array(FIRST_NAMES)[first])
    last_names = pa.array(np.array(LAST_NAMES)[last])
    local = pc.utf8_lower(pc.binary_join_element_wise(first_names, last_names, "."))
    email = pc.binary_join_element_wise(local, pc.utf8_lower(ids), "")
    # People sign up shortly before (at most two hours before) their first order.
    signup = pop.acquired_day - rng.uniform(0, 2 / 24, size=n)
    return pa.table(
        {
            "customer_id": ids,
            "signup_at": timestamps(spec, signup),
            "name": pc.binary_join_element_wise(first_names, last_names, " "),
            "email": pc.binary_join_element_wise(email, "@example.com", ""),
            "country": labels(pop.country, tuple(c[0] for c in COUNTRIES)),
            "region": pa.array(np.array([c[1] for c in COUNTRIES])[pop.country]),
            "age_band": labels(pop.age_band, tuple(a[0] for a in AGE_BANDS)),
            "gender": labels(pop.gender, tuple(g[0] for g in GENDERS)),
            "acquisition_channel": labels(pop.channel, tuple(c[0] for c in CHANNELS)),
        }
    )


def orders_tables(
    spec: ShopSpec, chunk: int, ids: pa.Array, orders: Orders, items: dict, returns: dict
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Orders, order items and returns of a chunk."""
    number = chunk * ORDERS_PER_CHUNK_BLOCK + 1 + np.arange(orders.customer.size)
    order_ids = numbered("O", number)
    cust = pa.DictionaryArray.from_arrays(pa.array(orders.customer.astype(np.int32)), ids)
    orders_t = pa.table(
        {
            "order_id": order_ids,
            "customer_id": cust,
            "ordered_at": timestamps(spec, orders.day),
            "amount": pa.array(orders.amount),
            "discount": pa.array(orders.discount),
            "currency": pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(orders.customer.size, dtype=np.int32)), pa.array([CURRENCY])
            ),
        }
    )
    item_order_ids = order_ids.take(pa.array(items["order"]))
    product = items["product"]
    items_t = pa.table(
        {
            "order_item_id": pc.binary_join_element_wise(
                item_order_ids, pa.array(items["line"]).cast(pa.string()), "-"
            ),
            "order_id": item_order_ids,
            "product_id": numbered("P", product, width=5),
            "category": labels(items["category"], tuple(c[0] for c in CATEGORIES)),
            "quantity": pa.array(items["quantity"]),
            "unit_price": pa.array(items["unit_price"]),
        }
    )
    returns_t = pa.table(
        {
            "return_id": numbered("R", number[returns["order"]]),
            "order_id": order_ids.take(pa.array(returns["order"])),
            "returned_at": timestamps(spec, returns["day"]),
            "refund_amount": pa.array(returns["refund"]),
        }
    )
    return orders_t, items_t, returns_t


def events_table(spec: ShopSpec, chunk: int, ids: pa.Array, events: dict) -> pa.Table:
    """Behaviour events of a chunk: one row per event, grouped in sessions."""
    n = events["customer"].size
    review = events["type"] == EVENT_TYPES.index("review")
    return pa.table(
        {
            "event_id": pa.array(chunk * EVENTS_PER_CHUNK_BLOCK + 1 + np.arange(n)),
            "session_id": pa.array(chunk * EVENTS_PER_CHUNK_BLOCK + 1 + events["session"]),
            "customer_id": pa.DictionaryArray.from_arrays(pa.array(events["customer"].astype(np.int32)), ids),
            "event_at": timestamps(spec, events["day"]),
            "event_type": labels(events["type"], EVENT_TYPES),
            "category": labels(events["category"], tuple(c[0] for c in CATEGORIES)),
            "dwell_seconds": pa.array(events["dwell"], mask=np.isnan(events["dwell"])),
            "rating": pa.array(events["rating"], mask=~review),
        }
    )


def ground_truth_table(
    spec: ShopSpec, pop: Population, ids: pa.Array, lives: Lives, dropout_day: np.ndarray
) -> pa.Table:
    """Each customer's latent traits, realised dropout and weekly engagement path.

    ``engagement`` holds one value per simulation week from ``engagement_week0`` (the
    acquisition week) to the dropout week, or to the last week for customers still active.
    """
    active = ~np.isnan(lives.engagement)
    values = lives.engagement[active]
    offsets = np.concatenate([[0], np.cumsum(active.sum(axis=1))]).astype(np.int32)
    gone = ~np.isnan(dropout_day)
    cause = np.array(["", "after_purchase", "disengaged"])[lives.dropout_cause]
    return pa.table(
        {
            "customer_id": ids,
            "acquired_at": timestamps(spec, pop.acquired_day),
            "purchase_rate": pa.array(pop.rate),
            "dropout_p": pa.array(pop.dropout_p),
            "spend_rate": pa.array(pop.spend_rate),
            "mean_order_value": pa.array(spec.params.spend_shape / pop.spend_rate),
            "return_propensity": pa.array(pop.return_propensity),
            "session_rate": pa.array(pop.session_rate),
            "engagement_start": pa.array(pop.engagement_start),
            "engagement_drift": pa.array(pop.engagement_drift),
            "deal_sensitivity": pa.array(pop.deal_sensitivity),
            "dropout_at": timestamps(spec, dropout_day, mask=~gone),
            "dropout_cause": pa.array(cause, mask=~gone),
            "engagement_week0": pa.array((pop.acquired_day // 7).astype(np.int32)),
            "engagement": pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, type=pa.float32())),
        }
    )


def campaigns_table(spec: ShopSpec, chunk: int, ids: pa.Array, lives: Lives) -> pa.Table:
    """The campaigns sent to a chunk's customers: one row per customer and send, by date then customer.

    A campaign is one action on one decision date (``2024-03-coupon_10``); it goes out at 09:00 on
    the first of the month, and the cost is what the shop pays per customer sent.
    """
    order = np.lexsort((lives.campaign_customer, lives.campaign_decision))
    who, day, act = lives.campaign_customer[order], lives.campaign_decision[order], lives.campaign_action[order]
    number = chunk * ORDERS_PER_CHUNK_BLOCK + 1 + np.arange(who.size)
    month = (spec.start + day.astype("timedelta64[D]")).astype("datetime64[M]").astype(str)
    names = np.array(ACTION_NAMES)[act]
    campaign = np.char.add(np.char.add(month.astype("U7"), "-"), names.astype("U16")) if who.size else month
    return pa.table(
        {
            "treatment_id": numbered("T", number),
            "campaign_id": pa.array(campaign, type=pa.string()),
            "customer_id": pa.DictionaryArray.from_arrays(pa.array(who.astype(np.int32)), ids),
            "sent_at": timestamps(spec, day + 9 / 24),
            "action": labels(act.astype(np.int8), ACTION_NAMES),
            "cost": pa.array(np.round(ACTION_COST[act], 2)),
        }
    )
