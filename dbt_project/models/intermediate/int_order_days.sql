-- One row per customer per purchase day: Fader-Hardie count purchase days, not orders.
with orders as (
    select * from {{ ref('stg_shop__orders') }}
),

final as (
    select
        customer_id,
        ordered_on,
        sum(amount) as day_amount,
        count(*) as day_orders
    from orders
    group by customer_id, ordered_on
)

select * from final
