"""Session fixtures: small generated shops, built once and shared (read-only) by the tests."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from duckdb_clv import pipeline
from duckdb_clv.build import BuildResult
from duckdb_clv.ingest import generate_shop
from duckdb_clv.ingest.generator import GeneratedShop
from duckdb_clv.score import ScoreResult
from duckdb_clv.settings import make_settings

SHOP_TABLES = ("customers", "orders", "order_items", "returns", "events")


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> GeneratedShop:
    """A clean 20,000-customer shop over four years, in Parquet."""
    return generate_shop(tmp_path_factory.mktemp("shop"), customers=20_000, seed=7, workers=2)


@pytest.fixture(scope="session")
def dirty_csv_shop(tmp_path_factory: pytest.TempPathFactory) -> GeneratedShop:
    """A dirty 8,000-customer shop written as CSV (with malformed lines)."""
    return generate_shop(tmp_path_factory.mktemp("dirty_csv"), customers=8_000, seed=11, dirty=True, fmt="csv")


@pytest.fixture(scope="session")
def dirty_parquet_shop(tmp_path_factory: pytest.TempPathFactory) -> GeneratedShop:
    """A dirty 8,000-customer shop written as Parquet (text-typed order columns)."""
    return generate_shop(tmp_path_factory.mktemp("dirty_pq"), customers=8_000, seed=12, dirty=True)


def shop_inputs(shop: GeneratedShop) -> dict[str, list[str]]:
    """``load_files`` inputs for every shop table."""
    return {t: [str(shop.files[t])] for t in SHOP_TABLES}


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write a small input file for a test and return its path."""
    path.write_text(text, encoding=encoding)
    return path


@dataclass(frozen=True)
class BuiltShop:
    shop: GeneratedShop
    db: Path
    result: BuildResult


def build_shop(root: Path) -> BuiltShop:
    """Generate the 3,000-customer test shop (seed 21) under ``root``, load it and build it."""
    shop = generate_shop(root / "shop", customers=3_000, seed=21)
    settings = make_settings(db=str(root / "clv.duckdb"))
    pipeline.load(settings, shop_inputs(shop))
    return BuiltShop(shop, Path(settings.db), pipeline.build(settings))


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltShop:
    """A 3,000-customer shop, loaded and built with the default vars."""
    return build_shop(tmp_path_factory.mktemp("built"))


def build_campaign_shop(root: Path) -> BuiltShop:
    """Generate the 4,000-customer test shop with campaigns from 2023-01 (seed 21), load it and build it."""
    from dataclasses import replace

    from duckdb_clv.ingest.generator import ShopParams

    shop = generate_shop(
        root / "shop", customers=4_000, seed=21, workers=2, params=replace(ShopParams(), campaign_start="2023-01-01")
    )
    settings = make_settings(db=str(root / "clv.duckdb"))
    pipeline.load(settings, shop_inputs(shop) | {"campaigns": [str(shop.files["campaigns"])]})
    return BuiltShop(shop, Path(settings.db), pipeline.build(settings))


@pytest.fixture(scope="session")
def built_campaigns(tmp_path_factory: pytest.TempPathFactory) -> BuiltShop:
    """A 4,000-customer shop with a campaign history, loaded and built with the default vars."""
    return build_campaign_shop(tmp_path_factory.mktemp("built_campaigns"))


# Fixed cutoffs: a scoring date and two training cutoffs, too few for a time split.
FIXED_CUTOFFS = {"as_of_date": "2026-01-01", "training_cutoffs": ["2024-06-30", "2024-09-30"]}


@pytest.fixture(scope="session")
def built_fixed(built: BuiltShop, tmp_path_factory: pytest.TempPathFactory) -> BuiltShop:
    """``built``'s data rebuilt with ``FIXED_CUTOFFS``: point-in-time checks and the baseline-only path share it."""
    settings = make_settings(
        db=str(copy_db(built.db, tmp_path_factory.mktemp("fixed") / "clv.duckdb")), **FIXED_CUTOFFS
    )
    return BuiltShop(built.shop, Path(settings.db), pipeline.build(settings, full_refresh=True))


@dataclass(frozen=True)
class TrainedShop:
    built: BuiltShop
    models: Path
    result: object  # training.pipeline.TrainResult


def train_shop(built: BuiltShop, root: Path) -> TrainedShop:
    """Every model family trained on ``built`` with a small budget (seed 0), into registry ``root``."""
    from duckdb_clv.training.pipeline import TrainSettings, train_models

    settings = TrainSettings(seed=0, trials=1, threads=2, max_iter=60, forest_trees=30, max_epochs=6)
    return TrainedShop(built, root, train_models(built.db, root, settings))


