-- One row per day with a purchase: customers buying for the first time, and repeat purchase days
-- (a customer's purchase days after its first, the unit of the BTYD summary). Training reads the
-- repeat purchases week by week to measure the shop's purchase rate through the seasons and any
-- shock (training/models/btyd_clock.py), each fit reading only the days on or before its cutoff.
with order_days as (
    select * from {{ ref('int_order_days') }}
),

flagged as (
    select
        ordered_on,
        ordered_on = min(ordered_on) over (partition by customer_id) as is_first
    from order_days
),

final as (
    select
        ordered_on as purchase_date,
        count(*) filter (where is_first) as first_purchases,
        count(*) filter (where not is_first) as repeat_purchases
    from flagged
    group by ordered_on
)

select * from final
