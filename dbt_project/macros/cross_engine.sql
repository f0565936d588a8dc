{#-
    SQL that is written differently on DuckDB and on Spark, one macro per construct. Each
    dispatches through adapter.dispatch: default__ is DuckDB's form (the project's home engine),
    spark__ Spark SQL's, so a model stays one file that builds on either (docs/SCALE.md).
-#}

{#- Whole days from start_date to end_date (both DATE). -#}
{% macro days_between(start_date, end_date) -%}
    {{ return(adapter.dispatch('days_between', 'clv')(start_date, end_date)) }}
{%- endmacro %}
{% macro default__days_between(start_date, end_date) -%}
    date_diff('day', {{ start_date }}, {{ end_date }})
{%- endmacro %}
{% macro spark__days_between(start_date, end_date) -%}
    datediff({{ end_date }}, {{ start_date }})
{%- endmacro %}

{#- A list of DATE values from a list of 'YYYY-MM-DD' strings. -#}
{% macro date_list(dates) -%}
    {{ return(adapter.dispatch('date_list', 'clv')(dates)) }}
{%- endmacro %}
{% macro default__date_list(dates) -%}
    [{%- for d in dates %}cast('{{ d }}' as date){% if not loop.last %}, {% endif %}{% endfor -%}]
{%- endmacro %}
{% macro spark__date_list(dates) -%}
    array({%- for d in dates %}cast('{{ d }}' as date){% if not loop.last %}, {% endif %}{% endfor -%})
{%- endmacro %}

{#- One row per element of a list, as a select-list item. -#}
{% macro unnest_list(values) -%}
    {{ return(adapter.dispatch('unnest_list', 'clv')(values)) }}
{%- endmacro %}
{% macro default__unnest_list(values) -%}
    unnest({{ values }})
{%- endmacro %}
{% macro spark__unnest_list(values) -%}
    explode({{ values }})
{%- endmacro %}

{#- Every day from first_day to last_day (both DATE), one row each, as a select-list item. -#}
{% macro day_sequence(first_day, last_day) -%}
    {{ return(adapter.dispatch('day_sequence', 'clv')(first_day, last_day)) }}
{%- endmacro %}
{% macro default__day_sequence(first_day, last_day) -%}
    cast(unnest(generate_series(
        cast({{ first_day }} as timestamp), cast({{ last_day }} as timestamp), interval 1 day
    )) as date)
{%- endmacro %}
{% macro spark__day_sequence(first_day, last_day) -%}
    explode(sequence({{ first_day }}, {{ last_day }}, interval 1 day))
{%- endmacro %}

{#- A relation of the integers 0 to n - 1 in column k. -#}
{% macro integers_below(n) -%}
    {{ return(adapter.dispatch('integers_below', 'clv')(n)) }}
{%- endmacro %}
{% macro default__integers_below(n) -%}
    (select cast(range as integer) as k from range({{ n }}))
{%- endmacro %}
{% macro spark__integers_below(n) -%}
    (select cast(id as integer) as k from range({{ n }}))
{%- endmacro %}

{#- The DATE `months` calendar months before `day` (the month's last day when it is shorter). -#}
{% macro months_before(day, months) -%}
    {{ return(adapter.dispatch('months_before', 'clv')(day, months)) }}
{%- endmacro %}
{% macro default__months_before(day, months) -%}
    cast({{ day }} - to_months({{ months }}) as date)
{%- endmacro %}
{% macro spark__months_before(day, months) -%}
    add_months({{ day }}, -{{ months }})
{%- endmacro %}

{#- A timestamp's hour as text, 'YYYYMMDDHH'. -#}
{% macro hour_key(ts) -%}
    {{ return(adapter.dispatch('hour_key', 'clv')(ts)) }}
{%- endmacro %}
{% macro default__hour_key(ts) -%}
    strftime({{ ts }}, '%Y%m%d%H')
{%- endmacro %}
{% macro spark__hour_key(ts) -%}
    date_format({{ ts }}, 'yyyyMMddHH')
{%- endmacro %}

{#- Every column of `relation` (a table alias, or '' for the single relation of a select) but `columns`. -#}
{% macro star_except(relation, columns) -%}
    {{ return(adapter.dispatch('star_except', 'clv')(relation, columns)) }}
{%- endmacro %}
{% macro default__star_except(relation, columns) -%}
    {% if relation %}{{ relation }}.{% endif %}* exclude ({{ columns | join(', ') }})
{%- endmacro %}
{% macro spark__star_except(relation, columns) -%}
    {% if relation %}{{ relation }}.{% endif %}* except ({{ columns | join(', ') }})
{%- endmacro %}

{#- Integer division of non-negative integers, rounding down. -#}
{% macro int_div(numerator, denominator) -%}
    {{ return(adapter.dispatch('int_div', 'clv')(numerator, denominator)) }}
{%- endmacro %}
{% macro default__int_div(numerator, denominator) -%}
    {{ numerator }} // {{ denominator }}
{%- endmacro %}
{% macro spark__int_div(numerator, denominator) -%}
    {{ numerator }} div {{ denominator }}
{%- endmacro %}

{#- The smallest element of a numeric list. -#}
{% macro list_least(values) -%}
    {{ return(adapter.dispatch('list_least', 'clv')(values)) }}
{%- endmacro %}
{% macro default__list_least(values) -%}
    list_min({{ values }})
{%- endmacro %}
{% macro spark__list_least(values) -%}
    array_min({{ values }})
{%- endmacro %}

{#- The sum of elements first to last (1-based, both included) of a numeric list; all of it by default. -#}
{% macro list_total(values, first=none, last=none) -%}
    {{ return(adapter.dispatch('list_total', 'clv')(values, first, last)) }}
{%- endmacro %}
{% macro default__list_total(values, first, last) -%}
    list_sum({{ values }}{% if first is not none %}[{{ first }}:{{ last }}]{% endif %})
{%- endmacro %}
{% macro spark__list_total(values, first, last) -%}
    {%- set part = values if first is none else 'slice(' ~ values ~ ', ' ~ first ~ ', ' ~ (last - first + 1) ~ ')' -%}
    aggregate({{ part }}, cast(0 as double), (total, v) -> total + v)
{%- endmacro %}

{#-
    The per-cutoff marts (fct_customer_features, fct_customer_weekly_history) are incremental on
    DuckDB: a run rebuilds only new cutoffs and the scoring cutoff, and drops cutoffs no longer
    wanted (delete+insert). Spark's Parquet tables cannot delete rows, so there they are rebuilt
    whole each run.
-#}
{% macro cutoff_materialization() -%}
    {{ return(adapter.dispatch('cutoff_materialization', 'clv')()) }}
{%- endmacro %}
{% macro default__cutoff_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}
{% macro spark__cutoff_materialization() -%}
    {{ return('table') }}
{%- endmacro %}

{#- The post-hook of an incremental per-cutoff mart: drop the cutoffs int_cutoffs no longer has. -#}
{% macro drop_stale_cutoffs(relation) -%}
    {{ return(adapter.dispatch('drop_stale_cutoffs', 'clv')(relation)) }}
{%- endmacro %}
{% macro default__drop_stale_cutoffs(relation) -%}
    delete from {{ relation }} where cutoff_date not in (select cutoff_date from {{ ref('int_cutoffs') }})
{%- endmacro %}
{% macro spark__drop_stale_cutoffs(relation) -%}
    {#- a table rebuilt whole holds only the cutoffs of int_cutoffs -#}
{%- endmacro %}
