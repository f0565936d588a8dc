-- One row per customer per training cutoff: what happened in the window after it, using only
-- data in (cutoff, cutoff + horizon]. Refunds count when returned inside the window.
with cutoffs as (
    select * from {{ ref('int_cutoffs') }}
    where cutoff_role = 'training'
),

known as (
    select * from {{ ref('int_customers_known') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

returns as (
    select * from {{ ref('stg_shop__returns') }}
),

spine as (
    select
        cutoffs.cutoff_date,
        cutoffs.horizon_end,
        cutoffs.churn_window_end,
        known.customer_id
    from known
    inner join cutoffs on known.known_since <= cutoffs.cutoff_date
),

future_orders as (
    select
        cutoffs.cutoff_date,
        orders.customer_id,
        orders.order_id,
        orders.ordered_on,
        orders.amount,
        cutoffs.horizon_end,
        cutoffs.churn_window_end
    from orders
    inner join cutoffs
        on orders.ordered_on > cutoffs.cutoff_date and orders.ordered_on <= cutoffs.horizon_end
),

refunds as (
    select
        future_orders.cutoff_date,
        future_orders.order_id,
        sum(returns.refund_amount) as refunded
    from future_orders
    inner join returns
        on future_orders.order_id = returns.order_id and future_orders.horizon_end >= returns.returned_on
    group by future_orders.cutoff_date, future_orders.order_id
),

per_customer as (
    select
        future_orders.cutoff_date,
        future_orders.customer_id,
        sum(future_orders.amount - least(coalesce(refunds.refunded, 0), future_orders.amount)) as future_value,
        count(*) as future_orders,
        count(*) filter (where future_orders.ordered_on <= future_orders.churn_window_end) as churn_window_orders
    from future_orders
    left join refunds
        on future_orders.cutoff_date = refunds.cutoff_date and future_orders.order_id = refunds.order_id
    group by future_orders.cutoff_date, future_orders.customer_id
),

final as (
    select
        spine.customer_id,
        spine.cutoff_date,
        cast(coalesce(per_customer.future_value, 0) as double) as future_value,
        coalesce(per_customer.future_orders, 0) as future_orders,
        cast(coalesce(per_customer.churn_window_orders, 0) = 0 as integer) as churned
    from spine
    left join per_customer
        on spine.cutoff_date = per_customer.cutoff_date and spine.customer_id = per_customer.customer_id
)

select * from final
