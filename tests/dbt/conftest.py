"""Fixtures for the feature layer: a small shop loaded and built once per session."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from clv.build import BuildResult, build_features
from ingest import generate_shop
from ingest.generator import GeneratedShop
from ingest.loader import load_files
from tests.conftest import shop_inputs


@dataclass(frozen=True)
class BuiltShop:
    shop: GeneratedShop
    db: Path
    result: BuildResult


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltShop:
    """A 3,000-customer shop, loaded and built with the default vars."""
    root = tmp_path_factory.mktemp("built")
    shop = generate_shop(root / "shop", customers=3_000, seed=21)
    db = root / "clv.duckdb"
    load_files(db, shop_inputs(shop))
    return BuiltShop(shop, db, build_features(db))


def copy_db(db: Path, to: Path) -> Path:
    """A private copy of a database for a test that changes it."""
    to.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(db, to)
    return to
