"""The sample-shop generator: a buy-till-you-die shop with behaviour, items, returns and truth."""

from ingest.generator.generate import TABLES, GeneratedShop, generate_shop
from ingest.generator.oracle import oracle
from ingest.generator.params import ShopParams, ShopSpec

__all__ = ["TABLES", "GeneratedShop", "ShopParams", "ShopSpec", "generate_shop", "oracle"]
