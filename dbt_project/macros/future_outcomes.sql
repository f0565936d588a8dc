{% macro future_outcomes(windows, spine, orders, returns) -%}
{#-
    What each customer did after a cutoff: a SELECT of (customer_id, cutoff_date, future_value,
    future_orders, churned) for every row of `spine` (cutoff_date, customer_id), from the orders
    in (cutoff_date, horizon_end] of `windows` (cutoff_date, horizon_end, churn_window_end).
    Refunds count when returned inside the window; churned: no order in (cutoff_date,
    churn_window_end]. Shared by the training labels and monitor_accuracy, so a scoring run is
    judged by the very definition its models were trained on.
-#}
with future_orders as (
    select
        windows.cutoff_date,
        orders.customer_id,
        orders.order_id,
        orders.ordered_on,
        orders.amount,
        windows.horizon_end,
        windows.churn_window_end
    from {{ orders }} as orders
    inner join {{ windows }} as windows
        on
            orders.ordered_on > windows.cutoff_date
            and orders.ordered_on <= greatest(windows.horizon_end, windows.churn_window_end)
),

refunds as (
    select
        future_orders.cutoff_date,
        future_orders.order_id,
        sum(returns.refund_amount) as refunded
    from future_orders
    inner join {{ returns }} as returns
        on future_orders.order_id = returns.order_id and future_orders.horizon_end >= returns.returned_on
    group by future_orders.cutoff_date, future_orders.order_id
),

per_customer as (
    select
        future_orders.cutoff_date,
        future_orders.customer_id,
        sum(future_orders.amount - least(coalesce(refunds.refunded, 0), future_orders.amount))
            filter (where future_orders.ordered_on <= future_orders.horizon_end) as future_value,
        count(*) filter (where future_orders.ordered_on <= future_orders.horizon_end) as future_orders,
        count(*) filter (where future_orders.ordered_on <= future_orders.churn_window_end) as churn_window_orders
    from future_orders
    left join refunds
        on future_orders.cutoff_date = refunds.cutoff_date and future_orders.order_id = refunds.order_id
    group by future_orders.cutoff_date, future_orders.customer_id
)

select
    spine.customer_id,
    spine.cutoff_date,
    cast(coalesce(per_customer.future_value, 0) as double) as future_value,
    coalesce(per_customer.future_orders, 0) as future_orders,
    cast(coalesce(per_customer.churn_window_orders, 0) = 0 as integer) as churned
from {{ spine }} as spine
left join per_customer
    on spine.cutoff_date = per_customer.cutoff_date and spine.customer_id = per_customer.customer_id
{%- endmacro %}
