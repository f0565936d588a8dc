-- Drift of each scoring run: one row per scoring run (scoring date and model versions), baseline
-- and column. Three baselines (docs/MONITORING.md):
--
-- 'scoring' and 'training': the reference distributions in the champions' model cards, decile
-- bins of every feature and output (training/reference.py). The run's values are counted into
-- the same bins with DuckDB's histogram(x, boundaries) and compared: population stability index
-- (PSI, over the bins plus a bin for missing values), the Kolmogorov-Smirnov distance between
-- the binned present values with its asymptotic p-value, and the missing share. On 'scoring'
-- (the customers the model was put to work on) PSI above var drift_psi_warning warns and above
-- drift_psi_alert alerts: set well above the 0.2 of custom, as every shop's base ages and grows
-- away from a fixed reference (a steady shop's tenure reached 0.27 in a year). 'training' is
-- reported.
--
-- 'seasonal': each feature's year-over-year change (this run's customers against the latest
-- training cutoff of this build, about a year earlier), less the same change at training time
-- (stored in the card): a log ratio of means for rates, counts and amounts, a difference in
-- reference standard deviations for durations. Season and steady ageing cancel; a change in the
-- shop's dynamics does not. It alerts above var drift_shift_alert (activity features only, as
-- the card marks them: training/reference.py ALERTING_FEATURES), warns above
-- drift_shift_warning, when also beyond drift_shift_min_z standard errors.
--
-- Appended by `clv score` with score_history; a run already recorded is not counted again. A card
-- without reference statistics (trained before monitoring) gives no rows for its columns, a build
-- without a training cutoff a year before the run no seasonal rows; `clv score` says which
-- monitors are unavailable.
{{ config(materialized='incremental', full_refresh=false, on_schema_change='fail') }}

