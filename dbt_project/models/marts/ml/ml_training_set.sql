-- One row per customer per training cutoff: the feature contract's columns, in its order, the
-- weekly histories, then the labels. Columns come from this model's YAML, which tests hold equal
-- to udfs/contract.py.
with features as (
    select * from {{ ref('fct_customer_features') }}
    where cutoff_role = 'training'
),

history as (
    select * from {{ ref('fct_customer_weekly_history') }}
),

labels as (
    select * from {{ ref('fct_customer_labels') }}
),

final as (
    select
        {%- for name in model.columns %}
            {%- set relation = 'labels' if name in ('future_value', 'future_orders', 'churned')
                else 'history' if name.endswith('_weekly') else 'features' %}
            {{ relation }}.{{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from features
    inner join labels on features.customer_id = labels.customer_id and features.cutoff_date = labels.cutoff_date
    inner join history
        on features.customer_id = history.customer_id and features.cutoff_date = history.cutoff_date
)

select * from final
