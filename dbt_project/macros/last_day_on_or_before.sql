{#-
    For each row of `spine` (cutoff_date, customer_id), the customer's latest `day_column` of
    `days` (customer_id, day_column) on or before the cutoff: a SELECT of (cutoff_date,
    customer_id, last_on), without the rows that have no such day.
-#}
{% macro last_day_on_or_before(spine, days, day_column) -%}
    {{ return(adapter.dispatch('last_day_on_or_before', 'clv')(spine, days, day_column)) }}
{%- endmacro %}

{#- DuckDB: an ASOF join. -#}
{% macro default__last_day_on_or_before(spine, days, day_column) -%}
    select
        {{ spine }}.cutoff_date,
        {{ spine }}.customer_id,
        {{ days }}.{{ day_column }} as last_on
    from {{ spine }}
    asof inner join {{ days }}
        on {{ spine }}.customer_id = {{ days }}.customer_id and {{ spine }}.cutoff_date >= {{ days }}.{{ day_column }}
{%- endmacro %}

{#- Spark has no ASOF join: the cutoffs and the days of a customer in one sorted run, where each
    cutoff takes the latest day before it (a day on the cutoff day sorts first, so it counts). -#}
{% macro spark__last_day_on_or_before(spine, days, day_column) -%}
    select
        cutoff_date,
        customer_id,
        last_on
    from (
        select
            customer_id,
            day as cutoff_date,
            is_cutoff,
            max(case when not is_cutoff then day end) over (
                partition by customer_id order by day, is_cutoff rows between unbounded preceding and current row
            ) as last_on
        from (
            select
                customer_id,
                cutoff_date as day,
                true as is_cutoff
            from {{ spine }}
            union all
            select
                customer_id,
                {{ day_column }} as day,
                false as is_cutoff
            from {{ days }}
        ) as days_and_cutoffs
    ) as running
    where is_cutoff and last_on is not null
{%- endmacro %}
