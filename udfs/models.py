"""Loaded models: one verified onnxruntime session per model version, shared by every thread.

A model is loaded the first time a query names it: its folder, its file's sha256, its ONNX header
and its feature-spec hash are checked against its card (``udfs.registry.verified_model``), then
one ``InferenceSession`` is created from the bytes with explicit options and its input and output
are checked (``udfs.sessions.open_session``).
``InferenceSession.run`` is thread-safe, so DuckDB's threads share the session. Each session runs
single-threaded: DuckDB already runs one UDF call per thread, so letting onnxruntime
start its own pool per call would oversubscribe the cores.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import onnxruntime as ort

from duckdb_clv.udfs import registry
from duckdb_clv.udfs.contract import HISTORY_INPUT, SEQUENCE_COLUMNS
from duckdb_clv.udfs.errors import RegistryError, UdfError
from duckdb_clv.udfs.sessions import open_session, reads_history


def history_missing(ref: str) -> UdfError:
    """The error for a sequence model given a row without its weekly history."""
    return UdfError(
        f"{ref} reads the weekly history: pass a feature row that also has "
        f"{', '.join(SEQUENCE_COLUMNS)} (a row of ml_scoring_set has them)"
    )


@dataclass(frozen=True)
class LoadedModel:
    """A verified model version ready to score."""

    name: str
    version: str
    task: str
    card: dict
    session: ort.InferenceSession
    data: bytes = field(repr=False, default=b"")  # the verified file, for the explanations

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"

    @cached_property
    def reads_history(self) -> bool:
        """Whether the model also takes the weekly history (a sequence model)."""
        return reads_history(self.session)

    def inputs(self, X: np.ndarray, history: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The session's feed: ``features``, and ``history`` for a sequence model.

        Raises
        ------
        UdfError
            When the model reads the history and none was given.
        """
        if not self.reads_history:
            return {"features": X}
        if history is None:
            raise history_missing(self.ref)
        return {"features": X, HISTORY_INPUT: history}

    def run(self, X: np.ndarray, history: np.ndarray | None = None) -> np.ndarray:
        """Outputs for a float32 (rows x features) matrix and, for a sequence model, its histories."""
        # Every registered model's output is named after its task.
        return self.session.run([self.task], self.inputs(X, history))[0]


class ModelCache:
    """Verified sessions by (registry, name, version); champions resolved through the pointers."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._models: dict[tuple[str, str], LoadedModel] = {}

    def resolve(self, task: str, ref: str | None) -> tuple[str, str]:
        """(name, version) for ``ref``: None -> the task's champion; 'name' -> its latest; 'name/vN'."""
        if ref is None:
            pointer = registry.champion(self.root, task)
            if pointer is None:
                # Policies are trained only from a campaign log, so that is what an action champion lacks.
                hint = "load a campaign log (`clv load --campaigns`), `clv build`, then " if task == "action" else ""
                raise RegistryError(f"no {task} champion in {self.root}: {hint}run `clv train` first")
            return pointer["name"], pointer["version"]
        name, _, version = ref.partition("/")
        registry.check_name(name)
        if not version:
            found = registry.versions(self.root, name)
            if not found:
                raise RegistryError(f"no model named {name!r} in {self.root}; `clv models list` shows them")
            version = found[-1]
        return name, registry.check_version(version)

    def get(self, name: str, version: str, task: str | None = None) -> LoadedModel:
        """The loaded model, verifying and creating its session on first use."""
        key = (name, version)
        model = self._models.get(key)
        if model is None:
            with self._lock:
                model = self._models.get(key)
                if model is None:
                    model = self._load(name, version)
                    self._models[key] = model
        if task is not None and model.task != task:
            raise RegistryError(f"{model.ref} is a {model.task} model; this function needs a {task} model")
        return model

    def _load(self, name: str, version: str) -> LoadedModel:
        data, card = registry.verified_model(self.root, name, version)
        session = open_session(data, card["task"], f"{name} {version}", len(card["features"]))
        return LoadedModel(name, version, card["task"], card, session, data)
