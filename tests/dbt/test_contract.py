"""One feature contract: the dbt views, the project's categories and udfs.contract agree."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from udfs import contract

pytestmark = pytest.mark.fast  # make test-fast: no shop, no dbt

DBT = Path(__file__).resolve().parents[2] / "dbt_project"


def columns_of(model: str) -> list[tuple[str, str]]:
    spec = yaml.safe_load((DBT / "models" / "marts" / "ml" / "_ml__models.yml").read_text())
    node = next(m for m in spec["models"] if m["name"] == model)
    assert node["config"]["contract"]["enforced"] is True
    return [(c["name"], c["data_type"].upper()) for c in node["columns"]]


def test_scoring_view_yaml_is_the_contract():
    expected = list(contract.KEY_COLUMNS) + [(f, contract.FEATURE_TYPE) for f in contract.FEATURES]
    assert columns_of("ml_scoring_set") == expected


def test_training_view_yaml_is_the_contract_plus_labels():
    expected = (
        list(contract.KEY_COLUMNS) + [(f, contract.FEATURE_TYPE) for f in contract.FEATURES] + list(contract.LABELS)
    )
    assert columns_of("ml_training_set") == expected


def test_project_categories_are_the_contracts():
    project = yaml.safe_load((DBT / "dbt_project.yml").read_text())
    cats = project["vars"]["feature_categories"]
    assert tuple(cats["channel"]) == contract.CHANNELS
    assert tuple(cats["region"]) == contract.REGIONS
    assert tuple(cats["age"]) == contract.AGE_BANDS
    assert tuple(cats["gender"]) == contract.GENDERS


def test_spec_hash_changes_with_names_and_order():
    assert contract.spec_hash() == contract.spec_hash(contract.FEATURES)
    swapped = (contract.FEATURES[1], contract.FEATURES[0], *contract.FEATURES[2:])
    assert contract.spec_hash(swapped) != contract.spec_hash()
    assert contract.spec_hash(contract.FEATURES[:-1]) != contract.spec_hash()


def test_differences_name_the_features():
    assert contract.differences(list(contract.FEATURES)) == ""
    missing = [f for f in contract.FEATURES if f != "frequency"] + ["colour"]
    text = contract.differences(missing)
    assert "missing ['frequency']" in text and "unexpected ['colour']" in text
    swapped = [contract.FEATURES[1], contract.FEATURES[0], *contract.FEATURES[2:]]
    assert "order differs from position 0" in contract.differences(swapped)
