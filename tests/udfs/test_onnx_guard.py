"""The ONNX header check that runs before onnxruntime: agrees with the onnx package, refuses cut files."""

from __future__ import annotations

import onnx
import pytest

from duckdb_clv.training.export.registry import register
from duckdb_clv.udfs.errors import RegistryError
from duckdb_clv.udfs.onnx_guard import check_model_bytes, read_header
from tests.training.test_registry import card, tiny_model

pytestmark = pytest.mark.fast  # make test-fast: no shop, no dbt


@pytest.fixture
def registered(tmp_path) -> tuple[bytes, dict]:
    written = register(tmp_path, tiny_model(), card())
    return (tmp_path / "value_tiny" / "v1" / "model.onnx").read_bytes(), written


def test_the_header_reads_what_the_onnx_package_reads(registered):
    data, _ = registered
    model = onnx.load_from_string(data)
    domains, metadata = read_header(data)
    assert domains == {o.domain for o in model.opset_import}
    assert metadata == {p.key: p.value for p in model.metadata_props}


def test_a_registered_model_passes(registered):
    data, written = registered
    check_model_bytes(data, written, "value_tiny v1")


def test_no_cut_of_a_model_passes(registered):
    # Whatever byte the file is cut at, a field runs past the end, the graph is missing, or the
    # metadata (written last) no longer matches the card.
    data, written = registered
    for end in range(len(data)):
        with pytest.raises(RegistryError, match=r"value_tiny v1: model\.onnx (is not a readable|was not written)"):
            check_model_bytes(data[:end], written, "value_tiny v1")
