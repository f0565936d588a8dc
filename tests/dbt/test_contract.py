"""One feature contract: the dbt views, the project's categories and udfs.contract agree."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jinja2
import pytest
import yaml

from duckdb_clv.udfs import contract, contract_files

pytestmark = pytest.mark.fast  # make test-fast: no shop, no dbt

DBT = Path(__file__).resolve().parents[2] / "dbt_project"


def columns_of(model: str, engine: str = "duckdb") -> list[tuple[str, str]]:
    """The enforced columns of a view's YAML and their types as dbt renders them for ``engine``."""
    spec = yaml.safe_load((DBT / "models" / "marts" / "ml" / "_ml__models.yml").read_text())
    node = next(m for m in spec["models"] if m["name"] == model)
    assert node["config"]["contract"]["enforced"] is True
    target = {"type": engine}
    return [(c["name"], jinja2.Template(c["data_type"]).render(target=target).upper()) for c in node["columns"]]


HISTORY = [(c, contract.SEQUENCE_TYPE) for c in contract.SEQUENCE_COLUMNS]


def test_scoring_view_yaml_is_the_contract():
    expected = list(contract.KEY_COLUMNS) + [(f, contract.FEATURE_TYPE) for f in contract.FEATURES] + HISTORY
    assert columns_of("ml_scoring_set") == expected


def test_training_view_yaml_is_the_contract_plus_labels():
    expected = (
        list(contract.KEY_COLUMNS)
        + [(f, contract.FEATURE_TYPE) for f in contract.FEATURES]
        + HISTORY
        + list(contract.LABELS)
    )
    assert columns_of("ml_training_set") == expected


def test_on_spark_the_contract_reads_sparks_type_names():
    duckdb_types = dict(columns_of("ml_training_set"))
    spark_types = dict(columns_of("ml_training_set", "spark"))
    renamed = {duckdb_types[c]: t for c, t in spark_types.items() if t != duckdb_types[c]}
    assert renamed == {"VARCHAR": "STRING", "INTEGER": "INT", contract.SEQUENCE_TYPE: "ARRAY<FLOAT>"}


def test_the_generated_dbt_files_are_what_the_contract_renders():
    # `make contract` writes them; a hand edit, or a contract change without it, shows here.
    assert contract_files.stale() == []


def test_a_stale_generated_file_is_named_with_the_fix(tmp_path, capsys, monkeypatch):
    for rel, text in contract_files.rendered().items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    macros = tmp_path / contract_files.MACROS
    macros.write_text(macros.read_text().replace("'paid_social', ", ""))
    assert contract_files.stale(tmp_path) == [contract_files.MACROS]
    monkeypatch.setattr(contract_files, "DBT_PROJECT", tmp_path)
    assert contract_files.main(["--check"]) == 1
    assert "contract.sql differs from udfs/contract.py: run `make contract`" in capsys.readouterr().err
    assert contract_files.write(tmp_path) == [contract_files.MACROS]
    assert contract_files.stale(tmp_path) == []


def test_models_without_the_history_keep_contract_version_1s_spec_hash():
    # The hash cards written under version 1 carry: those models must go on serving.
    payload = json.dumps({"version": 1, "features": [[f, contract.FEATURE_TYPE] for f in contract.FEATURES]})
    assert contract.spec_hash() == hashlib.sha256(payload.encode()).hexdigest()
    assert contract.spec_hash(history=True) != contract.spec_hash()


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
