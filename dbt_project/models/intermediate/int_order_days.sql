-- One row per customer per purchase day: Fader-Hardie count purchase days, not orders, and the
-- gap to the previous purchase day feeds the inter-purchase interval features.
with orders as (
    select * from {{ ref('stg_shop__orders') }}
),

days as (
    select
        customer_id,
        ordered_on,
        sum(amount) as day_amount,
        count(*) as day_orders
    from orders
    group by customer_id, ordered_on
),

final as (
    select
        customer_id,
        ordered_on,
        day_amount,
        day_orders,
        {{ days_between('lag(ordered_on) over (partition by customer_id order by ordered_on)', 'ordered_on') }}
            as gap_days
    from days
)

select * from final
