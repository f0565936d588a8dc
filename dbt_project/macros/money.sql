{#-
    Money as DECIMAL(18, 3): sums of decimals are exact, so aggregates do not depend on the order
    in which parallel threads combine them (float sums do). Three decimals keep every currency's
    minor unit.
-#}
{% macro money(x) -%}
    cast({{ x }} as decimal(18, 3))
{%- endmacro %}
