{#-
    Sample standard deviation from exact sums (x must be DECIMAL or an integer type).
    DuckDB combines float aggregate states from parallel threads in no fixed order, so
    stddev_samp over doubles can differ in the last bits between runs; sums of DECIMAL and
    integer values are exact, which makes this deterministic. NULL for fewer than two values.
-#}
{% macro exact_stddev(x) -%}
    sqrt(greatest(
        (cast(sum({{ x }} * {{ x }}) as double)
         - cast(sum({{ x }}) as double) * cast(sum({{ x }}) as double) / count({{ x }}))
        / nullif(count({{ x }}) - 1, 0),
        0
    ))
{%- endmacro %}
