-- One row per customer per training cutoff: the feature contract's columns, in its order, then
-- the labels. Columns come from this model's YAML, which tests hold equal to udfs/contract.py.
with features as (
    select * from {{ ref('fct_customer_features') }}
    where cutoff_role = 'training'
),

labels as (
    select * from {{ ref('fct_customer_labels') }}
),

final as (
    select
        {%- for name in model.columns %}
            {%- set relation = 'labels' if name in ('future_value', 'future_orders', 'churned') else 'features' %}
            {{ relation }}.{{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from features
    inner join labels on features.customer_id = labels.customer_id and features.cutoff_date = labels.cutoff_date
)

select * from final
