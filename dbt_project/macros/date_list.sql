{#- A SQL list of DATE values from a list of 'YYYY-MM-DD' strings. -#}
{% macro date_list(dates) -%}
    [{%- for d in dates %}cast('{{ d }}' as date){% if not loop.last %}, {% endif %}{% endfor -%}]
{%- endmacro %}
