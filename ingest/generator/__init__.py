"""The sample-shop generator: a buy-till-you-die shop with behaviour, items, returns and truth."""

from duckdb_clv.ingest.generator.generate import TABLES, GeneratedShop, generate_shop
from duckdb_clv.ingest.generator.oracle import oracle
from duckdb_clv.ingest.generator.params import ShopParams, ShopSpec

__all__ = ["TABLES", "GeneratedShop", "ShopParams", "ShopSpec", "generate_shop", "oracle"]
