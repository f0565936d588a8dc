-- One row per customer per training cutoff followed by a month with campaigns: the features and
-- campaign history at the cutoff, the action the log took in the month after it ('none' for a
-- customer sent nothing; the first send when there were several) and the outcome over the horizon.
-- Months without any send are left out: nothing was decided in them.
{%- set histories = [] %}
{%- for channel in contract_sequence_channels() %}{% do histories.append(channel ~ '_weekly') %}{% endfor %}
with training as (
    -- the weekly histories stay out: the policies read the feature contract and the campaign history
    select * exclude ({{ histories | join(', ') }})
    from {{ ref('ml_training_set') }}
),

treatments as (
    select * from {{ ref('fct_customer_treatments') }}
),

sends as (
    select * from {{ ref('stg_shop__campaigns') }}
),

cutoffs as (
    select distinct cutoff_date from training
),

decided as (
    select
        cutoffs.cutoff_date,
        sends.customer_id,
        sends.action,
        sends.cost
    from cutoffs
    inner join sends
        on
            cutoffs.cutoff_date < sends.sent_on
            and cast(cutoffs.cutoff_date + interval 1 month as date) >= sends.sent_on
    qualify
        row_number() over (
            partition by cutoffs.cutoff_date, sends.customer_id order by sends.sent_at, sends.treatment_id
        ) = 1
),

decision_months as (
    select distinct cutoff_date from decided
),

final as (
    select  -- noqa: AM04
        training.*,
        treatments.* exclude (customer_id, cutoff_date),  -- noqa: RF02
        coalesce(decided.action, 'none') as action,
        cast(coalesce(decided.cost, 0) as double) as action_cost
    from training
    inner join decision_months on training.cutoff_date = decision_months.cutoff_date
    inner join treatments
        on training.customer_id = treatments.customer_id and training.cutoff_date = treatments.cutoff_date
    left join decided on training.customer_id = decided.customer_id and training.cutoff_date = decided.cutoff_date
)

select * from final  -- noqa: AM04
