-- Each feature row has exactly one weekly history, and the history's orders agree with the
-- window counts computed independently in fct_customer_features: the last 13 weeks (91 days)
-- hold at least the orders of the last 90 days and at most those of 180; all 52 weeks (364
-- days) at least those of 180 and at most those of 365. A week misplaced after the cutoff or
-- a day counted twice breaks one of them.
with features as (
    select * from {{ ref('fct_customer_features') }}
),

history as (
    select * from {{ ref('fct_customer_weekly_history') }}
),

joined as (
    select
        features.customer_id as feature_customer,
        history.customer_id as history_customer,
        features.cutoff_date,
        features.orders_90d,
        features.orders_180d,
        features.orders_365d,
        {{ list_total('history.orders_weekly', 40, 52) }} as orders_13_weeks,
        {{ list_total('history.orders_weekly') }} as orders_52_weeks
    from features
    full outer join history
        on features.customer_id = history.customer_id and features.cutoff_date = history.cutoff_date
)

select *
from joined
where
    feature_customer is null
    or history_customer is null
    or orders_13_weeks not between orders_90d and orders_180d
    or orders_52_weeks not between orders_180d and orders_365d
