"""The ``clv`` command line: a thin layer over ``ingest``, ``training`` and ``udfs``."""

__version__ = "0.1.0"