@pytest.fixture(scope="session")
def trained(built: BuiltShop, tmp_path_factory: pytest.TempPathFactory) -> TrainedShop:
    """Every model family trained on ``built`` with a small budget, in a registry of its own."""
    return train_shop(built, tmp_path_factory.mktemp("registry"))


def sequence_settings():
    """The training run with the sequence models (not in the default families) and a fused model of them."""
    from duckdb_clv.training.pipeline import TrainSettings

    return TrainSettings(
        seed=0,
        trials=1,
        threads=2,
        max_epochs=4,
        sequence_rows=5_000,
        families=("btyd", "lstm", "cnn", "fused", "kmeans"),
    )


@pytest.fixture(scope="session")
def sequence_run(built: BuiltShop, tmp_path_factory: pytest.TempPathFactory):
    """(registry, TrainResult) of ``sequence_settings()`` on ``built``: LSTM, CNN and fused models."""
    from duckdb_clv.training.pipeline import train_models

    root = tmp_path_factory.mktemp("sequence_models")
    return root, train_models(built.db, root, sequence_settings())


@pytest.fixture(scope="session")
def trained_campaigns(built_campaigns: BuiltShop, tmp_path_factory: pytest.TempPathFactory) -> TrainedShop:
    """Every default family and both policies trained on the campaign shop, in a registry of its own."""
    return train_shop(built_campaigns, tmp_path_factory.mktemp("registry_campaigns"))


@pytest.fixture(scope="session")
def scored_campaigns(
    trained_campaigns: TrainedShop, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, ScoreResult]:
    """A copy of the campaign shop's database and registry with customer_scores and campaign_plan built."""
    return score_shop(trained_campaigns, tmp_path_factory.mktemp("scored_campaigns"))


def score_shop(trained: TrainedShop, root: Path) -> tuple[Path, Path, ScoreResult]:
    """A copy of ``trained``'s database and registry under ``root``, with customer_scores built by dbt."""
    db = copy_db(trained.built.db, root / "clv.duckdb")
    models = root / "models"
    shutil.copytree(trained.models, models)
    return db, models, pipeline.score(make_settings(db=str(db), models_dir=str(models)))


@pytest.fixture(scope="session")
def scored(trained: TrainedShop, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, ScoreResult]:
    """A copy of ``trained``'s database and registry with customer_scores built by dbt."""
    return score_shop(trained, tmp_path_factory.mktemp("scored"))


def copy_db(db: Path, to: Path) -> Path:
    """A private copy of a database for a test that changes it."""
    to.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(db, to)
    return to


def onnx_scores(trained: TrainedShop, task: str, X: np.ndarray, name: str | None = None) -> np.ndarray:
    """What onnxruntime returns, as float64, for the task's champion (or ``name``'s latest) on ``X``."""
    from duckdb_clv.udfs import functions, registry

    pointer = registry.champion(trained.models, task)
    name = name or pointer["name"]
    version = pointer["version"] if name == pointer["name"] else registry.versions(trained.models, name)[-1]
    model = functions.cache_for(trained.models).get(name, version)
    return model.run(np.ascontiguousarray(X, dtype=np.float32)).ravel().astype(np.float64)


def oracle_against_what_happened(shop: GeneratedShop, pred: object, cutoff: str) -> tuple[float, float, float, float]:
    """(predicted total, realised total, mean P(order), share who ordered) over the 365 days after ``cutoff``.

    ``pred`` is the oracle's table; the realised net value of each customer it covers counts
    refunds received inside the window.
    """
    import duckdb

    con = duckdb.connect()
    con.register("pred", pred)
    orders, returns = shop.files["orders"], shop.files["returns"]
    return con.execute(
        f"""
        WITH refunds AS (SELECT order_id, sum(refund_amount) r FROM read_parquet('{returns}')
                         WHERE returned_at < DATE '{cutoff}' + 366 GROUP BY 1),
        future AS (SELECT customer_id, sum(amount - coalesce(r, 0)) v FROM read_parquet('{orders}')
                   LEFT JOIN refunds USING (order_id)
                   WHERE ordered_at >= DATE '{cutoff}' + 1 AND ordered_at < DATE '{cutoff}' + 366 GROUP BY 1)
        SELECT sum(expected_value), sum(coalesce(v, 0)), avg(p_order), avg((v IS NOT NULL)::INT)
        FROM pred LEFT JOIN future USING (customer_id)
        """
    ).fetchone()
