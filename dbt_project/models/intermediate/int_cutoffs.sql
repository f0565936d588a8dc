-- One row per cutoff: the scoring cutoff and the training cutoffs, with their windows.
-- A training cutoff needs its whole horizon observed: cutoff + horizon_days < scoring cutoff.
{%- set horizon = var('horizon_days') %}
{%- set churn_window = var('churn_window_days') %}
with orders as (
    select * from {{ ref('stg_shop__orders') }}
),

bounds as (
    select
        min(ordered_on) as first_order_on,
        {% if var('as_of_date') -%}
            cast('{{ var("as_of_date") }}' as date)
        {%- else -%}
            max(ordered_on) + 1
        {%- endif %} as scoring_cutoff
    from orders
),

{% if var('training_cutoffs') %}
    candidates as (
        select {{ unnest_list(date_list(var('training_cutoffs'))) }} as cutoff_date
    ),
{% else %}
    latest as (
        -- The latest month end whose horizon ends on or before the last observed day.
        select cast(date_trunc('month', scoring_cutoff - {{ horizon }}) as date) - 1 as last_full_cutoff
        from bounds
    ),

    candidates as (
        select last_day({{ months_before('latest.last_full_cutoff', 'k.k') }}) as cutoff_date
        from latest
        cross join {{ integers_below(var('n_training_cutoffs')) }} as k
    ),
{% endif %}

training as (
    select distinct candidates.cutoff_date
    from candidates
    cross join bounds
    where
        candidates.cutoff_date >= bounds.first_order_on
        and candidates.cutoff_date + {{ horizon }} < bounds.scoring_cutoff
),

unioned as (
    select
        scoring_cutoff as cutoff_date,
        'scoring' as cutoff_role
    from bounds
    where scoring_cutoff is not null
    union all
    select
        cutoff_date,
        'training' as cutoff_role
    from training
),

final as (
    select
        cutoff_date,
        cutoff_role,
        cutoff_date + {{ horizon }} as horizon_end,
        cutoff_date + {{ churn_window }} as churn_window_end
    from unioned
)

select * from final
