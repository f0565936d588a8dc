-- How each scoring run's predictions turned out, once the data shows it: one row per scoring run
-- in score_history (scoring date and model versions). Outcomes are the training labels' own
-- definition (macro future_outcomes) over the loaded orders, which are observed through their
-- latest order day. Churn metrics appear once the churn window has elapsed in that data, value
-- metrics once the whole horizon has; before that, horizon_share says how much of the horizon is
-- observed and the value realised so far stands beside the prediction pro rata. The metrics are
-- clv evaluate's (training/evaluation/metrics.py), computed in SQL: ties in a score share their
-- average rank, deciles split the customers ordered by predicted value as numpy's array_split.
--
-- Incremental: a run whose churn window and horizon have both elapsed is final and kept; every
-- other run is computed again by each build, so the table fills in as new orders are loaded, and
-- the ranking metrics are computed only for the runs whose windows have elapsed.
-- --full-refresh computes every run again (after orders were corrected, say).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['as_of_date', 'value_model', 'churn_model', 'segment_model'],
        on_schema_change='fail'
    )
}}
{%- set horizon = var('horizon_days') %}
{%- set churn_window = var('churn_window_days') %}
{%- set run = 'as_of_date, value_model, churn_model, segment_model' %}
with history as (
    select history_rows.*
    from {{ ref('score_history') }} as history_rows
    {% if is_incremental() %}
        where {{ run_not_final('history_rows') }}
    {% endif %}
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

runs as (
    select distinct
        history.as_of_date,
        history.value_model,
        history.churn_model,
        history.segment_model,
        observed.observed_through,
        history.as_of_date + {{ churn_window }} <= observed.observed_through as churn_matured,
        history.as_of_date + {{ horizon }} <= observed.observed_through as value_matured,
        least(1.0, greatest(0.0, (observed.observed_through - history.as_of_date) / {{ horizon }}))
            as horizon_share
    from history
    cross join observed
),

windows as (
    select distinct
        as_of_date as cutoff_date,
        least(as_of_date + {{ horizon }}, observed_through) as horizon_end,
        as_of_date + {{ churn_window }} as churn_window_end
    from runs
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
        outcomes.churned,
        runs.value_matured,
        runs.churn_matured
    from history
    inner join outcomes
        on history.as_of_date = outcomes.cutoff_date and history.customer_id = outcomes.customer_id
    inner join runs on {{ same_run('runs', 'history') }}
),

per_run as (
    -- Sums and means: cheap, for every run.
    select
        {{ run }},
        count(*) as customers,
        sum(predicted_clv) as predicted_total,
        sum(realised_value) as realised_to_date,
        avg(abs(realised_value - predicted_clv)) as mae,
        sqrt(avg(pow(realised_value - predicted_clv, 2))) as rmse,
        avg(churn_probability) as predicted_churn_rate,
        avg(churned) as churn_rate,
        avg(pow(churn_probability - churned, 2)) as brier,
        -- Probabilities clipped to [1e-7, 1 - 1e-7] on both sides, as metrics.py does.
        -avg(
            churned * ln(least(greatest(churn_probability, 1e-7), 1 - 1e-7))
            + (1 - churned) * ln(1 - least(greatest(churn_probability, 1e-7), 1 - 1e-7))
        ) as log_loss
    from scored
    group by all
),

value_ranked as (
    -- Ranking metrics of value, only where the horizon has elapsed.
    select
        *,
        count(*) over by_run as run_customers,
        -- Average ranks, ascending: a tie group's rank is the mean of the positions it spans.
        rank() over (partition by {{ run }} order by predicted_clv asc)
        + (count(*) over (partition by {{ run }}, predicted_clv) - 1) / 2.0 as predicted_rank,
        rank() over (partition by {{ run }} order by realised_value asc)
        + (count(*) over (partition by {{ run }}, realised_value) - 1) / 2.0 as realised_rank,
        row_number() over (partition by {{ run }} order by predicted_clv desc, customer_id asc) - 1 as position
    from scored
    where value_matured
    window by_run as (partition by {{ run }})
),

value_deciled as (
    -- numpy.array_split(order, 10): the first customers % 10 parts hold one customer more.
    select
        *,
        case
            when position < parts_larger * (part_size + 1) then position // (part_size + 1)
            else parts_larger + (position - parts_larger * (part_size + 1)) // part_size
        end as decile
    from (
        select
            *,
            run_customers // 10 as part_size,
            run_customers % 10 as parts_larger
        from value_ranked
    ) as sized
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
        from value_deciled
        group by all
    )
    group by all
),

