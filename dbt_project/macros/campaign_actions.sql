{#-
    The actions of the campaign history (every action but 'none'), sorted, as (name, column name)
    pairs: the column name is the action lower-cased with every run of other characters made one
    underscore ("10% Coupon" -> "10_coupon"), as udfs.actions.action_column.
-#}
{% macro campaign_actions() %}
    {%- if not execute %}
        {{ return([]) }}
    {%- endif %}
    {%- set rows = run_query(
        "select distinct action from " ~ ref('stg_shop__campaigns') ~ " where action <> 'none' order by 1"
    ) %}
    {%- set out = [] %}
    {%- set seen = {} %}
    {%- for name in rows.columns[0].values() %}
        {%- set column = action_column(name) %}
        {%- if column == '' %}
            {{ exceptions.raise_compiler_error(
                "campaign action '" ~ name ~ "' has no letter or digit: rename it in your campaigns file") }}
        {%- endif %}
        {%- if column in seen %}
            {{ exceptions.raise_compiler_error(
                "campaign actions '" ~ seen[column] ~ "' and '" ~ name ~ "' both give the column name '" ~ column
                ~ "': rename one in your campaigns file") }}
        {%- endif %}
        {%- do seen.update({column: name}) %}
        {%- do out.append((name, column)) %}
    {%- endfor %}
    {{ return(out) }}
{% endmacro %}

{% macro action_column(name) -%}
    {{- modules.re.sub('[^a-z0-9]+', '_', name | lower).strip('_') -}}
{%- endmacro %}
