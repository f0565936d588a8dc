"""onnxruntime sessions for verified model bytes: explicit options, checked input and output.

Shared by the model cache that scores (``udfs.models``) and by the registry, which opens a model
once before it becomes a champion, so a file onnxruntime refuses never gets to serve.
"""

from __future__ import annotations

import onnxruntime as ort

from duckdb_clv.udfs.contract import FEATURES, HISTORY_INPUT, SEQUENCE_CHANNELS, SEQUENCE_WEEKS
from duckdb_clv.udfs.errors import RegistryError


def session_options(threads: int = 1) -> ort.SessionOptions:
    """Explicit onnxruntime options: ``threads`` intra-op threads (1 when DuckDB runs the calls)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def reads_history(session: ort.InferenceSession) -> bool:
    """Whether the model takes the weekly history as its second input."""
    return any(i.name == HISTORY_INPUT for i in session.get_inputs())


def _check_signature(session: ort.InferenceSession, task: str, where: str, width: int) -> None:
    inputs = [(i.name, i.type, i.shape) for i in session.get_inputs()]
    features_ok = inputs and inputs[0][:2] == ("features", "tensor(float)") and inputs[0][2][-1] == width
    # A sequence model also reads the weekly history: float (rows, weeks, channels).
    history_ok = len(inputs) == 1 or (
        len(inputs) == 2
        and inputs[1][:2] == (HISTORY_INPUT, "tensor(float)")
        and list(inputs[1][2][1:]) == [SEQUENCE_WEEKS, len(SEQUENCE_CHANNELS)]
    )
    if not (features_ok and history_ok):
        raise RegistryError(
            f"{where}: expects inputs {inputs}, not one float 'features' input of width {width} "
            f"(and optionally a float '{HISTORY_INPUT}' input of shape [N, {SEQUENCE_WEEKS}, {len(SEQUENCE_CHANNELS)}])"
        )
    if task not in [o.name for o in session.get_outputs()]:
        raise RegistryError(f"{where}: has no output named {task!r}")


def open_session(data: bytes, task: str, where: str, width: int = len(FEATURES)) -> ort.InferenceSession:
    """A single-threaded CPU session over model bytes, with one float ``features`` input and a ``task`` output.

    ``width`` is the number of features the card names: the contract's, or more for a model that
    reads columns of its own besides (a next-best-action policy).

    Raises
    ------
    udfs.errors.RegistryError
        When onnxruntime refuses the model or its input or output differ.
    """
    # Created from bytes, never from a path: onnxruntime then refuses every reference to weights in
    # external files, and operators outside the domains it knows have no kernel, so both fail here.
    try:
        session = ort.InferenceSession(data, sess_options=session_options(), providers=["CPUExecutionProvider"])
    except Exception as err:
        first = str(err).strip().splitlines()[0][:300]
        raise RegistryError(f"{where}: onnxruntime refuses to load it ({first}); retrain or roll back") from err
    _check_signature(session, task, where, width)
    return session
