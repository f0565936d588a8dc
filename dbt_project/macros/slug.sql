{#- Column-name form of a category value, as udfs.contract.slug: "UK and Ireland" -> uk_and_ireland. -#}
{% macro slug(value) -%}
    {%- set out = modules.re.sub('[^a-z0-9]+', '_', value | lower) | trim('_') -%}
    {%- if out == '65' -%}65_plus{%- else -%}{{ out }}{%- endif -%}
{%- endmacro %}