spearman as (
    select
        {{ run }},
        case when max(predicted_clv) > min(predicted_clv) then corr(realised_rank, predicted_rank) else 0 end
            as spearman
    from value_ranked
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
    where value_matured
    union all
    select
        {{ run }},
        'best' as ordering,
        realised_value as score,
        realised_value
    from scored
    where value_matured
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

churn_steps as (
    -- Ranking metrics of churn, only where the churn window has elapsed, over the distinct
    -- probabilities: churners and stayers at each, and how many lie below and above it.
    select
        *,
        sum(people - churners) over (
            partition by {{ run }} order by churn_probability asc rows unbounded preceding
        ) - (people - churners) as stayers_below,
        sum(churners) over (
            partition by {{ run }} order by churn_probability desc rows unbounded preceding
        ) as churners_from_top,
        sum(people) over (
            partition by {{ run }} order by churn_probability desc rows unbounded preceding
        ) as people_from_top
    from (
        select
            {{ run }},
            churn_probability,
            count(*) as people,
            sum(churned) as churners
        from scored
        where churn_matured
        group by all
    )
),

churn_ranking as (
    -- ROC-AUC as the Mann-Whitney statistic (ties count one half), average precision as
    -- scikit-learn computes it (a threshold at each distinct probability).
    select
        {{ run }},
        sum(churners * (stayers_below + (people - churners) / 2.0))
        / nullif(sum(churners) * sum(people - churners), 0) as roc_auc,
        sum(churners * churners_from_top / people_from_top) / nullif(sum(churners), 0) as pr_auc
    from churn_steps
    group by all
),

final as (
    select
        runs.as_of_date,
        runs.value_model,
        runs.churn_model,
        runs.segment_model,
        per_run.customers,
        runs.observed_through,
        runs.churn_matured,
        runs.value_matured,
        runs.horizon_share,
        per_run.predicted_total,
        -- Before the horizon has elapsed: the prediction pro rata of the share observed (flat in
        -- time, an approximation) beside what was realised so far.
        per_run.predicted_total * runs.horizon_share as predicted_to_date,
        per_run.realised_to_date,
        case when runs.value_matured then per_run.realised_to_date end as realised_total,
        case when runs.value_matured then per_run.predicted_total / nullif(per_run.realised_to_date, 0) end
            as total_ratio,
        case when runs.value_matured then per_run.mae end as mae,
        case when runs.value_matured then per_run.rmse end as rmse,
        spearman.spearman,
        case when runs.value_matured then coalesce(ginis.model_gini / nullif(ginis.best_gini, 0), 0) end
            as normalized_gini,
        decile_errors.decile_mape,
        case when runs.churn_matured then per_run.predicted_churn_rate end as predicted_churn_rate,
        case when runs.churn_matured then per_run.churn_rate end as churn_rate,
        churn_ranking.roc_auc,
        churn_ranking.pr_auc,
        case when runs.churn_matured then per_run.brier end as brier,
        case when runs.churn_matured then per_run.log_loss end as log_loss,
        current_timestamp as measured_at
    from runs
    inner join per_run on {{ same_run('per_run', 'runs') }}
    left join spearman on {{ same_run('spearman', 'runs') }}
    left join ginis on {{ same_run('ginis', 'runs') }}
    left join decile_errors on {{ same_run('decile_errors', 'runs') }}
    left join churn_ranking on {{ same_run('churn_ranking', 'runs') }}
)

select * from final