{%- set references = {} -%}
{%- if execute is sameas true -%}
    {%- for task in ['value', 'churn', 'segment'] -%}
        {%- set found = run_query("select clv_reference('" ~ task ~ "')").columns[0].values()[0] -%}
        {%- do references.update({task: fromjson(found) if found else none}) -%}
    {%- endfor -%}
{%- endif -%}
{%- set seasonal = references['value'].get('seasonal') if references.get('value') else none -%}
{%- set seasonal_columns = [] -%}
{%- if seasonal -%}
    {%- for feature, moments in seasonal['features'].items() -%}
        {%- set now, before = moments['scoring'], moments['year_before'] -%}
        {%- if now['mean'] is not none and before['mean'] is not none and now['variance'] -%}
            {%- do seasonal_columns.append((feature, moments['kind'], now, before, moments.get('alerts', true))) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif -%}
{#- Seasonal columns derived from the features, counts (training/reference.py DERIVED, kept in step). -#}
{%- set seasonal_derived = {'new_customers_30d': '(tenure_days < 30)::double'} -%}
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

year_before_cutoff as (
    -- The seasonal comparison: this run's customers and the shop at the latest training cutoff.
    select max(cutoff_date) as cutoff_date
    from {{ ref('int_cutoffs') }}
    where cutoff_role = 'training'
),

year_before as (
    select features.*
    from {{ ref('fct_customer_features') }} as features
    inner join year_before_cutoff on features.cutoff_date = year_before_cutoff.cutoff_date
    where features.cutoff_role = 'training'
),

{%- for source in ['scoring', 'year_before'] %}
{{ source }}_moments as (
    -- Missing features are NULL, which the aggregates skip (a FILTER against NaN would triple the
    -- cost; a NaN feature makes its shift NaN, which alerts or warns).
    select
        count(*) as rows_counted
        {%- for feature, kind, now, before, alerts in seasonal_columns %},
            {%- if feature in seasonal_derived %}
                {#- A count, as one Poisson observation (training/reference.py). #}
                1 as n{{ loop.index }},
                sum({{ seasonal_derived[feature] }}) as m{{ loop.index }},
                sum({{ seasonal_derived[feature] }}) as v{{ loop.index }}
            {%- else %}
                count({{ feature }}) as n{{ loop.index }},
                avg({{ feature }}) as m{{ loop.index }},
                var_samp({{ feature }}) as v{{ loop.index }}
            {%- endif %}
        {%- endfor %}
    from {{ source }}
),
{% endfor %}
seasonal_measured as (
    {%- for feature, kind, now, before, alerts in seasonal_columns %}
    select
        '{{ feature }}' as column_name,
        '{{ kind }}' as kind,
        {{ 'true' if alerts else 'false' }} as alerts,
        now_.rows_counted,
        now_.n{{ loop.index }}::double as n_now,
        now_.m{{ loop.index }} as m_now,
        now_.v{{ loop.index }} as v_now,
        before_.n{{ loop.index }}::double as n_before,
        before_.m{{ loop.index }} as m_before,
        before_.v{{ loop.index }} as v_before,
        {{ now['rows'] }}::double as n_ref,
        {{ now['mean'] }}::double as m_ref,
        {{ now['variance'] }}::double as v_ref,
        {{ before['rows'] }}::double as n_ref_before,
        {{ before['mean'] }}::double as m_ref_before,
        {{ before['variance'] }}::double as v_ref_before
    from scoring_moments as now_
    cross join year_before_moments as before_
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
        select
            null::varchar as column_name,
            null::varchar as kind,
            null::boolean as alerts,
            null::bigint as rows_counted,
            null::double as n_now,
            null::double as m_now,
            null::double as v_now,
            null::double as n_before,
            null::double as m_before,
            null::double as v_before,
            null::double as n_ref,
            null::double as m_ref,
            null::double as v_ref,
            null::double as n_ref_before,
            null::double as m_ref_before,
            null::double as v_ref_before
        where false
    {%- endfor %}
),

seasonal_gap as (
    -- Both comparisons span about a year, or the seasons would not cancel.
    select
        run.as_of_date - year_before_cutoff.cutoff_date between 335 and 400
        {%- if seasonal %}
            and date '{{ seasonal["scoring_date"] }}' - date '{{ seasonal["year_before_date"] }}' between 335 and 400
        {%- endif %} as comparable
    from run
    cross join year_before_cutoff
),

seasonal_shifted as (
    -- A ratio feature's means are floored just above zero: a count that stops entirely is a
    -- shift far beyond any threshold, not a division by zero. Standard errors by the delta method.
    select
        column_name,
        alerts,
        rows_counted,
        case
            when kind = 'ratio'
                then ln(greatest(m_now, 1e-12) / greatest(m_before, 1e-12)) - ln(m_ref / m_ref_before)
            else ((m_now - m_before) - (m_ref - m_ref_before)) / sqrt(v_ref)
        end as shift,
        case
            when kind = 'ratio' then sqrt(
                v_now / nullif(n_now * pow(greatest(m_now, 1e-12), 2), 0)
                + v_before / nullif(n_before * pow(greatest(m_before, 1e-12), 2), 0)
                + v_ref / (n_ref * pow(m_ref, 2))
                + v_ref_before / (n_ref_before * pow(m_ref_before, 2))
            )
            else sqrt(
                v_now / nullif(n_now, 0) + v_before / nullif(n_before, 0) + v_ref / n_ref + v_ref_before / n_ref_before
            ) / sqrt(v_ref)
        end as shift_error
    from seasonal_measured
    where (select seasonal_gap.comparable from seasonal_gap)
),

compared as (
    select
        baseline,
        column_name,
        is_output,
        rows_counted,
        psi,
        ks_distance,
        -- Q_KS(lambda) = 2 sum_k (-1)^(k-1) exp(-2 k^2 lambda^2), three terms (enough where p < 1).
        least(1.0, greatest(0.0, 2 * (
            exp(-2 * pow(ks_lambda, 2))
            - exp(-8 * pow(ks_lambda, 2))
            + exp(-18 * pow(ks_lambda, 2))
        ))) as ks_p_value,
        missing_share,
        reference_missing_share,
        null::double as shift,
        null::double as shift_z,
        false as alerts
    from tested
    union all
    select
        'seasonal' as baseline,
        column_name,
        false as is_output,
        rows_counted,
        null::double as psi,
        null::double as ks_distance,
        null::double as ks_p_value,
        null::double as missing_share,
        null::double as reference_missing_share,
        shift,
        shift / nullif(shift_error, 0) as shift_z,
        alerts
    from seasonal_shifted
),

final as (
    select
        run.as_of_date,
        run.value_model,
        run.churn_model,
        run.segment_model,
        compared.baseline,
        compared.column_name,
        compared.is_output,
        compared.rows_counted,
        compared.psi,
        compared.ks_distance,
        compared.ks_p_value,
        compared.missing_share,
        compared.reference_missing_share,
        compared.missing_share - compared.reference_missing_share as missing_share_change,
        compared.shift,
        compared.shift_z,
        case
            when compared.baseline = 'training' then 'reported'
            when compared.baseline = 'scoring' and compared.psi > {{ var('drift_psi_alert') }} then 'alert'
            when compared.baseline = 'scoring' and compared.psi > {{ var('drift_psi_warning') }} then 'warning'
            when compared.baseline = 'scoring' then 'ok'
            when abs(compared.shift_z) <= {{ var('drift_shift_min_z') }} then 'ok'
            when compared.alerts and abs(compared.shift) > {{ var('drift_shift_alert') }} then 'alert'
            when abs(compared.shift) > {{ var('drift_shift_warning') }} then 'warning'
            else 'ok'
        end as status,
        current_timestamp as measured_at
    from compared
    cross join run
    {% if is_incremental() %}
        where {{ run_not_recorded('run') }}
    {% endif %}
)

select * from final
