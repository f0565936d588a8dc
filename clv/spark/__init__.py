"""The same features and models on Apache Spark (docs/SCALE.md): the dbt project built by
dbt-spark, and the registry's ONNX models run over Spark DataFrames.

Needs the ``spark`` extra (``pip install 'duckdb-clv[spark]'``) and a Java runtime; nothing else in
the package imports this subpackage, so DuckDB-only installs never load pyspark.
"""
