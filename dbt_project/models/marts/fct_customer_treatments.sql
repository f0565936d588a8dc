-- One row per customer per cutoff (those of fct_customer_features): the campaign history up to
-- the cutoff day, in general and per action of the log (columns named by campaign_actions()).
-- A send answered means an order within response_window_days of it; only sends whose window had
-- closed by the cutoff count as answered or not, so the cutoff never sees a later order.
{%- set window = var('response_window_days') %}
-- depends_on: {{ ref('stg_shop__campaigns') }}
{%- set actions = campaign_actions() %}
with spine as (
    select * from {{ ref('fct_customer_features') }}
),

sends as (
    select * from {{ ref('int_campaign_sends_answered') }}
),

recent as (
    select
        spine.customer_id,
        spine.cutoff_date,
        sends.action,
        sends.cost,
        sends.answered_on,
        {{ days_between('sends.sent_on', 'spine.cutoff_date') }} as days_ago
    from spine
    inner join sends
        on
            spine.customer_id = sends.customer_id
            and spine.cutoff_date >= sends.sent_on
),

aggregated as (
    select
        customer_id,
        cutoff_date,
        count(*) filter (where days_ago < 90) as treatments_90d,
        count(*) filter (where days_ago < 365) as treatments_365d,
        sum(cost) filter (where days_ago < 365) as treatment_cost_365d,
        -- noqa: disable=LT02
        min(days_ago) as days_since_treatment
        {%- for name, column in actions %},
            count(*) filter (where action = '{{ name }}' and days_ago < 365) as sent_{{ column }}_365d,
            count(*) filter (
                where action = '{{ name }}' and days_ago < 365 and days_ago >= {{ window }}
            ) as closed_{{ column }}_365d,
            count(*) filter (
                where
                    action = '{{ name }}' and days_ago < 365 and days_ago >= {{ window }}
                    and answered_on is not null
            ) as answered_{{ column }}_365d,
            min(days_ago) filter (where action = '{{ name }}') as days_since_{{ column }}
        {%- endfor %}
    -- noqa: enable=LT02
    from recent
    group by customer_id, cutoff_date
),

final as (
    select
        spine.customer_id,
        spine.cutoff_date,
        cast(coalesce(aggregated.treatments_90d, 0) as double) as treatments_90d,
        cast(coalesce(aggregated.treatments_365d, 0) as double) as treatments_365d,
        cast(coalesce(aggregated.treatment_cost_365d, 0) as double) as treatment_cost_365d,
        -- never treated: as long ago as the customer is known (as days_since_last_order does)
        -- noqa: disable=LT02
        cast(
            coalesce(aggregated.days_since_treatment, spine.tenure_days) as double
        ) as days_since_treatment
        {%- for name, column in actions %},
            cast(coalesce(aggregated.sent_{{ column }}_365d, 0) as double) as sent_{{ column }}_365d,
            -- the share of closed sends answered, 0 without any
            coalesce(
                cast(aggregated.answered_{{ column }}_365d as double)
                / nullif(aggregated.closed_{{ column }}_365d, 0),
                0
            ) as answer_rate_{{ column }}_365d,
            cast(coalesce(aggregated.days_since_{{ column }}, spine.tenure_days) as double) as days_since_{{ column }}
        {%- endfor %}
    -- noqa: enable=LT02
    from spine
    left join aggregated on spine.customer_id = aggregated.customer_id and spine.cutoff_date = aggregated.cutoff_date
)

select * from final
