{#- A scoring run is its scoring date and the three model versions that scored it. The history
    marts (score_history, monitor_drift) append a run only when it is not recorded yet, so that
    scoring twice changes nothing. `run` names the relation carrying the run's columns. -#}
{% macro run_not_recorded(run) %}
    not exists (
        select 1
        from {{ this }} as recorded
        where {{ same_run('recorded', run) }}
    )
{% endmacro %}

{#- Join condition: the rows of `left` and `right` belong to the same scoring run. -#}
{% macro same_run(left, right) -%}
    {{ left }}.as_of_date = {{ right }}.as_of_date
    and {{ left }}.value_model = {{ right }}.value_model
    and {{ left }}.churn_model = {{ right }}.churn_model
    and {{ left }}.segment_model = {{ right }}.segment_model
{%- endmacro %}

{#- monitor_accuracy keeps a run once its churn window and horizon have both elapsed: `run` names
    the relation carrying the run's columns, true when the run is not kept yet. -#}
{% macro run_not_final(run) %}
    not exists (
        select 1
        from {{ this }} as final_runs
        where
            {{ same_run('final_runs', run) }}
            and final_runs.value_matured
            and final_runs.churn_matured
    )
{% endmacro %}
