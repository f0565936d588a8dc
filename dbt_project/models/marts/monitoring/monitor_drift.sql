-- Drift of each scoring run against the reference distributions in the champions' model cards:
-- one row per scoring run (scoring date and model versions), baseline and column (every feature,
-- and each model's output). The reference cut every column into decile bins (training/reference.py);
-- here the run's values are counted into the same bins with DuckDB's histogram(x, boundaries), and
-- compared: population stability index (PSI, over the bins plus a bin for missing values), the
-- Kolmogorov-Smirnov distance between the binned distributions of present values with its
-- asymptotic p-value, and the missing share against the reference's. status: 'alert' above
-- var drift_alert_psi, 'warning' above drift_warning_psi, on the 'scoring' baseline (the customers
-- the model was put to work on); the 'training' baseline is reported beside it.
--
-- Appended by `clv score` with score_history; a run already recorded is not counted again. A card
-- without reference statistics (trained before monitoring) gives no rows for its columns; `clv
-- score` says which monitors are unavailable.
{{ config(materialized='incremental', full_refresh=false, on_schema_change='fail') }}

{%- set references = {} -%}
{%- if execute is sameas true -%}
    {%- for task in ['value', 'churn', 'segment'] -%}
        {%- set found = run_query("select clv_reference('" ~ task ~ "')").columns[0].values()[0] -%}
        {%- do references.update({task: fromjson(found) if found else none}) -%}
    {%- endfor -%}
{%- endif -%}
{%- set outputs = {'value': 'predicted_clv', 'churn': 'churn_probability', 'segment': 'segment'} -%}
{%- set columns = [] -%}
{#- (baseline, column, source table, reference) for every column with a reference -#}
{%- for baseline in ['scoring', 'training'] -%}
    {%- if references.get('value') -%}
        {%- for feature, dist in references['value'][baseline]['features'].items() -%}
            {%- do columns.append((baseline, feature, 'scoring', dist)) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for task, output in outputs.items() -%}
        {%- if references.get(task) -%}
            {%- do columns.append((baseline, output, 'scores', references[task][baseline]['output'])) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endfor %}

-- The linter renders this model without the cards' references (it runs no query), so its column
-- loops render empty: layout and unused-CTE rules would judge SQL that dbt never runs.
-- noqa: disable=LT02,LT09,ST03
with scores as (
    select * from {{ ref('customer_scores') }}
),

scoring as (
    select * from {{ ref('ml_scoring_set') }}
),

run as (
    select
        any_value(as_of_date) as as_of_date,
        any_value(value_model) as value_model,
        any_value(churn_model) as churn_model,
        any_value(segment_model) as segment_model
    from scores
),

{%- for source in ['scoring', 'scores'] %}
{{ source }}_counts as (
    select
        count(*) as rows_counted
        {%- for baseline, column, from, dist in columns %}
            {%- if from == source %},
                histogram({{ column }}, {{ dist['edges'] }}::double[]) as h{{ loop.index }},
                count(*) filter (where {{ column }} is null or isnan({{ column }}::double)) as m{{ loop.index }}
            {%- endif %}
        {%- endfor %}
    from {{ source }}
),
{% endfor %}
columns_counted as (
    {%- for baseline, column, from, dist in columns %}
    select
        '{{ baseline }}' as baseline,
        '{{ column }}' as column_name,
        {{ 'true' if from == 'scores' else 'false' }} as is_output,
        list_transform(
            {{ dist['edges'] }}::double[] || ['inf'::double],
            lambda edge: coalesce(h{{ loop.index }}[edge], 0)
        ) || [m{{ loop.index }}] as observed,
        {{ dist['shares'] }}::double[] as expected_present,
        {{ dist['missing_share'] }}::double as expected_missing,
        {{ dist['rows'] }}::bigint as reference_rows,
        rows_counted
    from {{ from }}_counts
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
        select
            null::varchar as baseline,
            null::varchar as column_name,
            null::boolean as is_output,
            null::bigint[] as observed,
            null::double[] as expected_present,
            null::double as expected_missing,
            null::bigint as reference_rows,
            null::bigint as rows_counted
        where false
    {%- endfor %}
),

bins as (
    -- One row per column and bin; the last bin holds the missing values.
    select
        baseline,
        column_name,
        is_output,
        reference_rows,
        rows_counted,
        expected_missing,
        unnest(range(1, len(observed) + 1)) as bin,
        unnest(observed) as observed_rows,
        unnest(list_transform(expected_present, lambda share: share * (1 - expected_missing)) || [expected_missing])
            as expected_share,
        len(observed) as bins
    from columns_counted
),

shares as (
    select
        *,
        observed_rows / nullif(rows_counted, 0) as observed_share,
        -- Present values only, cumulated over the bins in order, for the KS distance.
        sum(case when bin < bins then observed_rows end) over by_column
        / nullif(sum(case when bin < bins then observed_rows end) over whole_column, 0) as observed_cdf,
        sum(case when bin < bins then expected_share end) over by_column
        / nullif(1 - expected_missing, 0) as expected_cdf
    from bins
    window
        by_column as (partition by baseline, column_name order by bin rows between unbounded preceding and current row),
        whole_column as (partition by baseline, column_name)
),

measured as (
    select
        baseline,
        column_name,
        is_output,
        any_value(rows_counted) as rows_counted,
        any_value(reference_rows) as reference_rows,
        -- A share of 0 on either side is floored, as PSI is undefined there.
        sum(
            (greatest(observed_share, 1e-4) - greatest(expected_share, 1e-4))
            * ln(greatest(observed_share, 1e-4) / greatest(expected_share, 1e-4))
        ) as psi,
        coalesce(max(abs(observed_cdf - expected_cdf)) filter (where bin < bins), 0) as ks_distance,
        sum(observed_share) filter (where bin = bins) as missing_share,
        any_value(expected_missing) as reference_missing_share,
        sum(observed_rows) filter (where bin < bins) as present_rows
    from shares
    group by baseline, column_name, is_output
),

effective as (
    select
        *,
        -- The asymptotic two-sample KS test: effective size n m / (n + m) of present values.
        sqrt(
            present_rows * reference_rows * (1 - reference_missing_share)
            / nullif(present_rows + reference_rows * (1 - reference_missing_share), 0)
        ) as effective_rows
    from measured
),

tested as (
    select
        *,
        (effective_rows + 0.12 + 0.11 / nullif(effective_rows, 0)) * ks_distance as ks_lambda
    from effective
),

final as (
    select
        run.as_of_date,
        run.value_model,
        run.churn_model,
        run.segment_model,
        tested.baseline,
        tested.column_name,
        tested.is_output,
        tested.rows_counted,
        tested.psi,
        tested.ks_distance,
        -- Q_KS(lambda) = 2 sum_k (-1)^(k-1) exp(-2 k^2 lambda^2), three terms (enough where p < 1).
        least(1.0, greatest(0.0, 2 * (
            exp(-2 * pow(tested.ks_lambda, 2))
            - exp(-8 * pow(tested.ks_lambda, 2))
            + exp(-18 * pow(tested.ks_lambda, 2))
        ))) as ks_p_value,
        tested.missing_share,
        tested.reference_missing_share,
        tested.missing_share - tested.reference_missing_share as missing_share_change,
        case
            when tested.baseline != 'scoring' then 'reported'
            when tested.psi > {{ var('drift_alert_psi') }} then 'alert'
            when tested.psi > {{ var('drift_warning_psi') }} then 'warning'
            else 'ok'
        end as status,
        current_timestamp as measured_at
    from tested
    cross join run
    {% if is_incremental() %}
        where {{ run_not_recorded('run') }}
    {% endif %}
)

select * from final
