-- One row per customer per cutoff being built, for customers with a purchase on or before it:
-- the BTYD summary (Fader-Hardie, purchase days as the unit) and the RFM inputs.
--
-- Everything here accumulates over time, so instead of joining every order to every later cutoff,
-- purchase days and refunds are put in the bucket of the first cutoff on or after them (ASOF) and
-- summed per customer and bucket; those land on the customer's own cutoff rows (a bucket's cutoff
-- is never before the customer became known) and running sums carry them forward. Work grows
-- with the data, not with data x cutoffs.
with cutoffs as (
    select * from {{ ref('int_cutoffs_to_build') }}
),

spine as (
    select * from {{ ref('int_customers_at_cutoffs') }}
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

first_days as (
    select
        customer_id,
        min(ordered_on) as first_purchase_on,
        arg_min(day_amount, ordered_on) as first_day_amount
    from order_days
    group by customer_id
),

day_buckets as (
    select
        order_days.customer_id,
        cutoffs.cutoff_date as bucket,
        count(*) as purchase_days,
        sum(order_days.day_orders) as orders,
        sum(order_days.day_amount) as amount,
        max(order_days.ordered_on) as last_purchase_on
    from order_days
    asof inner join cutoffs on order_days.ordered_on <= cutoffs.cutoff_date
    group by order_days.customer_id, cutoffs.cutoff_date
),

refund_steps as (
    -- Each return adds what it refunds beyond the earlier returns of its order, never more than
    -- the order's amount in total; it counts from the later of its return and order days.
    select
        orders.customer_id,
        greatest(returns.returned_on, orders.ordered_on) as effective_on,
        least(
            sum(returns.refund_amount) over (by_order rows between unbounded preceding and current row),
            orders.amount
        ) - least(
            coalesce(sum(returns.refund_amount) over (by_order rows between unbounded preceding and 1 preceding), 0),
            orders.amount
        ) as refunded
    from returns
    inner join orders on returns.order_id = orders.order_id
    window by_order as (partition by returns.order_id order by returns.returned_on, returns.return_id)
),

refund_buckets as (
    select
        refund_steps.customer_id,
        cutoffs.cutoff_date as bucket,
        sum(refund_steps.refunded) as refunded
    from refund_steps
    asof inner join cutoffs on refund_steps.effective_on <= cutoffs.cutoff_date
    group by refund_steps.customer_id, cutoffs.cutoff_date
),

grid as (
    select
        spine.cutoff_date,
        spine.customer_id,
        coalesce(day_buckets.purchase_days, 0) as purchase_days,
        coalesce(day_buckets.orders, 0) as orders,
        coalesce(day_buckets.amount, 0) as amount,
        day_buckets.last_purchase_on,
        coalesce(refund_buckets.refunded, 0) as refunded
    from spine
    left join day_buckets
        on spine.customer_id = day_buckets.customer_id and spine.cutoff_date = day_buckets.bucket
    left join refund_buckets
        on spine.customer_id = refund_buckets.customer_id and spine.cutoff_date = refund_buckets.bucket
),

running as (
    select
        cutoff_date,
        customer_id,
        sum(purchase_days) over by_customer as purchase_days,
        sum(orders) over by_customer as orders,
        sum(amount) over by_customer as amount,
        max(last_purchase_on) over by_customer as last_purchase_on,
        sum(refunded) over by_customer as refunded
    from grid
    window by_customer as (
        partition by customer_id order by cutoff_date rows between unbounded preceding and current row
    )
),

final as (
    select
        running.cutoff_date,
        running.customer_id,
        running.purchase_days - 1 as frequency,
        {{ days_between('first_days.first_purchase_on', 'running.last_purchase_on') }} as recency_days,
        {{ days_between('first_days.first_purchase_on', 'running.cutoff_date') }} as t_days,
        {{ days_between('first_days.first_purchase_on', 'running.last_purchase_on') }} / 7.0 as recency_weeks,
        {{ days_between('first_days.first_purchase_on', 'running.cutoff_date') }} / 7.0 as t_weeks,
        coalesce(
            cast(running.amount - first_days.first_day_amount as double) / nullif(running.purchase_days - 1, 0),
            0
        ) as monetary_value,
        {{ days_between('running.last_purchase_on', 'running.cutoff_date') }} as days_since_last_order,
        running.orders as order_count,
        running.amount - running.refunded as total_value_net
    from running
    inner join first_days on running.customer_id = first_days.customer_id
    where running.purchase_days > 0
)

select * from final
