"""Unusual shops: named shapes of the sample shop that real files take and the defaults do not.

Each scenario changes a few parameters of the documented model (and, where the shape is about
size or time, the number of customers or the period), so the same simulator, oracle and loader
serve it. ``clv generate --scenario NAME`` writes one; ``tests/e2e/test_unusual_shops.py`` runs
the whole pipeline on each unusual shape, and ``docs/RELIABILITY.md`` records which shapes score
and which stop. The shift scenarios (``steady``, ``closed-cohort``, ``slowing``, ``shock``,
``acquisition-drop``) change the customer base over time, for backtests and drift monitoring.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from duckdb_clv.ingest.errors import GenerateError
from duckdb_clv.ingest.generator.params import ShopParams


@dataclass(frozen=True)
class Scenario:
    """A named shop shape: parameter changes plus, optionally, its own size and period."""

    name: str
    description: str
    params: dict[str, float | int | str] = field(default_factory=dict)
    customers: int | None = None
    start: str | None = None
    end: str | None = None

    def shop_params(self, base: ShopParams | None = None) -> ShopParams:
        """``base`` (the documented defaults) with this scenario's changes."""
        return replace(base or ShopParams(), **self.params)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "wholesale",
            "trade buyers: orders of about 1,000 to 200,000 with a heavy tail across customers",
            # Order values vary little within a customer (shape 4) and a lot between customers
            # (q 2.2: an inverse-gamma tail of customer means); the median order is about 5,000.
            {"spend_shape": 4.0, "spend_q": 2.2, "spend_gamma": 2_800.0},
        ),
        Scenario(
            "frequent",
            "very frequent buyers: several orders a week, and they rarely leave",
            # Mean 0.5 orders a day; a 1-in-300 chance of leaving after each order keeps them a year or more.
            {"rate_shape_r": 3.0, "rate_scale": 0.5 / 3.0, "dropout_a": 1.0, "dropout_b": 300.0},
            start="2024-01-01",
        ),
        Scenario(
            "one_time",
            "nearly everyone buys once: most customers leave after their first order",
            {"dropout_a": 30.0, "dropout_b": 1.0},
        ),
        Scenario("tiny", "a tiny shop of 200 customers", customers=200),
        Scenario("short", "a whole history of 13 months", start="2024-12-01", end="2025-12-31"),
        Scenario("one_week", "every customer acquired in the same week", {"acquisition_window_days": 7}),
        Scenario(
            "large_units",
            "amounts in a currency with large units: orders around 10 million",
            # The mean order value is spend_shape * spend_gamma / (spend_q - 1): spend_gamma itself here.
            {"spend_gamma": 10_000_000.0},
        ),
        # Shifts in the customer base, for backtests (#14): the same customers and spend as the
        # documented shop, with acquisition or purchasing changing over time.
        Scenario("steady", "the documented shop: cohorts growing 45 % a year, no shock"),
        Scenario(
            "closed-cohort",
            "every customer acquired in the first four months, then none: the base only ages",
            {"acquisition_window_days": 120},
        ),
        Scenario(
            "slowing",
            "acquisition falls steadily: each year brings 60 % fewer new customers than the last",
            {"cohort_growth_per_year": -0.6},
        ),
        Scenario(
            "acquisition-drop",
            "new customers fall to a third from 2024-06-01 (a budget cut), the customers already won unchanged",
            {"acquisition_change_start": "2024-06-01", "acquisition_change_factor": 1 / 3},
        ),
        Scenario(
            "shock",
            "purchase rates of everyone halve for 13 weeks from 2024-06-01, then recover to 80 %",
            {"shock_start": "2024-06-01", "shock_weeks": 13, "shock_depth": 0.5, "shock_recovery": 0.8},
        ),
    )
}


def scenario(name: str) -> Scenario:
    """The scenario called ``name``, or a GenerateError listing the known ones."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise GenerateError(f"--scenario must be one of {sorted(SCENARIOS)}, got {name!r}") from None
