"""Writing new model versions into the registry (reading and champion pointers live in ``udfs.registry``).

A version is assembled in a hidden folder next to its final place and renamed into place in one
step, so a crash or a failed export leaves either the complete version or nothing; versions are
never overwritten.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import shutil
from importlib import metadata
from pathlib import Path

import onnx

from duckdb_clv.training.export.onnx_tools import check_domains
from duckdb_clv.udfs.contract import (
    CONTRACT_VERSION,
    FEATURE_TYPE,
    FEATURES,
    HISTORY_INPUT,
    SEQUENCE_CHANNELS,
    SEQUENCE_WEEKS,
    spec_hash,
)
from duckdb_clv.udfs.registry import check_name, version_number, versions
from duckdb_clv.udfs.staging import staging_path, sweep

LIBRARIES = ("duckdb", "numpy", "scikit-learn", "torch", "onnx", "onnxruntime", "skl2onnx", "scipy", "duckdb-clv")


def library_versions() -> dict[str, str]:
    """Versions of the libraries that made a model, for its card."""
    out = {"python": platform.python_version()}
    for lib in LIBRARIES:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = "not installed"
    return out


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def with_metadata(model: onnx.ModelProto, meta: dict[str, str]) -> onnx.ModelProto:
    """A copy of ``model`` whose metadata is exactly ``meta`` (what ``udfs.onnx_guard`` checks against the card)."""
    stamped = onnx.ModelProto()
    stamped.CopyFrom(model)
    del stamped.metadata_props[:]
    for key, value in meta.items():
        stamped.metadata_props.add(key=key, value=value)
    return stamped


def register(root: Path, model: onnx.ModelProto, card: dict, features: tuple[str, ...] = FEATURES) -> dict:
    """Add ``model`` as the next version of ``card['name']``; returns the completed card.

    The card gets ``version``, ``sha256``, ``spec_hash``, ``features``, ``libraries`` and
    ``created_at``; the ONNX metadata carries the same name, version, task, spec hash, contract
    version and creation time. ``features``: the model's input columns, the contract's unless it
    reads columns of its own after them (a policy reads the campaign history too); the spec hash
    then covers them all.
    """
    root = Path(root)
    name = check_name(card["name"])
    check_domains(model)
    if tuple(features[: len(FEATURES)]) != FEATURES:
        raise ValueError("a model's features start with the feature contract's, in its order")
    extended = tuple(features) != FEATURES
    # A sequence model's second input is the weekly history; its spec hash covers it.
    history = any(i.name == HISTORY_INPUT for i in model.graph.input)
    spec = spec_hash(tuple(features)) if extended else spec_hash(history=history)
    history_input = {
        "name": HISTORY_INPUT,
        "type": "float32",
        "shape": ["N", SEQUENCE_WEEKS, len(SEQUENCE_CHANNELS)],
        "channels": list(SEQUENCE_CHANNELS),
    }
    (root / name).mkdir(parents=True, exist_ok=True)
    while True:
        existing = versions(root, name)
        version = f"v{version_number(existing[-1]) + 1}" if existing else "v1"
        final = root / name / version
        created = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        meta = {
            "name": name,
            "version": version,
            "task": card["task"],
            "spec_hash": spec,
            "contract_version": str(CONTRACT_VERSION),
            "created_at": created,
        }
        stamped = with_metadata(model, meta)
        stamped.doc_string = f"duckdb-clv {card['task']} model {name} {version}"
        data = stamped.SerializeToString()
        full = {
            **card,
            "version": version,
            "spec_hash": spec,
            "contract_version": CONTRACT_VERSION,
            "features": [{"name": f, "type": FEATURE_TYPE} for f in features],
            "input": {"name": "features", "type": "float32", "shape": ["N", len(features)]},
            **({"history_input": history_input} if history else {}),
            "sha256": hashlib.sha256(data).hexdigest(),
            "size_bytes": len(data),
            "libraries": library_versions(),
            "created_at": created,
        }
        sweep(root / name)  # versions staged by exports killed before their rename
        staging = staging_path(final)
        staging.mkdir()
        try:
            _fsync_write(staging / "model.onnx", data)
            _fsync_write(staging / "card.json", json.dumps(full, indent=2, default=str).encode())
            try:
                os.rename(staging, final)  # atomic; fails if another run took this version meanwhile
            except OSError:
                if final.exists():
                    continue
                raise
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return full
