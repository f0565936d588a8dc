-- One row per customer at the scoring cutoff: what the next-best-action policies read, the
-- feature contract's columns (ml_scoring_set without the weekly histories) and the campaign
-- history at the cutoff (fct_customer_treatments), as ml_decision_set has them at the training
-- cutoffs. recommend_action(s) binds a row of it by name.
with scoring as (
    select {{ star_except('', contract_sequence_columns()) }}
    from {{ ref('ml_scoring_set') }}
),

treatments as (
    select * from {{ ref('fct_customer_treatments') }}
),

final as (
    select  -- noqa: AM04
        scoring.*,
        {{ star_except('treatments', ['customer_id', 'cutoff_date']) }}  -- noqa: RF02
    from scoring
    inner join treatments
        on scoring.customer_id = treatments.customer_id and scoring.cutoff_date = treatments.cutoff_date
)

select * from final  -- noqa: AM04
