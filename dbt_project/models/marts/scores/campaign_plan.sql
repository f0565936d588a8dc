-- The customers to treat in the next campaign, best first: every customer whose next best action
-- is worth more than doing nothing, ranked by its expected uplift (net of the action's cost),
-- up to var campaign_budget_share of the customers scored, or, when var campaign_budget_cost is
-- set, up to that total cost. Costs are the policy's (action_cost(), from its card).
{%- set budget_cost = var('campaign_budget_cost') %}
with scores as (
    select * from {{ ref('customer_scores') }}
),

scored as (
    select count(*) as customers from scores
),

candidates as (
    select
        customer_id,
        as_of_date,
        next_best_action as action,
        expected_uplift,
        {% if var('next_best_action') -%}
            action_cost(next_best_action) as action_cost,
        {%- else -%}
            null::double as action_cost,
        {%- endif %}
        predicted_clv,
        churn_probability,
        action_model
    from scores
    where next_best_action <> 'none' and expected_uplift > 0
),

ranked as (
    select
        *,
        row_number() over (order by expected_uplift desc, customer_id asc) as priority,
        sum(action_cost) over (
            order by expected_uplift desc, customer_id asc rows between unbounded preceding and current row
        ) as cumulative_cost
    from candidates
),

final as (
    select
        ranked.priority,
        ranked.customer_id,
        ranked.as_of_date,
        ranked.action,
        ranked.expected_uplift,
        ranked.action_cost,
        ranked.cumulative_cost,
        ranked.predicted_clv,
        ranked.churn_probability,
        ranked.action_model
    from ranked
    cross join scored
    {% if budget_cost is not none -%}
        where ranked.cumulative_cost <= {{ budget_cost }}
    {%- else -%}
        where ranked.priority <= floor({{ var('campaign_budget_share') }} * scored.customers)
    {%- endif %}
)

select * from final
