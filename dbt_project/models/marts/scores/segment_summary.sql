-- One row per k-means segment (with its name) and value tier: customers, predicted CLV and churn.
with scores as (
    select * from {{ ref('customer_scores') }}
),

final as (
    select
        segment,
        segment_name,
        value_tier,
        count(*) as customers,
        sum(predicted_clv) as total_predicted_clv,
        avg(predicted_clv) as mean_predicted_clv,
        avg(churn_probability) as mean_churn_probability,
        any_value(value_model) as value_model
    from scores
    group by segment, segment_name, value_tier
)

select * from final
