-- One row per customer per active day: behaviour counts, so that per-cutoff windows read a
-- small daily rollup instead of every event.
with events as (
    select * from {{ ref('stg_shop__events') }}
),

final as (
    select
        customer_id,
        event_on,
        count(distinct session_id) as sessions,
        count(*) filter (where event_type = 'page_view') as page_views,
        count(*) filter (where event_type = 'product_view') as product_views,
        count(*) filter (where event_type = 'search') as searches,
        count(*) filter (where event_type = 'add_to_cart') as add_to_carts,
        count(*) filter (where event_type = 'checkout_start') as checkout_starts,
        count(*) filter (where event_type = 'wishlist_add') as wishlist_adds,
        count(*) filter (where event_type = 'review') as reviews,
        coalesce(sum(rating) filter (where event_type = 'review'), 0) as rating_sum,
        coalesce(sum(dwell_seconds), 0) as dwell_seconds,
        count(distinct session_id) filter (where event_type = 'add_to_cart') as cart_sessions
    from events
    group by customer_id, event_on
)

select * from final
