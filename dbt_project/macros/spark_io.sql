{#-
    How the data gets in and out of a Spark build (`clv spark-build`, docs/SCALE.md); nothing
    on DuckDB, whose raw schema `clv load` fills and whose tables are read in place.
-#}

{#-
    on-run-start: the shop's tables (var spark_raw_tables: table name -> Parquet folder) as
    tables of database `raw`, where the sources read them. Without the var, `raw` is whatever the
    metastore already holds (a lakehouse's own tables).
-#}
{% macro register_raw_tables() -%}
    {{ return(adapter.dispatch('register_raw_tables', 'clv')()) }}
{%- endmacro %}
{% macro default__register_raw_tables() -%}
{%- endmacro %}
{% macro spark__register_raw_tables() -%}
    {%- set tables = var('spark_raw_tables', {}) %}
    {%- if execute and tables %}
        {%- do run_query('create database if not exists raw') %}
        {%- for name, folder in tables.items() %}
            {%- do run_query('drop table if exists raw.' ~ name) %}
            {%- do run_query('create table raw.' ~ name ~ " using parquet location '" ~ folder ~ "'") %}
        {%- endfor %}
    {%- endif %}
{%- endmacro %}

{#-
    on-run-end: the ml views and the cutoffs they were built for as Parquet folders under var
    spark_export_dir (one per relation), what training and `clv spark-score` read. Relations this
    run did not build are left out.
-#}
{% macro export_ml_sets() -%}
    {{ return(adapter.dispatch('export_ml_sets', 'clv')()) }}
{%- endmacro %}
{% macro default__export_ml_sets() -%}
{%- endmacro %}
{% macro spark__export_ml_sets() -%}
    {%- set folder = var('spark_export_dir', none) %}
    {%- if execute and folder %}
        {%- for schema, name in [(target.schema, 'ml_training_set'), (target.schema, 'ml_scoring_set'),
                                 (target.schema, 'ml_decision_set'), ('intermediate', 'int_cutoffs')] %}
            {%- set relation = adapter.get_relation(database=none, schema=schema, identifier=name) %}
            {%- if relation is not none %}
                {%- do run_query(
                    "insert overwrite directory '" ~ folder ~ "/" ~ name ~ "' using parquet select * from " ~ relation
                ) %}
            {%- endif %}
        {%- endfor %}
    {%- endif %}
{%- endmacro %}
