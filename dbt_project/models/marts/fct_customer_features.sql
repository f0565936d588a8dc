-- One row per customer per cutoff: point-in-time features computed only from data on or before
-- the cutoff day. Incremental on DuckDB (cutoff_materialization): each run (re)builds the cutoffs
-- of int_cutoffs_to_build and drops cutoffs that are no longer wanted (an earlier scoring cutoff,
-- say); rebuilt whole on Spark.
{{
    config(
        materialized=cutoff_materialization(),
        incremental_strategy='delete+insert',
        unique_key='cutoff_date',
        on_schema_change='fail',
        post_hook="{{ drop_stale_cutoffs(this) }}"
    )
}}
-- depends_on: {{ ref('int_cutoffs') }}
{%- set metrics = contract_behaviour_metrics() %}
{%- set order_columns = ['mean_value_net', 'max_value_net', 'std_value_net',
                         'return_rate', 'discount_share', 'orders_30d', 'orders_90d', 'orders_180d', 'orders_365d',
                         'value_30d', 'value_90d', 'value_180d', 'value_365d'] %}
{%- set cats = contract_categories() %}
with spine as (
    select * from {{ ref('int_customers_at_cutoffs') }}
),

btyd as (
    select * from {{ ref('int_btyd_summary_at_cutoffs') }}
),

orders as (
    select * from {{ ref('int_orders_aggregated_to_customer_cutoffs') }}
),

behaviour as (
    select * from {{ ref('int_events_aggregated_to_customer_cutoffs') }}
),

rfm as (
    select * from {{ ref('int_rfm_scores') }}
),

joined as (
    select
        spine.customer_id,
        spine.cutoff_date,
        spine.cutoff_role,
        -- BTYD summary (Fader-Hardie): zero for a customer with no purchase yet
        cast(coalesce(btyd.frequency, 0) as double) as frequency,
        cast(coalesce(btyd.recency_days, 0) as double) as recency_days,
        cast(coalesce(btyd.t_days, 0) as double) as t_days,
        cast(coalesce(btyd.recency_weeks, 0) as double) as recency_weeks,
        cast(coalesce(btyd.t_weeks, 0) as double) as t_weeks,
        cast(coalesce(btyd.monetary_value, 0) as double) as monetary_value,
        -- orders; with no order yet, the time since the last order is the tenure
        cast(coalesce(btyd.days_since_last_order, spine.tenure_days) as double) as days_since_last_order,
        cast(coalesce(btyd.order_count, 0) as double) as order_count,
        cast(coalesce(btyd.total_value_net, 0) as double) as total_value_net,
        {%- for c in order_columns %}
            cast(coalesce(orders.{{ c }}, 0) as double) as {{ c }},
        {%- endfor %}
        coalesce(cast(btyd.recency_days as double) / nullif(btyd.frequency, 0), 0) as interpurchase_mean_days,
        cast(coalesce(orders.interpurchase_std_days, 0) as double) as interpurchase_std_days,
        cast(coalesce(orders.spend_trend_90d, 0) as double) as spend_trend_90d,
        cast(spine.tenure_days as double) as tenure_days,
        cast(coalesce(orders.holiday_spend_share, 0) as double) as holiday_spend_share,
        cast(coalesce(orders.category_breadth, 0) as double) as category_breadth,
        -- behaviour, zero-filled when a shop has no events
        {%- for w in contract_behaviour_windows() %}
            {%- for m in metrics %}
                {%- if m == 'cart_abandonment_rate' %}
                    coalesce(
                        cast(
                            greatest(behaviour.cart_sessions_{{ w }}d - coalesce(orders.orders_{{ w }}d, 0), 0)
                            as double
                        )
                        / nullif(behaviour.cart_sessions_{{ w }}d, 0),
                        0
                    ) as cart_abandonment_rate_{{ w }}d,
                {%- elif m == 'dwell_minutes' %}
                    coalesce(cast(behaviour.dwell_seconds_{{ w }}d as double) / 60, 0) as dwell_minutes_{{ w }}d,
                {%- elif m == 'mean_rating' %}
                    coalesce(cast(behaviour.rating_sum_{{ w }}d as double) / nullif(behaviour.reviews_{{ w }}d, 0), 0)
                        as mean_rating_{{ w }}d,
                {%- else %}
                    cast(coalesce(behaviour.{{ m }}_{{ w }}d, 0) as double) as {{ m }}_{{ w }}d,
                {%- endif %}
            {%- endfor %}
        {%- endfor %}
        coalesce(
            cast(behaviour.sessions_30d - coalesce(behaviour.sessions_prev_30d, 0) as double)
            / nullif(behaviour.sessions_30d + coalesce(behaviour.sessions_prev_30d, 0), 0),
            0
        ) as engagement_trend_30d,
        cast(
            coalesce({{ days_between('behaviour.last_session_on', 'spine.cutoff_date') }}, spine.tenure_days)
            as double
        ) as days_since_last_session,
        spine.acquisition_channel,
        spine.region,
        spine.age_band,
        spine.gender
    from spine
    left join btyd on spine.cutoff_date = btyd.cutoff_date and spine.customer_id = btyd.customer_id
    left join orders on spine.cutoff_date = orders.cutoff_date and spine.customer_id = orders.customer_id
    left join behaviour on spine.cutoff_date = behaviour.cutoff_date and spine.customer_id = behaviour.customer_id
),

final as (
    select
        -- DuckDB's EXCLUDE takes bare column names, which sqlfluff reads as unqualified.
        {{ star_except('joined', ['acquisition_channel', 'region', 'age_band', 'gender']) }},  -- noqa: RF02
        rfm.rfm_recency_score,
        rfm.rfm_frequency_score,
        rfm.rfm_monetary_score,
        rfm.rfm_segment,
        {%- set encoded = [('channel', 'acquisition_channel'), ('region', 'region'), ('age', 'age_band'),
                           ('gender', 'gender')] %}
        {%- for prefix, column in encoded %}
            {%- for value in cats[prefix] %}
                cast(coalesce(joined.{{ column }} = '{{ value }}', false) as double) as {{ prefix }}_{{ slug(value) }},
            {%- endfor %}
        {%- endfor %}
        joined.acquisition_channel,
        joined.region,
        joined.age_band,
        joined.gender
    from joined
    inner join rfm on joined.cutoff_date = rfm.cutoff_date and joined.customer_id = rfm.customer_id
)

select * from final
