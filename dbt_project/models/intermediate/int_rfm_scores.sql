-- One row per customer per cutoff being built: RFM quintile scores and the named segment.
-- Ties share a score (ceil(5 * cume_dist())), so equal customers always score equally. The
-- 1e-9 keeps exact fifths exact: 5 * 0.6 is 3.0000000000000004 in floating point.
with spine as (
    select * from {{ ref('int_customers_at_cutoffs') }}
),

orders as (
    select * from {{ ref('int_btyd_summary_at_cutoffs') }}
),

rfm as (
    select
        spine.cutoff_date,
        spine.customer_id,
        coalesce(orders.days_since_last_order, spine.tenure_days) as days_since_last_order,
        coalesce(orders.order_count, 0) as order_count,
        coalesce(orders.total_value_net, 0) as total_value_net
    from spine
    left join orders on spine.cutoff_date = orders.cutoff_date and spine.customer_id = orders.customer_id
),

scored as (
    select
        cutoff_date,
        customer_id,
        cast(ceil(5 * cume_dist() over (partition by cutoff_date order by days_since_last_order desc) - 1e-9) as double)
            as rfm_recency_score,
        cast(ceil(5 * cume_dist() over (partition by cutoff_date order by order_count) - 1e-9) as double)
            as rfm_frequency_score,
        cast(ceil(5 * cume_dist() over (partition by cutoff_date order by total_value_net) - 1e-9) as double)
            as rfm_monetary_score
    from rfm
),

final as (
    select
        *,
        {{ rfm_segment('rfm_recency_score', 'rfm_frequency_score', 'rfm_monetary_score') }} as rfm_segment
    from scored
)

select * from final
