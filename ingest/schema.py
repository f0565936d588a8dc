"""The canonical raw schema: the tables ``clv load`` writes into DuckDB schema ``raw``.

Every table has a key (derived from the row's content when a file has no id column), typed
columns, and foreign keys to the tables loaded before it. The generator writes exactly these
columns; a user's files are mapped onto them (``ingest.mapping``).
"""

from __future__ import annotations

from dataclasses import dataclass

# Column kinds (the keys) drive parsing and validation: ids are trimmed (and case-folded),
# timestamps and amounts accept several text formats, categories are lower-cased.
SQL_TYPES = {
    "id": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "amount": "DOUBLE",
    "integer": "BIGINT",
    "number": "DOUBLE",
    "text": "VARCHAR",
    "category": "VARCHAR",
}


@dataclass(frozen=True)
class Column:
    """One canonical column."""

    name: str
    kind: str
    required: bool = False
    pii: bool = False
    # For categories: the allowed values (None: any value).
    accepted: tuple[str, ...] | None = None
    # For integers and numbers: inclusive bounds (None: unbounded).
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class TableSpec:
    """One canonical table: its key, columns and parents (column -> parent table)."""

    name: str
    key: str
    columns: tuple[Column, ...]
    parents: tuple[tuple[str, str], ...] = ()

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        """Column names in order."""
        return [c.name for c in self.columns]


EVENT_TYPES = ("page_view", "product_view", "search", "add_to_cart", "checkout_start", "wishlist_add", "review")

TABLES: dict[str, TableSpec] = {
    "customers": TableSpec(
        "customers",
        key="customer_id",
        columns=(
            Column("customer_id", "id", required=True),
            Column("signup_at", "timestamp"),
            Column("country", "text"),
            Column("region", "text"),
            Column("age_band", "text"),
            Column("gender", "category"),
            Column("acquisition_channel", "category"),
            Column("name", "text", pii=True),
            Column("email", "text", pii=True),
            Column("phone", "text", pii=True),
            Column("address", "text", pii=True),
        ),
    ),
    "orders": TableSpec(
        "orders",
        key="order_id",
        columns=(
            Column("order_id", "id"),
            Column("customer_id", "id", required=True),
            Column("ordered_at", "timestamp", required=True),
            Column("amount", "amount", required=True),
            Column("discount", "amount"),
            Column("currency", "text"),
        ),
        parents=(("customer_id", "customers"),),
    ),
    "order_items": TableSpec(
        "order_items",
        key="order_item_id",
        columns=(
            Column("order_item_id", "id"),
            Column("order_id", "id", required=True),
            Column("product_id", "id"),
            Column("category", "category"),
            Column("quantity", "integer", low=1),
            Column("unit_price", "amount", required=True),
        ),
        parents=(("order_id", "orders"),),
    ),
    "returns": TableSpec(
        "returns",
        key="return_id",
        columns=(
            Column("return_id", "id"),
            Column("order_id", "id", required=True),
            Column("returned_at", "timestamp", required=True),
            Column("refund_amount", "amount", required=True),
        ),
        parents=(("order_id", "orders"),),
    ),
    "events": TableSpec(
        "events",
        key="event_id",
        columns=(
            Column("event_id", "id"),
            Column("session_id", "id"),
            Column("customer_id", "id", required=True),
            Column("event_at", "timestamp", required=True),
            Column("event_type", "category", required=True, accepted=EVENT_TYPES),
            Column("category", "category"),
            Column("dwell_seconds", "number", low=0),
            Column("rating", "integer", low=1, high=5),
        ),
        parents=(("customer_id", "customers"),),
    ),
    "campaigns": TableSpec(
        "campaigns",
        key="treatment_id",
        columns=(
            Column("treatment_id", "id"),
            Column("campaign_id", "id"),
            Column("customer_id", "id", required=True),
            Column("sent_at", "timestamp", required=True),
            # Your own action names (lower-cased); "none" is what every customer not sent gets.
            Column("action", "category", required=True),
            Column("cost", "amount"),
        ),
        parents=(("customer_id", "customers"),),
    ),
}
# Load order: parents before children.
LOAD_ORDER = ("customers", "orders", "order_items", "returns", "events", "campaigns")
