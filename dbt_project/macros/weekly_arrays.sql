{#-
    fct_customer_weekly_history's arrays: a SELECT of (customer_id, cutoff_date,
    <channel>_weekly..., cutoff_role) for every row of `spine` (cutoff_date, cutoff_role,
    customer_id), each array `weeks` long, oldest week first, from the sums of `weekly`
    (cutoff_date, customer_id, week 0..weeks-1, one column per channel), zeros where a week has
    no row.
-#}
{% macro weekly_arrays(weekly, spine, weeks, channels) -%}
    {{ return(adapter.dispatch('weekly_arrays', 'clv')(weekly, spine, weeks, channels)) }}
{%- endmacro %}

{#-
    DuckDB: the active weeks of each customer and cutoff as lists of plain values, one per
    channel and one of the weeks, all filled by the same aggregation in the same (unspecified)
    order, so element j of each belongs to week weeks[j]. Far cheaper than joining every customer
    to a grid of all weeks, or than one list of structs (whose fields each array would have to
    pick out again). For each week, its index in the lists; an inactive week points one past
    their end, where a 0 is appended. The arrays are made row by row after the join with the
    spine, so no step holds them all at once (the 1M shop's 6.4M rows are 8 GB of them).
-#}
{% macro default__weekly_arrays(weekly, spine, weeks, channels) -%}
    -- The linter reads the lambda parameter i as a table reference.
    -- noqa: disable=RF01,RF02,RF03
    select
        {{ spine }}.customer_id,
        {{ spine }}.cutoff_date,
        {%- for channel in channels %}
            case
                when positioned.weeks is null then zeros.history
                else list_select(
                        list_append(positioned.{{ channel }}, 0), positioned.week_positions
                    )::float[{{ weeks }}]
            end as {{ channel }}_weekly,
        {%- endfor %}
        {{ spine }}.cutoff_role
    from {{ spine }}
    left join (
        select
            sparse.*,
            list_transform(
                range({{ weeks }}), lambda i: coalesce(list_position(sparse.weeks, i), len(sparse.weeks) + 1)
            ) as week_positions
        from (
            select
                cutoff_date,
                customer_id,
                {%- for channel in channels %}
                    list({{ channel }}) as {{ channel }},
                {%- endfor %}
                list(week) as weeks
            from {{ weekly }}
            group by cutoff_date, customer_id
        ) as sparse
    ) as positioned
        on {{ spine }}.cutoff_date = positioned.cutoff_date and {{ spine }}.customer_id = positioned.customer_id
    cross join (select list_resize([]::float[], {{ weeks }}, 0)::float[{{ weeks }}] as history) as zeros
    -- noqa: enable=RF01,RF02,RF03
{%- endmacro %}

{#- Spark: each channel's active weeks as a map from week to value, read out week by week. -#}
{% macro spark__weekly_arrays(weekly, spine, weeks, channels) -%}
    select
        {{ spine }}.customer_id,
        {{ spine }}.cutoff_date,
        {%- for channel in channels %}
            case
                when sparse.customer_id is null then array_repeat(cast(0 as float), {{ weeks }})
                else transform(
                    sequence(0, {{ weeks - 1 }}),
                    i -> coalesce(try_element_at(sparse.{{ channel }}, i), cast(0 as float))
                )
            end as {{ channel }}_weekly,
        {%- endfor %}
        {{ spine }}.cutoff_role
    from {{ spine }}
    left join (
        select
            cutoff_date,
            customer_id,
            {%- for channel in channels %}
                map_from_entries(collect_list(struct(week, cast({{ channel }} as float)))) as {{ channel }}
                {%- if not loop.last %},{% endif %}
            {%- endfor %}
        from {{ weekly }}
        group by cutoff_date, customer_id
    ) as sparse
        on {{ spine }}.cutoff_date = sparse.cutoff_date and {{ spine }}.customer_id = sparse.customer_id
{%- endmacro %}
