-- One row per customer per cutoff being built, for customers with a purchase on or before it:
-- the BTYD summary (Fader-Hardie, purchase days as the unit) and the RFM inputs.
--
-- Everything here accumulates over time, so instead of joining every order to every later cutoff,
-- purchase days and refunds are put in the bucket of the first cutoff on or after them (ASOF) and
-- summed per customer and bucket. A customer's row at a cutoff sums its few buckets up to that
-- cutoff (bucket_running_sums). A customer has a row at every cutoff from its first bucket on,
-- which is exactly when it has bought by the cutoff. Work grows with the data, not with
-- data x cutoffs (tests/dbt checks it against a plain-Python computation).
with cutoffs as (
    select * from {{ ref('int_cutoffs_to_build') }}
),

order_days as (
    select * from {{ ref('int_order_days') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

returns as (
    select * from {{ ref('stg_shop__returns') }}
),

calendar_bounds as (
    select
        (select min(first_day.ordered_on) from order_days as first_day) as first_day,
        (select max(last_cutoff.cutoff_date) from cutoffs as last_cutoff) as last_day
),

calendar_days as (
    -- Every day from the first purchase to the last cutoff (a few thousand rows at most).
    select {{ day_sequence('first_day', 'last_day') }} as day
    from calendar_bounds
),

calendar as (
    -- Each day with its bucket: a small table, so assigning buckets to millions of purchase
    -- days is a hash join rather than an ASOF join over all of them.
    select
        calendar_days.day,
        min(cutoffs.cutoff_date) as bucket
    from calendar_days
    inner join cutoffs on calendar_days.day <= cutoffs.cutoff_date
    group by calendar_days.day
),

day_buckets as (
    select
        order_days.customer_id,
        calendar.bucket,
        count(*) as purchase_days,
        sum(order_days.day_orders) as orders,
        sum(order_days.day_amount) as amount,
        min(order_days.ordered_on) as first_purchase_on,
        max(order_days.ordered_on) as last_purchase_on,
        min_by(order_days.day_amount, order_days.ordered_on) as first_day_amount
    from order_days
    inner join calendar on order_days.ordered_on = calendar.day
    group by order_days.customer_id, calendar.bucket
),

refund_steps as (
    -- Each return adds what it refunds beyond the earlier returns of its order, never more than
    -- the order's amount in total; it counts from the later of its return and order days.
    select
        orders.customer_id,
        greatest(returns.returned_on, orders.ordered_on) as effective_on,
        least(
            sum(returns.refund_amount) over (
                partition by returns.order_id order by returns.returned_on, returns.return_id
                rows between unbounded preceding and current row
            ),
            orders.amount
        ) - least(
            coalesce(
                sum(returns.refund_amount) over (
                    partition by returns.order_id order by returns.returned_on, returns.return_id
                    rows between unbounded preceding and 1 preceding
                ),
                0
            ),
            orders.amount
        ) as refunded
    from returns
    inner join orders on returns.order_id = orders.order_id
),

refund_buckets as (
    select
        refund_steps.customer_id,
        calendar.bucket,
        sum(refund_steps.refunded) as refunded
    from refund_steps
    inner join calendar on refund_steps.effective_on = calendar.day
    group by refund_steps.customer_id, calendar.bucket
),

buckets as (
    -- A bucket may hold purchases, refunds of earlier orders, or both.
    select
        coalesce(day_buckets.customer_id, refund_buckets.customer_id) as customer_id,
        coalesce(day_buckets.bucket, refund_buckets.bucket) as bucket,
        coalesce(day_buckets.purchase_days, 0) as purchase_days,
        coalesce(day_buckets.orders, 0) as orders,
        coalesce(day_buckets.amount, 0) - coalesce(refund_buckets.refunded, 0) as net_amount,
        coalesce(day_buckets.amount, 0) as amount,
        day_buckets.first_purchase_on,
        day_buckets.last_purchase_on,
        day_buckets.first_day_amount
    from day_buckets
    full outer join refund_buckets
        on day_buckets.customer_id = refund_buckets.customer_id and day_buckets.bucket = refund_buckets.bucket
),

running as (
    {{ bucket_running_sums('buckets', 'cutoffs') | indent(4) }}
),

final as (
    select
        cutoff_date,
        customer_id,
        purchase_days - 1 as frequency,
        {{ days_between('first_purchase_on', 'last_purchase_on') }} as recency_days,
        {{ days_between('first_purchase_on', 'cutoff_date') }} as t_days,
        {{ days_between('first_purchase_on', 'last_purchase_on') }} / 7e0 as recency_weeks,
        {{ days_between('first_purchase_on', 'cutoff_date') }} / 7e0 as t_weeks,
        coalesce(cast(amount - first_day_amount as double) / nullif(purchase_days - 1, 0), 0) as monetary_value,
        {{ days_between('last_purchase_on', 'cutoff_date') }} as days_since_last_order,
        orders as order_count,
        net_amount as total_value_net
    from running
)

select * from final
