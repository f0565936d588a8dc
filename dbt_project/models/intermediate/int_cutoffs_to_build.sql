-- The cutoffs this run computes features for. Features of a cutoff depend only on data on or
-- before it, so a training cutoff already in fct_customer_features stays valid as new data
-- arrives: an incremental run builds only new cutoffs and the scoring cutoff. A cutoff built for
-- scoring that has become a training cutoff is built again: it was computed before its day's data
-- had all arrived, and its role changes. --full-refresh builds all, as does every run on Spark,
-- where the per-cutoff marts are rebuilt whole (cutoff_materialization).
{%- set existing = adapter.get_relation(
    database=target.database, schema=target.schema, identifier='fct_customer_features'
) %}
with cutoffs as (
    select * from {{ ref('int_cutoffs') }}
),

final as (
    select
        cutoffs.cutoff_date,
        cutoffs.cutoff_role,
        cutoffs.horizon_end,
        cutoffs.churn_window_end
    from cutoffs
    {% if existing is not none and not flags.FULL_REFRESH and cutoff_materialization() == 'incremental' %}
        where
            cutoffs.cutoff_role = 'scoring'
            or (cutoffs.cutoff_date, cutoffs.cutoff_role) not in (
                select distinct (built.cutoff_date, built.cutoff_role) from {{ existing }} as built
            )
    {% endif %}
)

select * from final
