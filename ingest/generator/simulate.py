"""Simulate a chunk of customers week by week and expand the outcome into shop records.

The weekly loop (``ingest.generator.dynamics``) decides how many purchases each customer makes,
when it leaves and how engaged it is; the expansion functions here place those purchases and
browsing sessions in time and dress them as orders, order items, returns and events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from duckdb_clv.ingest.generator.actions import (
    decision_days,
    effect_week,
    engagement_change,
    logging_policy,
    response,
)
from duckdb_clv.ingest.generator.dynamics import (
    engagement_target,
    purchase_dropout_probability,
    step_engagement,
    step_week,
)
from duckdb_clv.ingest.generator.params import (
    CATEGORIES,
    DISCOUNT_LEVELS,
    EVENT_TYPES,
    ShopSpec,
    day_season,
    discount_probability,
    week_season,
    weights,
)
from duckdb_clv.ingest.generator.population import Population, sample_hours

CAUSE_NONE, CAUSE_AFTER_PURCHASE, CAUSE_DISENGAGED = 0, 1, 2
# Engagement assumed for the rare visits of customers who have already left.
DEAD_ENGAGEMENT = -1.0
# Order of event types inside a session: land, search, look, save, add to cart, check out.
SESSION_ORDER = np.array(
    [
        EVENT_TYPES.index(t)
        for t in ("page_view", "search", "product_view", "wishlist_add", "add_to_cart", "checkout_start")
    ]
)


@dataclass
class Lives:
    """Outcome of the weekly loop for one chunk."""

    purchase_customer: np.ndarray  # customer of each purchase after the first one
    purchase_week: np.ndarray
    purchase_action: np.ndarray  # int8: the campaign action in force when it was made (0: none)
    session_customer: np.ndarray  # customer of each browsing session
    session_week: np.ndarray
    session_engagement: np.ndarray
    dropout_week: np.ndarray  # -1 while still active at the end
    dropout_cause: np.ndarray
    engagement: np.ndarray  # (customers, weeks) float32, NaN outside the active life
    campaign_customer: np.ndarray  # customer of each campaign sent
    campaign_decision: np.ndarray  # its decision date, as days since the start
    campaign_action: np.ndarray  # int8 index into ACTIONS (never 0: "none" is not sent)


@dataclass
class Orders:
    """Orders of a chunk, sorted by customer and time; amounts in the shop currency."""

    customer: np.ndarray
    day: np.ndarray  # float days since start
    amount: np.ndarray
    discount: np.ndarray
    main_category: np.ndarray
    action: np.ndarray  # int8 campaign action in force when it was made (0: none)


def simulate_lives(
    spec: ShopSpec, pop: Population, rng: np.random.Generator, campaign_rng: np.random.Generator | None = None
) -> Lives:
    """Run the weekly loop: purchases after the first, browsing sessions, dropout, engagement.

    With campaigns (``ShopParams.campaign_start``), the shop's logging policy picks an action per
    customer at every monthly decision date, drawing from ``campaign_rng`` so the main stream
    stays as it is; the action's response applies from the first week starting on or after it.
    """
    p = spec.params
    n, n_weeks, n_days = len(pop), spec.weeks, spec.days
    season = week_season(spec.start, n_weeks, p)
    acq_week = (pop.acquired_day // 7).astype(np.int64)
    alive = np.zeros(n, dtype=bool)
    acquired = np.zeros(n, dtype=bool)
    e = np.zeros(n)
    dropout_week = np.full(n, -1, dtype=np.int64)
    cause = np.full(n, CAUSE_NONE, dtype=np.int8)
    path = np.full((n, n_weeks), np.nan, dtype=np.float32)
    buys: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    visits: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    campaigns = _Campaigns(spec, n, campaign_rng)

    for w in range(n_weeks):
        week_start, week_end = 7 * w, min(7 * w + 7, n_days)
        new = np.flatnonzero(acq_week == w)
        alive[new] = True
        acquired[new] = True
        e[new] = pop.engagement_start[new]
        campaigns.last_order[new] = w
        e = campaigns.decide(w, pop, alive, e)
        active_now = alive.copy()  # active at some point this week
        path[active_now, w] = e[active_now]
        # The first order happens at acquisition; the customer may leave right after it.
        first_q = purchase_dropout_probability(pop.dropout_p[new], e[new], p)
        gone = new[rng.random(new.size) < first_q]
        alive[gone] = False
        dropout_week[gone] = w
        cause[gone] = CAUSE_AFTER_PURCHASE

        exposure = np.full(n, float(week_end - week_start))
        exposure[new] = np.maximum(week_end - pop.acquired_day[new], 0.0)
        action = campaigns.in_force(w)
        resp = response(action, pop.deal_sensitivity) if campaigns.on else None
        out = step_week(pop.rate, pop.dropout_p, e, alive, exposure, season[w], p, rng, resp)
        who = np.flatnonzero(out.purchases)
        counts = out.purchases[who]
        buys.append((np.repeat(who, counts), np.full(counts.sum(), w), np.repeat(action[who], counts)))
        campaigns.bought(w, who)

        # Browsing: active customers at their engagement, departed ones at a residual rate.
        rate = np.where(active_now, pop.session_rate * np.exp(e), pop.session_rate * p.residual_session_share)
        count = rng.poisson(rate * exposure / 7.0) * acquired
        who = np.flatnonzero(count)
        eng = np.where(active_now[who], e[who], DEAD_ENGAGEMENT)
        visits.append((np.repeat(who, count[who]), np.full(count[who].sum(), w), np.repeat(eng, count[who])))

        left = out.dropped_after_purchase | out.dropped_disengaged
        dropout_week[left] = w
        cause[out.dropped_after_purchase] = CAUSE_AFTER_PURCHASE
        cause[out.dropped_disengaged] = CAUSE_DISENGAGED
        alive &= ~left
        target = engagement_target(pop.engagement_start, pop.engagement_drift, w + 1 - acq_week)
        e = np.where(alive, step_engagement(e, target, p, rng), e)

    sent = campaigns.sent()
    return Lives(
        purchase_customer=np.concatenate([b[0] for b in buys]),
        purchase_week=np.concatenate([b[1] for b in buys]),
        purchase_action=np.concatenate([b[2] for b in buys]).astype(np.int8),
        session_customer=np.concatenate([v[0] for v in visits]),
        session_week=np.concatenate([v[1] for v in visits]),
        session_engagement=np.concatenate([v[2] for v in visits]),
        dropout_week=dropout_week,
        dropout_cause=cause,
        engagement=path,
        campaign_customer=sent[0],
        campaign_decision=sent[1],
        campaign_action=sent[2],
    )


class _Campaigns:
    """The shop's monthly campaign decisions inside the weekly loop, and the windows in force.

    The win-back rule reads the last order as of the end of the last week that lies wholly
    before the decision date: a purchase placed after the date must not steer the decision.
    """

    def __init__(self, spec: ShopSpec, n: int, rng: np.random.Generator | None) -> None:
        self.params, self.rng = spec.params, rng
        self.days = decision_days(spec.start, spec.days, spec.params)
        self.on = self.days.size > 0
        if self.on and rng is None:
            raise ValueError("a shop with campaigns needs a campaign random stream")
        self.at_week = {effect_week(int(d)): i for i, d in enumerate(self.days)}
        self.snap_week = {int(d) // 7 - 1: i for i, d in enumerate(self.days)}
        self.last_order = np.full(n, -(10**6), dtype=np.int64)
        self.snapshots: dict[int, np.ndarray] = {}
        if -1 in self.snap_week:
            self.snapshots[self.snap_week[-1]] = self.last_order.copy()
        self.action = np.zeros(n, dtype=np.int8)
        self.until = np.zeros(n, dtype=np.int64)
        self.rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def decide(self, week: int, pop: Population, alive: np.ndarray, engagement: np.ndarray) -> np.ndarray:
        """Send this week's decisions, if a decision takes effect now; returns the new engagement."""
        i = self.at_week.get(week)
        if i is None:
            return engagement
        day = int(self.days[i])
        eligible = np.flatnonzero(pop.acquired_day < day)
        since = day // 7 - self.snapshots.pop(i)[eligible]
        chosen = logging_policy(since, self.params, self.rng)  # type: ignore[arg-type]
        sent = chosen > 0
        who, what = eligible[sent], chosen[sent]
        self.rows.append((who, np.full(who.size, day, dtype=np.int64), what))
        self.action[who] = what
        self.until[who] = week + self.params.campaign_window_weeks
        # Customers who have left never read it: the campaign costs, but changes nothing.
        live = who[alive[who]]
        engagement = engagement.copy()
        engagement[live] += engagement_change(self.action[live], engagement[live], self.params)
        return engagement

    def in_force(self, week: int) -> np.ndarray:
        """The action whose window covers ``week``, per customer (0: none)."""
        if not self.on:
            return self.action
        return np.where(self.until > week, self.action, 0).astype(np.int8)

    def bought(self, week: int, who: np.ndarray) -> None:
        """Note this week's purchases; snapshot the last orders a coming decision will read."""
        self.last_order[who] = week
        i = self.snap_week.get(week)
        if i is not None:
            self.snapshots[i] = self.last_order.copy()

    def sent(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Customer, decision day and action of every campaign sent."""
        if not self.rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int8)
        return tuple(np.concatenate([r[k] for r in self.rows]) for k in range(3))  # type: ignore[return-value]


def place_in_weeks(spec: ShopSpec, week: np.ndarray, not_before: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Times (float days) inside the given weeks, following the weekday and month demand curve.

    Where ``not_before`` falls inside the week (the acquisition week) the time is drawn
    uniformly between it and the end of the week instead.
    """
    n_days = spec.days
    demand = day_season(spec.start, spec.weeks * 7, spec.params.seasonal)
    demand[n_days:] = 0.0
    cdf = np.cumsum(demand.reshape(spec.weeks, 7), axis=1)
    cdf /= cdf[:, -1:]
    u = rng.random(week.size)
    offset = (u[:, None] > cdf[week]).sum(axis=1)
    t = 7 * week + offset + sample_hours(rng, week.size)
    week_end = np.minimum(7 * week + 7, n_days)
    late = not_before > 7 * week
    t[late] = not_before[late] + rng.random(late.sum()) * (week_end[late] - not_before[late])
    return np.minimum(t, n_days - 1e-6)


def make_orders(spec: ShopSpec, pop: Population, lives: Lives, rng: np.random.Generator) -> tuple[Orders, dict]:
    """Place purchases in time and price them; returns orders plus their items as arrays."""
    p = spec.params
    later_day = place_in_weeks(spec, lives.purchase_week, pop.acquired_day[lives.purchase_customer], rng)
    customer = np.concatenate([np.arange(len(pop)), lives.purchase_customer])
    day = np.concatenate([pop.acquired_day, later_day])
    action = np.concatenate([np.zeros(len(pop), dtype=np.int8), lives.purchase_action])
    order = np.lexsort((day, customer))
    customer, day, action = customer[order], day[order], action[order]
    n = customer.size
    campaigned = bool(action.any())
    resp = response(action, pop.deal_sensitivity[customer]) if campaigned else None

    gross = rng.gamma(p.spend_shape, 1.0 / pop.spend_rate[customer])
    if resp is not None:
        gross = gross * resp.spend
    n_items = 1 + rng.poisson(p.extra_items_mean, size=n)
    item_order = np.repeat(np.arange(n), n_items)
    fav = rng.random(item_order.size) < p.favourite_category_share
    category = np.where(
        fav,
        pop.favourite_category[customer[item_order]],
        rng.choice(len(CATEGORIES), size=item_order.size, p=weights(CATEGORIES)),
    ).astype(np.int8)
    share = rng.gamma(1.0, size=item_order.size)
    share /= np.bincount(item_order, weights=share, minlength=n)[item_order]
    quantity = 1 + (rng.random(item_order.size) < 0.12) * (1 + rng.poisson(0.3, size=item_order.size))
    unit_price = np.maximum(np.round(gross[item_order] * share / quantity, 2), 0.5)
    product = category.astype(np.int64) * 1000 + rng.integers(0, 400, size=item_order.size)
    gross = np.bincount(item_order, weights=unit_price * quantity, minlength=n)

    discounted = rng.random(n) < discount_probability(day, spec.start, p)
    depth = np.where(discounted, rng.choice(DISCOUNT_LEVELS, size=n), 0.0)
    if resp is not None:
        # A coupon code does not stack with the shop's own discounts (all at least as deep).
        depth = np.maximum(depth, resp.min_discount)
    amount = np.round(gross * (1.0 - depth), 2)
    discount = np.round(gross - amount, 2)
    first_item = np.concatenate([[0], np.cumsum(n_items)[:-1]])
    orders = Orders(customer, day, amount, discount, category[first_item], action)
    items = {
        "order": item_order,
        "line": np.arange(item_order.size) - first_item[item_order] + 1,
        "category": category,
        "product": product,
        "quantity": quantity.astype(np.int32),
        "unit_price": unit_price,
    }
    return orders, items


def make_returns(spec: ShopSpec, pop: Population, orders: Orders, rng: np.random.Generator) -> dict:
    """Returns and refunds of a fraction of orders; those refunded after the period are unseen."""
    p = spec.params
    n = orders.customer.size
    returned = rng.random(n) < pop.return_propensity[orders.customer]
    full = rng.random(n) < p.full_refund_share
    fraction = np.where(full, 1.0, rng.uniform(0.2, 0.8, size=n))
    lo, hi = p.return_delay_days
    when = orders.day + rng.uniform(lo, hi, size=n)
    keep = returned & (when < spec.days)
    return {
        "order": np.flatnonzero(keep),
        "day": when[keep],
        "refund": np.round(orders.amount[keep] * fraction[keep], 2),
    }


def session_event_counts(engagement: np.ndarray, purchase: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Events of each type (columns in ``SESSION_ORDER``) in each session."""
    n = engagement.size
    lift = np.exp(0.3 * engagement)
    pages = 1 + rng.poisson(1.6 * lift)
    searches = (rng.random(n) < 0.4) * (1 + rng.poisson(0.4, size=n))
    products = rng.poisson(1.4 * lift) + purchase
    wishlist = (rng.random(n) < 0.06 * lift).astype(np.int64)
    carts = np.where(purchase, 1, rng.random(n) < 0.2 * lift).astype(np.int64)
    # Abandoned checkouts: some carts reach checkout without an order.
    checkouts = np.where(purchase, 1, carts * (rng.random(n) < 0.25)).astype(np.int64)
    return np.stack([pages, searches, products, wishlist, carts, checkouts], axis=1)


def make_events(spec: ShopSpec, pop: Population, lives: Lives, orders: Orders, rng: np.random.Generator) -> dict:
    """Browsing sessions, the sessions that end in an order, and reviews, as event rows."""
    p = spec.params
    browse_day = place_in_weeks(spec, lives.session_week, pop.acquired_day[lives.session_customer], rng)
    order_week = (orders.day // 7).astype(np.int64)
    order_eng = lives.engagement[orders.customer, np.minimum(order_week, spec.weeks - 1)]
    order_eng = np.nan_to_num(order_eng, nan=0.0)
    s_customer = np.concatenate([lives.session_customer, orders.customer])
    s_engagement = np.concatenate([lives.session_engagement, order_eng])
    s_purchase = np.concatenate(
        [np.zeros(lives.session_customer.size, dtype=np.int64), np.ones(orders.customer.size, dtype=np.int64)]
    )
    counts = session_event_counts(s_engagement, s_purchase, rng)

    per_session = counts.sum(axis=1)
    session = np.repeat(np.arange(s_customer.size), per_session)
    etype = np.repeat(np.tile(SESSION_ORDER, s_customer.size), counts.ravel())
    is_page = etype == EVENT_TYPES.index("page_view")
    is_product = etype == EVENT_TYPES.index("product_view")
    lift = np.exp(0.2 * s_engagement[session])
    dwell = np.where(
        is_page,
        rng.lognormal(3.3, 0.8, size=session.size) * lift,
        np.where(is_product, rng.lognormal(3.7, 0.7, size=session.size) * lift, rng.uniform(3, 20, size=session.size)),
    )
    starts = np.concatenate([[0], np.cumsum(per_session)[:-1]])
    elapsed = np.cumsum(dwell) - dwell
    elapsed -= elapsed[starts][session]  # seconds since the session began
    duration = np.bincount(session, weights=dwell, minlength=s_customer.size)
    # Purchase sessions end at the order; browsing sessions start at their drawn time.
    s_start = np.concatenate([browse_day, orders.day - (duration[lives.session_customer.size :] + 30) / 86400.0])
    s_start = np.maximum(s_start, pop.acquired_day[s_customer] - 600 / 86400.0)
    day = s_start[session] + elapsed / 86400.0
    with_category = np.isin(etype, [EVENT_TYPES.index(t) for t in ("product_view", "add_to_cart", "wishlist_add")])
    fav = rng.random(session.size) < p.favourite_category_share
    category = np.where(
        fav,
        pop.favourite_category[s_customer[session]],
        rng.choice(len(CATEGORIES), size=session.size, p=weights(CATEGORIES)),
    )
    category = np.where(with_category, category, -1).astype(np.int8)
    has_dwell = is_page | is_product

    # Reviews a few days after some orders, in a short session of their own.
    reviewed = np.flatnonzero(rng.random(orders.customer.size) < p.review_share)
    r_day = orders.day[reviewed] + rng.uniform(3, 20, size=reviewed.size)
    r_eng = order_eng[reviewed]
    rating = np.clip(np.round(3.9 + 0.6 * r_eng + rng.normal(0, 0.9, size=reviewed.size)), 1, 5)
    n_sessions = s_customer.size

    customer = np.concatenate([s_customer[session], orders.customer[reviewed]])
    out = {
        "customer": customer,
        "session": np.concatenate([session, n_sessions + np.arange(reviewed.size)]),
        "day": np.concatenate([day, r_day]),
        "type": np.concatenate([etype, np.full(reviewed.size, EVENT_TYPES.index("review"))]).astype(np.int8),
        "category": np.concatenate([category, orders.main_category[reviewed]]),
        "dwell": np.concatenate(
            [np.where(has_dwell, np.round(dwell, 1), np.nan), np.full(reviewed.size, np.nan)]
        ).astype(np.float32),
        "rating": np.concatenate([np.zeros(session.size), rating]).astype(np.int8),
    }
    keep = out["day"] < spec.days
    order = np.lexsort((out["day"][keep], out["customer"][keep]))
    return {k: v[keep][order] for k, v in out.items()}


def dropout_days(pop: Population, lives: Lives, orders: Orders) -> np.ndarray:
    """When each customer left (float days), NaN for those still active at the end.

    A purchase-triggered dropout happens right after the customer's last order; a disengaged
    customer leaves at the end of the week it was drawn in.
    """
    last_order = np.full(len(pop), -np.inf)
    np.maximum.at(last_order, orders.customer, orders.day)
    out = np.full(len(pop), np.nan)
    after = lives.dropout_cause == CAUSE_AFTER_PURCHASE
    out[after] = last_order[after]
    quiet = lives.dropout_cause == CAUSE_DISENGAGED
    out[quiet] = 7.0 * (lives.dropout_week[quiet] + 1)
    return out
