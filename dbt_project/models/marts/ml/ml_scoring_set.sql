-- One row per customer at the scoring cutoff (as_of_date): the feature contract's columns in
-- its order, then the weekly histories, from this model's YAML, which tests hold equal to
-- udfs/contract.py.
with features as (
    select * from {{ ref('fct_customer_features') }}
    where cutoff_role = 'scoring'
),

history as (
    select * from {{ ref('fct_customer_weekly_history') }}
),

final as (
    select
        {%- for name in model.columns %}
            {{ 'history' if name.endswith('_weekly') else 'features' }}.{{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from features
    inner join history
        on features.customer_id = history.customer_id and features.cutoff_date = history.cutoff_date
)

select * from final
