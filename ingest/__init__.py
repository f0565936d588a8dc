"""Ingestion: the sample-shop generator and validated loading into DuckDB schema ``raw``."""

from duckdb_clv.ingest.errors import GenerateError, IngestError, LoadError
from duckdb_clv.ingest.generator import GeneratedShop, generate_shop

__all__ = ["GenerateError", "GeneratedShop", "IngestError", "LoadError", "generate_shop"]
