{#- Column-name form of a category value, as udfs.contract.slug: "UK and Ireland" -> uk_and_ireland. -#}
{% macro slug(value) -%}
    {{- value | lower | replace(' ', '_') | replace('-', '_') | replace('+', '_plus') -}}
{%- endmacro %}
