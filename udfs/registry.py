"""The model registry on disk: versions with cards, and one champion pointer per task.

Layout under the registry root (``onnx_models/`` by default)::

    <name>/<version>/model.onnx     the model; never changed once written
    <name>/<version>/card.json      what it is: task, features, spec hash, cutoffs, metrics, sha256
    champions/<task>.json           {"name", "version", "history": [...]}, replaced atomically
    last_training.json              the latest training run: what it registered and what it dropped

Versions are written by ``training.registry``; this module reads them and moves the pointers
(``promote``, ``rollback``), which is all that scoring needs. It imports nothing heavy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from pathlib import Path

from duckdb_clv.udfs.contract import FEATURES, spec_hash
from duckdb_clv.udfs.errors import RegistryError
from duckdb_clv.udfs.onnx_guard import check_model_bytes
from duckdb_clv.udfs.sessions import open_session
from duckdb_clv.udfs.staging import staging_path, sweep

NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
VERSION = re.compile(r"^v[0-9]{1,6}$")
# A model input's name beyond the contract (a policy's campaign-history columns, as dbt names them).
COLUMN = re.compile(r"^[a-z_][a-z0-9_]*$")
POINTERS = "champions"
# The tasks with a champion pointer. Scoring needs the first three; an "action" champion (a
# next-best-action policy, docs/ACTIONS.md) exists only where campaign history was loaded.
TASKS = ("value", "churn", "segment", "action")
SCORING_TASKS = ("value", "churn", "segment")
# Tasks whose models read the contract's features and then columns of their own (named in the card).
EXTENDED_INPUT_TASKS = frozenset({"action"})
VERSION_FILES = frozenset({"model.onnx", "card.json"})
RUN_RECORD = "last_training.json"


def check_name(name: str, what: str = "model name") -> str:
    """``name`` if it is a plain identifier (it becomes a path, so nothing else is accepted)."""
    if not isinstance(name, str) or not NAME.match(name):
        raise RegistryError(f"invalid {what} {name!r}: use lowercase letters, digits and underscores")
    return name


def check_version(version: str) -> str:
    """``version`` if it looks like v1, v2, ..."""
    if not isinstance(version, str) or not VERSION.match(version):
        raise RegistryError(f"invalid version {version!r}: versions look like v1, v2, ...")
    return version


def version_number(version: str) -> int:
    return int(check_version(version)[1:])


def versions(root: Path, name: str) -> list[str]:
    """The versions of a model, oldest first."""
    folder = Path(root) / check_name(name)
    if not folder.is_dir():
        return []
    found = [p.name for p in folder.iterdir() if p.is_dir() and VERSION.match(p.name) and (p / "card.json").exists()]
    return sorted(found, key=version_number)


def model_names(root: Path) -> list[str]:
    """Every registered model name."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and NAME.match(p.name) and p.name != POINTERS)


def read_card(root: Path, name: str, version: str | None = None) -> dict:
    """The card of one version (the latest when ``version`` is None)."""
    available = versions(root, name)
    if not available:
        known = ", ".join(model_names(root)) or "none; run `clv train` first"
        raise RegistryError(f"no model named {name!r} in {root} (models: {known})")
    version = check_version(version) if version else available[-1]
    if version not in available:
        raise RegistryError(f"model {name!r} has no version {version!r} (versions: {', '.join(available)})")
    path = Path(root) / name / version / "card.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise RegistryError(f"cannot read the card {path}: {err}") from err


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_model(root: Path, name: str, version: str) -> tuple[bytes, dict]:
    """The model bytes and card of one version, after checking the bytes and spec against the card.

    Raises RegistryError when the file is missing, when other files sit beside it, when its sha256
    differs from the card's, when it is not a whole standard-domain ONNX model written for this
    card (``udfs.onnx_guard``), or when the card's feature spec differs from this installation's
    contract.
    """
    card = read_card(root, name, version)
    path = Path(root) / name / version / "model.onnx"
    if not path.is_file():
        raise RegistryError(f"{name} {version}: {path} is missing; the registry is incomplete")
    # A version holds its model and its card, nothing else: weights in side files, a pickle or a
    # script dropped in beside them are refused rather than ignored.
    strays = sorted(p.name for p in path.parent.iterdir() if p.name not in VERSION_FILES)
    if strays:
        raise RegistryError(
            f"{name} {version}: unexpected files {strays} in {path.parent}; a version holds only "
            "model.onnx and card.json, remove them or retrain"
        )
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != card.get("sha256"):
        raise RegistryError(
            f"{name} {version}: model.onnx has sha256 {actual[:12]}… but its card says "
            f"{str(card.get('sha256'))[:12]}…; the file was changed or corrupted, retrain or roll back"
        )
    check_model_bytes(data, card, f"{name} {version}")
    _check_inputs(card, f"{name} {version}")
    return data, card


