"""Scoring in SQL: DuckDB UDFs over ONNX models, run by onnxruntime.

Runtime-only by design: this package may import duckdb, onnxruntime, numpy and pyarrow, and
never torch or scikit-learn (``tests/udfs/test_imports.py`` holds it to that). The functions
themselves arrive with issue #5.
"""
