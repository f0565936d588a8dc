-- One row per customer per product category: the day it was first bought.
with items as (
    select * from {{ ref('stg_shop__order_items') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

final as (
    select
        orders.customer_id,
        items.category,
        min(orders.ordered_on) as first_bought_on
    from items
    inner join orders on items.order_id = orders.order_id
    group by orders.customer_id, items.category
)

select * from final
