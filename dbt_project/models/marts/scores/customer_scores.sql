-- One row per customer at the scoring cutoff: predicted CLV with its interval and its three
-- largest drivers, churn probability, P(alive), segment and its name, value tier and RFM
-- segment, and the next best action with its expected uplift, scored in SQL by the registry's
-- champion models.
-- Built by `clv score` (var score: true), which registers the functions through the
-- udfs.dbt_plugin plugin of the profile.
with scoring as (
    select * from {{ ref('ml_scoring_set') }}
),

-- The policies read the campaign history besides the features; without an action champion
-- (no campaign log) `clv score` sets var next_best_action false and the columns are NULL.
actions as (
    select * from {{ ref('ml_action_scoring_set') }}
),

recommended as (
    select
        customer_id,
        cutoff_date,
        {% if var('next_best_action') -%}
            recommend_action(actions) as recommendation,
            clv_model('action') as action_model
        {%- else -%}
            null::struct(action varchar, expected_uplift double) as recommendation,
            null::varchar as action_model
        {%- endif %}
    from actions
),

features as (
    select
        customer_id,
        cutoff_date,
        rfm_segment
    from {{ ref('fct_customer_features') }}
    where cutoff_role = 'scoring'
),

scored as (
    select
        scoring.customer_id,
        scoring.cutoff_date as as_of_date,
        predict_clv(scoring) as predicted_clv,
        predict_clv_interval(scoring, level := {{ var('interval_level') }}) as clv_interval,
        {% if var('explain_drivers') -%}
            explain_clv(scoring, top_k := 3) as explanation,
        {%- else -%}
            null::struct(contributions struct(feature varchar, value double, contribution double)[]) as explanation,
        {%- endif %}
        churn_score(scoring) as churn_probability,
        p_alive(scoring.frequency, scoring.recency_weeks, scoring.t_weeks) as p_alive,
        customer_segment(scoring) as segment
    from scoring
),

ranked as (
    select
        *,
        percent_rank() over (order by predicted_clv) as clv_percentile
    from scored
),

-- The linter reads the fields of lambda parameters (c.feature) as table references.
-- noqa: disable=RF01
final as (
    select
        ranked.customer_id,
        ranked.as_of_date,
        ranked.predicted_clv,
        -- The value is taken to arrive evenly over the horizon, so it is discounted from the
        -- horizon's midpoint at the annual rate.
        ranked.predicted_clv
        / power(1 + {{ var('discount_rate') }}, {{ var('horizon_days') }} / 365.0 / 2) as discounted_clv,
        ranked.clv_interval.lower as clv_lower,
        ranked.clv_interval.upper as clv_upper,
        -- "feature = value (contribution)", largest first, in currency; derived inputs such as
        -- bgnbd_p_alive are computed inside the model from frequency, recency and age.
        array_to_string(
            list_transform(
                ranked.explanation.contributions,
                lambda c: c.feature || ' = ' || coalesce(printf('%.6g', c.value), 'missing')
                || ' (' || printf('%+.2f', c.contribution) || ')'
            ),
            '; '
        ) as top_drivers,
        ranked.churn_probability,
        ranked.p_alive,
        ranked.segment,
        -- The segment's name from the segment model's card (rules in docs/SCORING.md).
        segment_name(ranked.segment) as segment_name,
        ranked.clv_percentile,
        features.rfm_segment,
        case
            when ranked.clv_percentile >= {{ var('vip_percentile') }} then 'VIP'
            when ranked.clv_percentile >= {{ var('regular_percentile') }} then 'regular'
            else 'potential'
        end as value_tier,
        clv_model('value') as value_model,
        clv_model('churn') as churn_model,
        clv_model('segment') as segment_model,
        -- The action worth most over the action horizon and how much more than doing nothing
        -- (net of its cost); 'none' with 0 when no action is worth more.
        recommended.recommendation.action as next_best_action,
        recommended.recommendation.expected_uplift,
        recommended.action_model,
        current_timestamp as scored_at
    from ranked
    inner join features
        on ranked.customer_id = features.customer_id and ranked.as_of_date = features.cutoff_date
    inner join recommended
        on ranked.customer_id = recommended.customer_id and ranked.as_of_date = recommended.cutoff_date
)

-- noqa: enable=RF01
select * from final
