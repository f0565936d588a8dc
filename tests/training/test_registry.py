"""The registry: immutable versions with cards, atomic champion pointers, refusals with clear errors."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from duckdb_clv.training.export.registry import register
from duckdb_clv.udfs import registry
from duckdb_clv.udfs.contract import FEATURES, spec_hash
from duckdb_clv.udfs.errors import RegistryError


def tiny_model(scale: float = 1.0) -> onnx.ModelProto:
    """A value model: the sum of the features times ``scale``."""
    nodes = [
        helper.make_node("ReduceSum", ["features", "axes"], ["total"], keepdims=1),
        helper.make_node("Mul", ["total", "scale"], ["value"]),
    ]
    inits = [
        onnx.numpy_helper.from_array(np.array([1], np.int64), "axes"),
        onnx.numpy_helper.from_array(np.array(scale, np.float32), "scale"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", len(FEATURES)])],
        [helper.make_tensor_value_info("value", TensorProto.FLOAT, ["N", 1])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def card(name: str = "value_tiny", task: str = "value") -> dict:
    return {"name": name, "task": task, "metrics": {"validation": {"normalized_gini": 0.5}}, "cutoffs": {}}


def test_versions_count_up_and_carry_card_and_metadata(tmp_path):
    first = register(tmp_path, tiny_model(1.0), card())
    second = register(tmp_path, tiny_model(2.0), card())
    assert (first["version"], second["version"]) == ("v1", "v2")
    assert registry.versions(tmp_path, "value_tiny") == ["v1", "v2"]
    stored = registry.read_card(tmp_path, "value_tiny", "v1")
    assert stored["spec_hash"] == spec_hash() and [f["name"] for f in stored["features"]] == list(FEATURES)
    assert stored["sha256"] == registry.sha256_file(tmp_path / "value_tiny" / "v1" / "model.onnx")
    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "value_tiny" / "v2" / "model.onnx")).metadata_props}
    assert meta["version"] == "v2" and meta["spec_hash"] == spec_hash() and meta["task"] == "value"
    assert not [p for p in (tmp_path / "value_tiny").iterdir() if p.name.startswith(".")]  # no staging left


def test_promote_and_rollback_move_only_the_pointer(tmp_path):
    register(tmp_path, tiny_model(1.0), card())
    register(tmp_path, tiny_model(2.0), card())
    before = sorted(p.name for p in (tmp_path / "value_tiny").iterdir())
    registry.promote(tmp_path, "value", "value_tiny", "v1")
    assert registry.champion(tmp_path, "value")["version"] == "v1"
    registry.promote(tmp_path, "value", "value_tiny")  # latest
    assert registry.champion(tmp_path, "value")["version"] == "v2"
    assert registry.rollback(tmp_path, "value")["version"] == "v1"
    assert sorted(p.name for p in (tmp_path / "value_tiny").iterdir()) == before
    with pytest.raises(RegistryError, match="no earlier champion"):
        registry.rollback(tmp_path, "value")


def test_a_model_whose_bytes_differ_from_its_card_is_refused_and_the_champion_stays(tmp_path):
    register(tmp_path, tiny_model(1.0), card())
    register(tmp_path, tiny_model(2.0), card())
    registry.promote(tmp_path, "value", "value_tiny", "v1")
    path = tmp_path / "value_tiny" / "v2" / "model.onnx"
    path.write_bytes(path.read_bytes()[:-10])  # truncated
    with pytest.raises(RegistryError, match="sha256"):
        registry.promote(tmp_path, "value", "value_tiny", "v2")
    assert registry.champion(tmp_path, "value")["version"] == "v1"


def test_a_card_edited_to_another_feature_spec_is_refused(tmp_path):
    # The model's own metadata still carries the spec it was trained on, so the edit shows.
    # (A model genuinely trained on another spec: tests/reliability/test_hostile_models.py.)
    register(tmp_path, tiny_model(), card())
    path = tmp_path / "value_tiny" / "v1" / "card.json"
    stored = json.loads(path.read_text())
    stored["spec_hash"] = "0" * 64
    stored["features"] = stored["features"][1:]
    path.write_text(json.dumps(stored))
    with pytest.raises(RegistryError, match=r"not written for this card \(its spec_hash differ"):
        registry.verified_model(tmp_path, "value_tiny", "v1")


@pytest.mark.parametrize("name", ["../etc", "Value", "value tiny", "x;drop table", ""])
def test_names_that_are_not_plain_identifiers_are_refused(tmp_path, name):
    with pytest.raises(RegistryError, match="invalid model name"):
        registry.read_card(tmp_path, name)


def test_unknown_models_versions_and_tasks_name_what_exists(tmp_path):
    register(tmp_path, tiny_model(), card())
    with pytest.raises(RegistryError, match=r"no model named 'value_other'.*value_tiny"):
        registry.read_card(tmp_path, "value_other")
    with pytest.raises(RegistryError, match=r"no version 'v9' \(versions: v1\)"):
        registry.read_card(tmp_path, "value_tiny", "v9")
    with pytest.raises(RegistryError, match="is a value model and cannot be the churn champion"):
        registry.promote(tmp_path, "churn", "value_tiny")
    with pytest.raises(RegistryError, match="unknown task"):
        registry.champion(tmp_path, "revenue")


def test_operators_outside_the_standard_domains_are_refused(tmp_path):
    model = tiny_model()
    model.graph.node[1].domain = "com.example"
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    with pytest.raises(Exception, match="operator domains"):
        register(tmp_path, model, card())
    assert registry.versions(tmp_path, "value_tiny") == []
