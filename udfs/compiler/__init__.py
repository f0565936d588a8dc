"""Registered models compiled to plain DuckDB SQL, so any DuckDB client can score without Python.

``graph`` turns a model's ONNX graph into one SQL expression over a feature row; ``operators``,
``trees`` and ``series`` translate its operators; ``champions`` writes the champions into a
database as macros with the Python functions' names and call shape.
"""
