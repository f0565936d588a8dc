"""Readable names for k-means segments, from each segment's profile by fixed rules.

A segment's profile is the mean of its customers' standardized features (log-transformed, then
centred and scaled over all customers, so 0 is the average customer and 1 one standard deviation
above). Five traits are read from it, each the mean of its features' standardized values:

========== ===================================================== ==============================
trait      features                                              high means
========== ===================================================== ==============================
recency    ``days_since_last_order`` (sign flipped)               bought recently
frequency  ``order_count``, ``orders_365d``                       buys often
spend      ``total_value_net``, ``mean_value_net``, ``value_365d`` spends a lot
tenure     ``tenure_days``                                        a long-standing customer
browsing   ``sessions_90d``, ``product_views_90d``,               browses a lot
           ``add_to_carts_90d``
========== ===================================================== ==============================

A trait is *high* above ``+HIGH`` and *low* below ``-HIGH``. The first rule that matches names the
segment (docs/SCORING.md lists them):

1. recency low, spend high: "lapsing big spenders"
2. recency low: "lapsed occasional buyers"
3. frequency high, spend high: "loyal high spenders"
4. frequency high: "loyal frequent buyers"
5. tenure low, browsing high: "new and browsing"
6. tenure low: "new customers"
7. spend high: "occasional big spenders"
8. browsing high: "active browsers"
9. frequency low, spend low: "one-off small buyers"
10. otherwise: "steady regulars"

Two segments given the same name are told apart by spend: "(higher spend)" and "(lower spend)",
or "(spend rank 1)", "(spend rank 2)", ... for three or more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

HIGH = 0.5
TRAITS: dict[str, tuple[tuple[str, ...], float]] = {
    # trait: (features, sign)
    "recency": (("days_since_last_order",), -1.0),
    "frequency": (("order_count", "orders_365d"), 1.0),
    "spend": (("total_value_net", "mean_value_net", "value_365d"), 1.0),
    "tenure": (("tenure_days",), 1.0),
    "browsing": (("sessions_90d", "product_views_90d", "add_to_carts_90d"), 1.0),
}
# (condition on the trait levels, name); levels are "high", "low" or "mid".
RULES: tuple[tuple[dict[str, str], str], ...] = (
    ({"recency": "low", "spend": "high"}, "lapsing big spenders"),
    ({"recency": "low"}, "lapsed occasional buyers"),
    ({"frequency": "high", "spend": "high"}, "loyal high spenders"),
    ({"frequency": "high"}, "loyal frequent buyers"),
    ({"tenure": "low", "browsing": "high"}, "new and browsing"),
    ({"tenure": "low"}, "new customers"),
    ({"spend": "high"}, "occasional big spenders"),
    ({"browsing": "high"}, "active browsers"),
    ({"frequency": "low", "spend": "low"}, "one-off small buyers"),
    ({}, "steady regulars"),
)


def traits(standardized_mean: Mapping[str, float]) -> dict[str, float]:
    """The five traits of one segment from the mean of its standardized features."""
    return {
        trait: sign * sum(standardized_mean[f] for f in features) / len(features)
        for trait, (features, sign) in TRAITS.items()
    }


def level(value: float) -> str:
    """'high', 'low' or 'mid' for a trait's value."""
    return "high" if value > HIGH else "low" if value < -HIGH else "mid"


def name_of(segment_traits: Mapping[str, float]) -> str:
    """The first rule's name that the segment's trait levels satisfy."""
    levels = {t: level(v) for t, v in segment_traits.items()}
    for condition, name in RULES:
        if all(levels[t] == want for t, want in condition.items()):
            return name
    raise AssertionError("the last rule matches every segment")  # pragma: no cover


def segment_names(standardized_means: Sequence[Mapping[str, float]]) -> list[str]:
    """One distinct name per segment (in the order given), duplicates told apart by spend."""
    all_traits = [traits(m) for m in standardized_means]
    names = [name_of(t) for t in all_traits]
    out = list(names)
    for name in set(names):
        same = [i for i, n in enumerate(names) if n == name]
        if len(same) < 2:
            continue
        by_spend = sorted(same, key=lambda i: -all_traits[i]["spend"])
        if len(same) == 2:
            out[by_spend[0]], out[by_spend[1]] = f"{name} (higher spend)", f"{name} (lower spend)"
        else:
            for rank, i in enumerate(by_spend, start=1):
                out[i] = f"{name} (spend rank {rank})"
    return out
