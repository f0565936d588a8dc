"""Hostile or broken model files: each is refused with a clear error and the champion keeps serving.

Every case plants a new version beside the value champion of a copy of the trained registry, the
way a bad export, a hand edit or an attacker with write access to the folder would, then checks
that promoting it is refused, that the champion pointer did not move, that naming the version in
SQL is refused with the same message, and that scoring still returns the champion's figures.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from duckdb_clv import udfs
from duckdb_clv.training.export.registry import with_metadata
from duckdb_clv.udfs import registry
from duckdb_clv.udfs.contract import FEATURES, spec_hash
from duckdb_clv.udfs.errors import RegistryError

TOTAL = "SELECT sum(predict_clv(s)) FROM ml_scoring_set s"


@dataclass
class Planted:
    """What a case writes into the new version's folder."""

    data: bytes
    rehash: bool = True  # write the file's real sha256 into the card (a careful attacker would)
    card: dict = field(default_factory=dict)  # card fields to change
    extra: dict[str, bytes] = field(default_factory=dict)  # more files in the folder


def linear(meta: dict[str, str], domain: str = "", weights_at: str | None = None, input_name: str = "features"):
    """A linear value model over the 90 features: embedded weights, or weights in an external file."""
    weights = numpy_helper.from_array(np.full((len(FEATURES), 1), 0.01, np.float32), "weights")
    if weights_at is not None:
        weights.ClearField("raw_data")
        weights.data_location = TensorProto.EXTERNAL
        for key, value in (("location", weights_at), ("offset", "0"), ("length", str(4 * len(FEATURES)))):
            weights.external_data.add(key=key, value=value)
    nodes = [helper.make_node("MatMul", [input_name, "weights"], ["product"])]
    if domain:
        nodes.append(helper.make_node("Gelu", ["product"], ["value"], domain=domain))
    else:
        nodes.append(helper.make_node("Identity", ["product"], ["value"]))
    graph = helper.make_graph(
        nodes,
        "linear",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["N", len(FEATURES)])],
        [helper.make_tensor_value_info("value", TensorProto.FLOAT, ["N", 1])],
        [weights],
    )
    imports = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(graph, opset_imports=imports)
    model.ir_version = 8
    return with_metadata(model, meta).SerializeToString()


def champion_bytes(models: Path, task: str, meta: dict[str, str]) -> bytes:
    pointer = registry.champion(models, task)
    path = models / pointer["name"] / pointer["version"] / "model.onnx"
    return with_metadata(onnx.load(str(path)), meta).SerializeToString()


def _truncated(models, meta):
    return Planted(champion_bytes(models, "value", meta)[:-1000])


def _corrupted(models, meta):
    data = bytearray(champion_bytes(models, "value", meta))
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
    return Planted(bytes(data), rehash=False)


def _random_bytes(models, meta):
    return Planted(np.random.default_rng(3).bytes(4096))


def _pickle_as_model(models, meta):
    return Planted(pickle.dumps({"weights": [0.5, 1.5], "model": "GradientBoostingRegressor"}))


def _pickle_beside(models, meta):
    return Planted(champion_bytes(models, "value", meta), extra={"model.pkl": pickle.dumps({"weights": [1.0]})})


def _weights_beside(models, meta):
    weights = np.full(len(FEATURES), 0.01, np.float32).tobytes()
    return Planted(linear(meta, weights_at="weights.bin"), extra={"weights.bin": weights})


def _external_outside(models, meta):
    return Planted(linear(meta, weights_at="../../champions/value.json"))


def _external_absolute(models, meta):
    return Planted(linear(meta, weights_at="/etc/passwd"))


def _unknown_domain(models, meta):
    return Planted(linear(meta, domain="com.example.evil"))


def _contrib_domain(models, meta):
    return Planted(linear(meta, domain="com.microsoft"))


def _stale_spec(models, meta):
    old = hashlib.sha256(b"an older feature contract").hexdigest()
    features = [{"name": "frequency_v0", "type": "float32"}, *({"name": f, "type": "float32"} for f in FEATURES[1:])]
    return Planted(
        champion_bytes(models, "value", {**meta, "spec_hash": old}), card={"spec_hash": old, "features": features}
    )


def _copied_from_another_model(models, meta):
    pointer = registry.champion(models, "churn")
    return Planted((models / pointer["name"] / pointer["version"] / "model.onnx").read_bytes())


def _wrong_input(models, meta):
    return Planted(linear(meta, input_name="inputs"))


CASES: dict[str, tuple[Callable[[Path, dict], Planted], str]] = {
    "a truncated file": (_truncated, "is not a readable ONNX model"),
    "a corrupted file (sha256 differs from the card)": (_corrupted, "model.onnx has sha256 .* but its card says"),
    "random bytes": (_random_bytes, "is not a readable ONNX model|onnxruntime refuses to load it"),
    "a pickle as model.onnx": (_pickle_as_model, "is not a readable ONNX model"),
    "a pickle beside the model": (_pickle_beside, r"unexpected files \['model.pkl'\]"),
    "weights in a file beside the model": (_weights_beside, r"unexpected files \['weights.bin'\]"),
    "external data outside the folder": (_external_outside, "onnxruntime refuses to load it .*External data"),
    "external data at an absolute path": (_external_absolute, "onnxruntime refuses to load it .*External data"),
    "an unknown operator domain": (_unknown_domain, r"uses operator domains \['com.example.evil'\]"),
    "onnxruntime's contrib domain": (_contrib_domain, r"uses operator domains \['com.microsoft'\]"),
    "a card whose feature spec differs from the mart": (_stale_spec, "trained on a different feature spec .*frequency"),
    "a file copied from another model": (_copied_from_another_model, "was not written for this card .*name"),
    "an input that is not 'features'": (_wrong_input, "not one float 'features' input"),
}


