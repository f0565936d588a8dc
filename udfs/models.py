"""Loaded models: one verified onnxruntime session per model version, shared by every thread.

A model is loaded the first time a query names it: its file's sha256 and feature-spec hash are
checked against its card (``udfs.registry.verified_model``), one ``InferenceSession`` is created
from the bytes with explicit options, and its input and output are checked.
``InferenceSession.run`` is thread-safe, so DuckDB's threads share the session. Each session runs
single-threaded: DuckDB already runs one UDF call per thread, so letting onnxruntime
start its own pool per call would oversubscribe the cores.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from udfs import registry
from udfs.contract import FEATURES
from udfs.errors import RegistryError


@dataclass(frozen=True)
class LoadedModel:
    """A verified model version ready to score."""

    name: str
    version: str
    task: str
    card: dict
    session: ort.InferenceSession

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"

    def run(self, X: np.ndarray) -> np.ndarray:
        """Outputs for a float32 (rows x features) matrix."""
        # Every registered model's output is named after its task.
        return self.session.run([self.task], {"features": X})[0]


def _check_signature(session: ort.InferenceSession, task: str, where: str) -> None:
    inputs = [(i.name, i.type, i.shape) for i in session.get_inputs()]
    if (
        len(inputs) != 1
        or inputs[0][0] != "features"
        or inputs[0][1] != "tensor(float)"
        or (inputs[0][2][-1] != len(FEATURES))
    ):
        raise RegistryError(
            f"{where}: expects inputs {inputs}, not one float 'features' input of width {len(FEATURES)}"
        )
    if task not in [o.name for o in session.get_outputs()]:
        raise RegistryError(f"{where}: has no output named {task!r}")


def session_options(threads: int = 1) -> ort.SessionOptions:
    """Explicit onnxruntime options: ``threads`` intra-op threads (1 when DuckDB runs the calls)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


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
                raise RegistryError(f"no {task} champion in {self.root}: run `clv train` first")
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
        where = f"{name} {version}"
        # Loaded from bytes, never from a path: a graph pointing at external data cannot reach
        # files, and operators outside the standard domains have no kernel, so both fail here.
        try:
            session = ort.InferenceSession(data, sess_options=session_options(), providers=["CPUExecutionProvider"])
        except Exception as err:
            first = str(err).strip().splitlines()[0][:200]
            raise RegistryError(f"{where}: onnxruntime refuses to load it ({first}); retrain or roll back") from err
        _check_signature(session, card["task"], where)
        return LoadedModel(name, version, card["task"], card, session)
