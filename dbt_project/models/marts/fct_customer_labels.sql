-- One row per customer per training cutoff: what happened in the window after it, using only
-- data in (cutoff, cutoff + horizon]. Refunds count when returned inside the window (the macro
-- future_outcomes, which monitor_accuracy shares).
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

final as (
    {{ future_outcomes('cutoffs', 'spine', 'orders', 'returns') | indent(4) }}
)

select * from final