@pytest.fixture(scope="module")
def baseline(trained) -> float:
    with udfs.connect(trained.built.db, trained.models) as con:
        return con.execute(TOTAL).fetchall()[0][0]


def plant(models: Path, builder: Callable[[Path, dict], Planted]) -> tuple[str, str]:
    """Write a new version of the value champion's model with what ``builder`` makes."""
    name = registry.champion(models, "value")["name"]
    card = registry.read_card(models, name)
    version = f"v{registry.version_number(card['version']) + 1}"
    meta = {
        "name": name,
        "version": version,
        "task": "value",
        "spec_hash": spec_hash(),
        "contract_version": str(card["contract_version"]),
        "created_at": card["created_at"],
    }
    planted = builder(models, meta)
    folder = models / name / version
    folder.mkdir()
    (folder / "model.onnx").write_bytes(planted.data)
    sha = hashlib.sha256(planted.data).hexdigest() if planted.rehash else card["sha256"]
    (folder / "card.json").write_text(json.dumps({**card, "version": version, "sha256": sha, **planted.card}))
    for file_name, data in planted.extra.items():
        (folder / file_name).write_bytes(data)
    return name, version


def test_a_well_formed_linear_model_is_accepted(trained, tmp_path):
    # The control for the cases below: the same hand-made graph with embedded weights is served.
    models = tmp_path / "models"
    shutil.copytree(trained.models, models)
    name, version = plant(models, lambda m, meta: Planted(linear(meta)))
    registry.promote(models, "value", name, version)
    with udfs.connect(trained.built.db, models) as con:
        ones = ", ".join(f"{f} := 1.0" for f in FEATURES)
        assert con.execute(f"SELECT predict_clv(struct_pack({ones}))").fetchall()[0][0] == pytest.approx(0.9)
        assert con.execute("SELECT clv_model('value')").fetchall()[0][0] == f"{name}/{version}"


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_model_is_refused_and_the_champion_keeps_serving(trained, baseline, tmp_path, case):
    builder, message = CASES[case]
    models = tmp_path / "models"
    shutil.copytree(trained.models, models)
    pointer_file = models / "champions" / "value.json"
    before = pointer_file.read_bytes()
    name, version = plant(models, builder)

    with pytest.raises(RegistryError, match=message):
        registry.promote(models, "value", name, version)
    assert pointer_file.read_bytes() == before
    with udfs.connect(trained.built.db, models) as con:
        with pytest.raises(duckdb.Error, match=message):
            con.execute(f"SELECT predict_clv(s, model := '{name}/{version}') FROM ml_scoring_set s").fetchall()
        assert con.execute(TOTAL).fetchall()[0][0] == baseline
    print(f"hostile model refused: {case}")


def test_promote_from_the_command_line_is_refused_in_one_line(trained, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(trained.models, models)
    name, version = plant(models, _pickle_as_model)
    result = subprocess.run(
        [sys.executable, "-m", "duckdb_clv", "--models-dir", str(models), "models", "promote", "value", name, version],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not a readable ONNX model" in lines[0], result.stderr
    assert registry.champion(models, "value")["version"] != version


def test_a_loaded_champion_keeps_serving_when_its_file_is_replaced(trained, baseline, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(trained.models, models)
    pointer = registry.champion(models, "value")
    with udfs.connect(trained.built.db, models) as con:
        assert con.execute(TOTAL).fetchall()[0][0] == baseline
        path = models / pointer["name"] / pointer["version"] / "model.onnx"
        path.write_bytes(pickle.dumps("not a model"))
        # This process verified the file when it loaded it and serves that session...
        assert con.execute(TOTAL).fetchall()[0][0] == baseline
    # ...and a process starting now refuses the replaced file.
    starting = f"from duckdb_clv import udfs; udfs.connect({str(trained.built.db)!r}, {str(models)!r})"
    result = subprocess.run([sys.executable, "-c", starting], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "RegistryError" in result.stderr and "sha256" in result.stderr


def test_a_model_folder_without_model_onnx_is_refused(trained, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(trained.models, models)
    card = registry.read_card(models, registry.champion(models, "value")["name"])
    folder = models / "value_pickled" / "v1"
    folder.mkdir(parents=True)
    (folder / "model.pkl").write_bytes(pickle.dumps({"weights": [1.0]}))
    (folder / "card.json").write_text(json.dumps({**card, "name": "value_pickled", "version": "v1"}))
    with pytest.raises(RegistryError, match=r"model\.onnx is missing"):
        registry.promote(models, "value", "value_pickled")
