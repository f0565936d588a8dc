-- One row per segment of the segment champion at the scoring cutoff: its readable name (from the
-- model card, derived by the rules in docs/SCORING.md), size, predicted value and churn, and the
-- recency, frequency, monetary value and browsing of its customers.
with scores as (
    select * from {{ ref('customer_scores') }}
),

features as (
    select
        customer_id,
        cutoff_date,
        days_since_last_order,
        order_count,
        orders_365d,
        mean_value_net,
        value_365d,
        tenure_days,
        sessions_90d,
        product_views_90d
    from {{ ref('fct_customer_features') }}
    where cutoff_role = 'scoring'
),

joined as (
    select
        scores.*,
        features.days_since_last_order,
        features.order_count,
        features.orders_365d,
        features.mean_value_net,
        features.value_365d,
        features.tenure_days,
        features.sessions_90d,
        features.product_views_90d
    from scores
    inner join features
        on scores.customer_id = features.customer_id and scores.as_of_date = features.cutoff_date
),

final as (
    select
        segment,
        segment_name,
        count(*) as customers,
        count(*) / sum(count(*)) over () as customer_share,
        sum(predicted_clv) as total_predicted_clv,
        avg(predicted_clv) as mean_predicted_clv,
        sum(predicted_clv) / sum(sum(predicted_clv)) over () as predicted_clv_share,
        avg(churn_probability) as mean_churn_probability,
        avg(p_alive) as mean_p_alive,
        avg(days_since_last_order) as mean_days_since_last_order,
        avg(order_count) as mean_order_count,
        avg(orders_365d) as mean_orders_365d,
        avg(mean_value_net) as mean_order_value,
        avg(value_365d) as mean_value_365d,
        avg(tenure_days) as mean_tenure_days,
        avg(sessions_90d) as mean_sessions_90d,
        avg(product_views_90d) as mean_product_views_90d,
        count(*) filter (where value_tier = 'VIP') / count(*) as vip_share,
        any_value(as_of_date) as as_of_date,
        any_value(segment_model) as segment_model
    from joined
    group by segment, segment_name
)

select * from final
