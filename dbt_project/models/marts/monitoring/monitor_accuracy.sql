-- How each scoring run's predictions turned out, once the data shows it: one row per scoring run
-- in score_history (scoring date and model versions). Outcomes are the training labels' own
-- definition (macro future_outcomes) over the loaded orders, which are observed through their
-- latest order day. Churn metrics appear once the churn window has elapsed in that data, value
-- metrics once the whole horizon has; before that, horizon_share says how much of the horizon is
-- observed and the value realised so far stands beside the prediction pro rata. The metrics are
-- clv evaluate's (training/evaluation/metrics.py), computed in SQL: ties in a score share their
-- average rank, deciles split the customers ordered by predicted value as numpy's array_split.
-- A table rebuilt from score_history by every build, so it fills in as new orders are loaded.
{%- set horizon = var('horizon_days') %}
{%- set churn_window = var('churn_window_days') %}
{%- set run = 'as_of_date, value_model, churn_model, segment_model' %}
with history as (
    select * from {{ ref('score_history') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

returns as (
    select * from {{ ref('stg_shop__returns') }}
),

observed as (
    select max(ordered_on) as observed_through
    from orders
),

windows as (
    select distinct
        history.as_of_date as cutoff_date,
        least(history.as_of_date + {{ horizon }}, observed.observed_through) as horizon_end,
        history.as_of_date + {{ churn_window }} as churn_window_end
    from history
    cross join observed
),

spine as (
    select distinct
        as_of_date as cutoff_date,
        customer_id
    from history
),

outcomes as (
    {{ future_outcomes('windows', 'spine', 'orders', 'returns') | indent(4) }}
),

scored as (
    select
        history.as_of_date,
        history.value_model,
        history.churn_model,
        history.segment_model,
        history.customer_id,
        history.predicted_clv,
        history.churn_probability,
        outcomes.future_value as realised_value,
        outcomes.churned
    from history
    inner join outcomes
        on history.as_of_date = outcomes.cutoff_date and history.customer_id = outcomes.customer_id
),

ranked as (
    select
        *,
        count(*) over by_run as customers,
        -- Average ranks, ascending: a tie group's rank is the mean of the positions it spans.
        rank() over (partition by {{ run }} order by predicted_clv)
        + (count(*) over (partition by {{ run }}, predicted_clv) - 1) / 2.0 as predicted_rank,
        rank() over (partition by {{ run }} order by realised_value)
        + (count(*) over (partition by {{ run }}, realised_value) - 1) / 2.0 as realised_rank,
        rank() over (partition by {{ run }} order by churn_probability)
        + (count(*) over (partition by {{ run }}, churn_probability) - 1) / 2.0 as churn_rank,
        row_number() over (partition by {{ run }} order by predicted_clv desc, customer_id asc) - 1 as position
    from scored
    window by_run as (partition by {{ run }})
),

deciled as (
    -- numpy.array_split(order, 10): the first customers % 10 parts hold one customer more.
    select
        *,
        case
            when position < (customers % 10) * (customers // 10 + 1)
                then position // (customers // 10 + 1)
            else (customers % 10) + (position - (customers % 10) * (customers // 10 + 1)) // (customers // 10)
        end as decile
    from ranked
),

decile_errors as (
    select
        {{ run }},
        avg(abs(predicted - realised) / realised) filter (where realised > 0) as decile_mape
    from (
        select
            {{ run }},
            decile,
            sum(predicted_clv) as predicted,
            sum(realised_value) as realised
        from deciled
        group by all
    )
    group by all
),

orderings as (
    -- Gini of the cumulative-gain curve of realised value, customers ordered by a score,
    -- descending, tied scores one step: by the prediction (the model) and by the outcome (the best).
    select
        {{ run }},
        'model' as ordering,
        predicted_clv as score,
        realised_value
    from scored
    union all
    select
        {{ run }},
        'best' as ordering,
        realised_value as score,
        realised_value
    from scored
),

gain_steps as (
    select
        {{ run }},
        ordering,
        score,
        count(*) as people,
        sum(realised_value) as gained
    from orderings
    group by all
),

gain_curves as (
    select
        *,
        sum(gained) over (
            partition by {{ run }}, ordering order by score desc rows unbounded preceding
        ) as cumulative_gain
    from gain_steps
),

ginis as (
    -- 2 x the area under the curve - 1; each step a trapezoid: people x (gain before + after) / 2.
    select
        {{ run }},
        sum(people * (2 * cumulative_gain - gained)) filter (where ordering = 'model')
        / (sum(people) filter (where ordering = 'model') * nullif(sum(gained) filter (where ordering = 'model'), 0))
        - 1 as model_gini,
        sum(people * (2 * cumulative_gain - gained)) filter (where ordering = 'best')
        / (sum(people) filter (where ordering = 'best') * nullif(sum(gained) filter (where ordering = 'best'), 0))
        - 1 as best_gini
    from gain_curves
    group by all
),

precision_steps as (
    -- Average precision as scikit-learn computes it: thresholds at each distinct probability.
    select
        {{ run }},
        churned_here / nullif(sum(churned_here) over by_run, 0)
        * sum(churned_here) over (partition by {{ run }} order by churn_probability desc rows unbounded preceding)
        / sum(people) over (partition by {{ run }} order by churn_probability desc rows unbounded preceding)
            as precision_gain
    from (
        select
            {{ run }},
            churn_probability,
            count(*) as people,
            sum(churned) as churned_here
        from scored
        group by all
    )
    window by_run as (partition by {{ run }})
),

average_precision as (
    select
        {{ run }},
        sum(precision_gain) as pr_auc
    from precision_steps
    group by all
),

per_run as (
    select
        {{ run }},
        any_value(customers) as customers,
        sum(predicted_clv) as predicted_total,
        sum(realised_value) as realised_to_date,
        avg(abs(realised_value - predicted_clv)) as mae,
        sqrt(avg(pow(realised_value - predicted_clv, 2))) as rmse,
        case when max(predicted_clv) > min(predicted_clv) then corr(realised_rank, predicted_rank) else 0 end
            as spearman,
        avg(churn_probability) as predicted_churn_rate,
        avg(churned) as churn_rate,
        (sum(churn_rank) filter (where churned = 1) - sum(churned) * (sum(churned) + 1) / 2.0)
        / nullif(sum(churned) * (count(*) - sum(churned)), 0) as roc_auc,
        avg(pow(churn_probability - churned, 2)) as brier,
        -- Probabilities clipped to [1e-7, 1 - 1e-7] on both sides, as metrics.py does.
        -avg(
            churned * ln(least(greatest(churn_probability, 1e-7), 1 - 1e-7))
            + (1 - churned) * ln(1 - least(greatest(churn_probability, 1e-7), 1 - 1e-7))
        ) as log_loss
    from deciled
    group by all
),

windows_elapsed as (
    select
        per_run.*,
        observed.observed_through,
        per_run.as_of_date + {{ churn_window }} <= observed.observed_through as churn_matured,
        per_run.as_of_date + {{ horizon }} <= observed.observed_through as value_matured,
        least(1.0, greatest(0.0, (observed.observed_through - per_run.as_of_date) / {{ horizon }}))
            as horizon_share
    from per_run
    cross join observed
),

final as (
    select
        runs.as_of_date,
        runs.value_model,
        runs.churn_model,
        runs.segment_model,
        runs.customers,
        runs.observed_through,
        runs.churn_matured,
        runs.value_matured,
        runs.horizon_share,
        runs.predicted_total,
        -- Before the horizon has elapsed: the prediction pro rata of the share observed (flat in
        -- time, an approximation) beside what was realised so far.
        runs.predicted_total * runs.horizon_share as predicted_to_date,
        runs.realised_to_date,
        case when runs.value_matured then runs.realised_to_date end as realised_total,
        case when runs.value_matured then runs.predicted_total / nullif(runs.realised_to_date, 0) end as total_ratio,
        case when runs.value_matured then runs.mae end as mae,
        case when runs.value_matured then runs.rmse end as rmse,
        case when runs.value_matured then runs.spearman end as spearman,
        case when runs.value_matured then coalesce(ginis.model_gini / nullif(ginis.best_gini, 0), 0) end
            as normalized_gini,
        case when runs.value_matured then decile_errors.decile_mape end as decile_mape,
        case when runs.churn_matured then runs.predicted_churn_rate end as predicted_churn_rate,
        case when runs.churn_matured then runs.churn_rate end as churn_rate,
        case when runs.churn_matured then runs.roc_auc end as roc_auc,
        case when runs.churn_matured then average_precision.pr_auc end as pr_auc,
        case when runs.churn_matured then runs.brier end as brier,
        case when runs.churn_matured then runs.log_loss end as log_loss,
        current_timestamp as measured_at
    from windows_elapsed as runs
    inner join ginis on {{ same_run('runs', 'ginis') }}
    inner join decile_errors on {{ same_run('runs', 'decile_errors') }}
    inner join average_precision on {{ same_run('runs', 'average_precision') }}
)

select * from final
