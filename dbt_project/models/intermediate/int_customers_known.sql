-- One row per customer: when it became known (signup or first order, whichever came first)
-- and its attributes.
with customers as (
    select * from {{ ref('stg_shop__customers') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

first_orders as (
    select
        customer_id,
        min(ordered_on) as first_order_on
    from orders
    group by customer_id
),

final as (
    select
        customers.customer_id,
        customers.signup_on,
        first_orders.first_order_on,
        customers.acquisition_channel,
        customers.region,
        customers.age_band,
        customers.gender,
        customers.is_derived,
        least(
            coalesce(customers.signup_on, first_orders.first_order_on),
            coalesce(first_orders.first_order_on, customers.signup_on)
        ) as known_since
    from customers
    left join first_orders on customers.customer_id = first_orders.customer_id
)

select * from final
