-- One row per champion model version and input: the mean absolute contribution of the input to
-- the model's predictions (explain_clv / explain_churn) over a fixed sample of the customers at
-- the scoring cutoff. Incremental: each champion's rows are replaced when it is explained again
-- and kept when another model becomes champion, so importance can be compared across versions.
{{ config(
    materialized='incremental',
    unique_key=['model', 'feature'],
    incremental_strategy='delete+insert',
    full_refresh=false
) }}

with scoring as (
    select * from {{ ref('ml_scoring_set') }}
),

-- The same customers every run: the first importance_rows by a hash of the customer id.
sample as (
    select *
    from scoring
    order by hash(customer_id) asc, customer_id asc
    limit {{ var('importance_rows') }}
),

explained as (
    select
        'value' as task,
        explain_clv(sample, top_k := 100000) as explanation
    from sample
    union all
    select
        'churn' as task,
        explain_churn(sample, top_k := 100000) as explanation
    from sample
),

-- unnest of a struct spreads its fields into columns: model, method, scale, contributions, ...
fields as (
    select
        task,
        unnest(explanation)  -- noqa: AL03
    from explained
),

listed as (
    select
        model,
        task,
        method,
        scale,
        unnest(contributions) as item
    from fields
),

items as (
    select
        model,
        task,
        method,
        scale,
        unnest(item)  -- noqa: AL03
    from listed
),

aggregated as (
    select
        model,
        task,
        method,
        scale,
        feature,
        avg(abs(contribution)) as mean_abs_contribution,
        avg(contribution) as mean_contribution,
        count(*) as customers_explained
    from items
    group by model, task, method, scale, feature
),

final as (
    select
        *,
        rank() over (partition by model order by mean_abs_contribution desc, feature asc) as importance_rank,
        current_timestamp as computed_at
    from aggregated
)

select * from final