def _check_inputs(card: dict, where: str) -> None:
    """Refuse a card whose inputs are not this installation's contract (then, for a policy, plain columns of its own).

    The names of a policy's own inputs become SQL in ``recommend_action``'s macro, so only plain
    column names pass.
    """
    names = feature_names(card)
    extended = card.get("task") in EXTENDED_INPUT_TASKS
    contract = tuple(names[: len(FEATURES)] if extended else names)
    diff = [f for f in FEATURES if f not in contract] + [f for f in contract if f not in FEATURES]
    stale = RegistryError(
        f"{where} was trained on a different feature spec (differing features: {diff[:5] or 'order'}); "
        "retrain it with `clv train`"
    )
    if contract != FEATURES:
        raise stale
    odd = [f for f in names[len(FEATURES) :] if not COLUMN.match(f)] if extended else []
    if odd:
        raise RegistryError(f"{where}: its card names inputs that are not plain column names ({odd[:3]}); retrain it")
    if card.get("spec_hash") != expected_spec_hash(card):
        if extended:
            raise RegistryError(
                f"{where}: the inputs its card lists do not give its spec hash; the card was edited, "
                "retrain it with `clv train`"
            )
        raise stale


def feature_names(card: dict) -> list[str]:
    """The names of a card's input features, in the model's input order."""
    return [f["name"] for f in card.get("features", [])]


def expected_spec_hash(card: dict) -> str:
    """The spec hash this installation gives the card's inputs.

    The contract's (with or without the weekly history) for the scoring tasks; for a task that
    reads columns of its own after the contract's, the hash of the card's whole feature list.
    """
    if card.get("task") in EXTENDED_INPUT_TASKS:
        return spec_hash(tuple(feature_names(card)))
    return spec_hash(history="history_input" in card)


def _check_servable(root: Path, name: str, version: str) -> None:
    """Verify a version and open it once in onnxruntime before a pointer may name it."""
    data, card = verified_model(root, name, version)
    open_session(data, card["task"], f"{name} {version}", len(card["features"]))


def _pointer_path(root: Path, task: str) -> Path:
    if task not in TASKS:
        raise RegistryError(f"unknown task {task!r}; tasks are {', '.join(TASKS)}")
    return Path(root) / POINTERS / f"{task}.json"


def champion(root: Path, task: str) -> dict | None:
    """The champion pointer of a task ({"name", "version", "history"}), or None before any training."""
    return _read_json(_pointer_path(root, task), "the champion pointer")


def _read_json(path: Path, what: str) -> dict | None:
    """A JSON file the registry writes, None when it is not there yet, a RegistryError when unreadable."""
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise RegistryError(f"cannot read {what} {path}: {err}") from err


def write_json_atomic(path: Path, payload: dict) -> None:
    """Replace ``path`` with ``payload`` as JSON in one rename (staged and fsynced first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep(path.parent, path.name)  # pointers staged by writers killed before their rename
    tmp = staging_path(path)
    try:
        with open(tmp, "w") as handle:
            json.dump(payload, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)  # readers see the old pointer or the new one, never half of either
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def promote(root: Path, task: str, name: str, version: str | None = None, reason: str = "promoted") -> dict:
    """Point the task's champion at a model version (the latest when ``version`` is None)."""
    card = read_card(root, check_name(name), version)
    if card["task"] != task:
        raise RegistryError(f"{name} is a {card['task']} model and cannot be the {task} champion")
    _check_servable(root, name, card["version"])
    current = champion(root, task) or {"history": []}
    entry = {"name": name, "version": card["version"], "at": dt.datetime.now(dt.UTC).isoformat(), "reason": reason}
    pointer = {"task": task, "name": name, "version": card["version"], "history": [*current["history"], entry]}
    write_json_atomic(_pointer_path(root, task), pointer)
    return pointer


def rollback(root: Path, task: str) -> dict:
    """Point the champion back at the one before it (the previous distinct entry in its history)."""
    current = champion(root, task)
    if not current:
        raise RegistryError(f"no {task} champion yet: run `clv train` first")
    here = (current["name"], current["version"])
    earlier = [h for h in current["history"] if (h["name"], h["version"]) != here]
    if not earlier:
        raise RegistryError(f"the {task} champion {here[0]} {here[1]} has no earlier champion to roll back to")
    previous = earlier[-1]
    _check_servable(root, previous["name"], previous["version"])
    entry = {**previous, "at": dt.datetime.now(dt.UTC).isoformat(), "reason": "rollback"}
    # History keeps every move; dropping the entries after `previous` makes repeated rollbacks walk back.
    cut = max(i for i, h in enumerate(current["history"]) if h is previous)
    pointer = {
        "task": task,
        "name": previous["name"],
        "version": previous["version"],
        "history": [*current["history"][:cut], entry],
    }
    write_json_atomic(_pointer_path(root, task), pointer)
    return pointer


def last_run(root: Path) -> dict | None:
    """The record of the latest training run (registered versions, dropped candidates), or None."""
    return _read_json(Path(root) / RUN_RECORD, "the training record")
