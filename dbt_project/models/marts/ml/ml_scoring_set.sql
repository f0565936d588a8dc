-- One row per customer at the scoring cutoff (as_of_date): the feature contract's columns in
-- its order, from this model's YAML, which tests hold equal to udfs/contract.py.
with features as (
    select * from {{ ref('fct_customer_features') }}
    where cutoff_role = 'scoring'
),

final as (
    select
        {%- for name in model.columns %}
            features.{{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from features
)

select * from final
