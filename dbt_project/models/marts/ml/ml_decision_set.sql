-- One row per customer per training cutoff followed by campaign sends: the features and campaign
-- history at the cutoff, the action the log took in the step after it, up to the next training
-- cutoff (a month with the default monthly cutoffs; 'none' for a customer sent nothing, the first
-- send when there were several), the net value of that step, and the outcomes over the horizon.
-- Steps without any send are left out: nothing was decided in them.
with training as (
    -- the weekly histories stay out: the policies read the feature contract and the campaign history
    select {{ star_except('', contract_sequence_columns()) }}
    from {{ ref('ml_training_set') }}
),

treatments as (
    select * from {{ ref('fct_customer_treatments') }}
),

sends as (
    select * from {{ ref('stg_shop__campaigns') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

returns as (
    select * from {{ ref('stg_shop__returns') }}
),

cutoffs as (
    select distinct cutoff_date from training
),

-- A step runs to the next training cutoff; the last one to the end of the month after it.
steps as (
    select
        cutoff_date,
        lead(cutoff_date) over (order by cutoff_date) as next_cutoff_date,
        coalesce(lead(cutoff_date) over (order by cutoff_date), last_day(cutoff_date + 1)) as horizon_end,
        coalesce(lead(cutoff_date) over (order by cutoff_date), last_day(cutoff_date + 1)) as churn_window_end
    from cutoffs
),

decided as (
    select
        steps.cutoff_date,
        sends.customer_id,
        sends.action,
        sends.cost
    from steps
    inner join sends
        on
            steps.cutoff_date < sends.sent_on
            and steps.horizon_end >= sends.sent_on
    qualify
        row_number() over (
            partition by steps.cutoff_date, sends.customer_id order by sends.sent_at, sends.treatment_id
        ) = 1
),

step_outcomes as (
    {{ future_outcomes('steps', 'training', 'orders', 'returns') | indent(4) }}
),

-- The window a campaign is judged over (action_horizon_days): shorter than the CLV horizon, as
-- a campaign's effect shows within it and a shorter window carries less noise.
action_windows as (
    select
        cutoff_date,
        cutoff_date + {{ var('action_horizon_days') }} as horizon_end,
        cutoff_date + {{ var('action_horizon_days') }} as churn_window_end
    from cutoffs
),

action_outcomes as (
    {{ future_outcomes('action_windows', 'training', 'orders', 'returns') | indent(4) }}
),

decision_months as (
    select distinct cutoff_date from decided
),

final as (
    select  -- noqa: AM04
        training.*,
        {{ star_except('treatments', ['customer_id', 'cutoff_date']) }},  -- noqa: RF02
        coalesce(decided.action, 'none') as action,
        cast(coalesce(decided.cost, 0) as double) as action_cost,
        step_outcomes.future_value as step_value,
        action_outcomes.future_value as action_horizon_value,
        {{ var('action_horizon_days') }} as action_horizon_days,
        steps.next_cutoff_date
    from training
    inner join decision_months on training.cutoff_date = decision_months.cutoff_date
    inner join steps on training.cutoff_date = steps.cutoff_date
    inner join step_outcomes
        on training.customer_id = step_outcomes.customer_id and training.cutoff_date = step_outcomes.cutoff_date
    inner join action_outcomes
        on training.customer_id = action_outcomes.customer_id and training.cutoff_date = action_outcomes.cutoff_date
    inner join treatments
        on training.customer_id = treatments.customer_id and training.cutoff_date = treatments.cutoff_date
    left join decided on training.customer_id = decided.customer_id and training.cutoff_date = decided.cutoff_date
)

select * from final  -- noqa: AM04
