"""The Arrow UDF kernels behind the SQL functions, vectorized over each DuckDB chunk.

Each kernel receives one Arrow array per argument for a chunk of rows. The features arrive as one
fixed-size DOUBLE array per row in the contract's order (the SQL macros in ``udfs.sql`` pick them
by name and DuckDB assembles the array), so the chunk is one contiguous buffer, converted once to
a float32 matrix that goes to onnxruntime in one call.

NULL policy (documented in docs/SCORING.md and tested):
- a NULL feature is missing data: it reaches the model as NaN, exactly as NULL features reached it
  in training (trees route it, the networks and the baseline read it as 0);
- a NULL feature row (the whole struct) gives a NULL score;
- a NaN feature is treated like NULL; an infinite feature (or one beyond float32's range) is an
  error naming the feature;
- NULL arguments to ``p_alive`` / ``expected_purchases`` give NULL.
"""

from __future__ import annotations

import inspect
import json
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from duckdb_clv.udfs import btyd_math
from duckdb_clv.udfs.contract import FEATURES, SEQUENCE_COLUMNS, SEQUENCE_WEEKS, spec_hash
from duckdb_clv.udfs.errors import UdfError
from duckdb_clv.udfs.models import LoadedModel, ModelCache, history_missing

BTYD_MODEL = "value_btyd"

# UDFs belong to the DuckDB database instance (every connection and cursor to it shares them),
# while each connection's macros name its registry. So the kernels hold no registry: a model
# reference arrives as "name/version|registry root", and sessions are cached per root.
_caches: dict[str, ModelCache] = {}
_caches_lock = threading.Lock()


# Absolute registry folder as written -> its cache. Kernels look a root up once per chunk, and
# resolving the path each time (an lstat per path component, holding the GIL) cost 2 % of a
# forest's scoring. A relative one is resolved every time: it depends on the working directory.
_roots: dict[str, ModelCache] = {}


def cache_for(root: str | Path) -> ModelCache:
    """The process-wide model cache of one registry folder."""
    cache = _roots.get(str(root))
    if cache is not None:
        return cache
    key = str(Path(root).resolve())
    with _caches_lock:
        if key not in _caches:
            _caches[key] = ModelCache(key)
        if Path(root).is_absolute():
            _roots[str(root)] = _caches[key]
        return _caches[key]


def split_ref(value: str) -> tuple[str, ModelCache]:
    """('name/version', cache) from an internal reference."""
    ref, _, root = value.partition("|")
    return ref, cache_for(root)


# The arguments after the model and presence flags: the features as one DOUBLE[n] array (DuckDB
# assembles it, so the kernel converts one contiguous buffer instead of n columns), then the
# weekly histories.
ARGUMENTS = 1 + len(SEQUENCE_COLUMNS)
FEATURES_TYPE = f"DOUBLE[{len(FEATURES)}]"
# Variable-length lists, not FLOAT[52]: DuckDB hands a NULL fixed-size array to Python with all its
# slots filled in, which for the six NULL histories of a feature-only row cost as much as the
# model itself (1.8 s per million rows); a NULL list is just a flag. The macros cast each history
# to FLOAT[52] first, so every list that arrives has the 52 weeks.
HISTORY_TYPE = "FLOAT[]"


def inputs(columns: tuple[pa.Array, ...]) -> tuple[np.ndarray, tuple[pa.Array, ...]]:
    """(features matrix, the history columns as they came) from a kernel's feature arguments.

    The histories stay Arrow arrays: only a sequence model converts them (``check_histories``),
    so feature-only models pay nothing for them on the scoring path.
    """
    if len(columns) != ARGUMENTS:
        raise UdfError(
            f"expected the feature array and {len(SEQUENCE_COLUMNS)} history columns "
            f"(spec {spec_hash()[:12]}), got {len(columns)} arguments"
        )
    return array_matrix(columns[0]), columns[1:]


def array_matrix(array: pa.Array | pa.ChunkedArray, names: tuple[str, ...] = FEATURES) -> np.ndarray:
    """float32 (rows, features) from one fixed-size DOUBLE array per row; NULL and NaN as NaN."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type.list_size != len(names):
        raise UdfError(f"expected {len(names)} features (spec {spec_hash(names)[:12]}), got {array.type.list_size}")
    # A NULL row (the whole feature row missing) still holds its slots; its score is masked out.
    values = array.values if array.offset == 0 else array.flatten()
    with np.errstate(over="ignore"):  # beyond float32's range becomes infinity, refused below
        X = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float32)[: len(array) * len(names)]
    X = X.reshape(len(array), len(names))
    return _check_finite(X, names)


def _histories(columns: tuple[pa.Array, ...]) -> np.ndarray | None:
    """float32 (rows, weeks, channels); NaN for a row without one; None when no row has one.

    A row without a history (its feature row lacks the columns) cannot go to a sequence model:
    ``check_histories`` refuses it there, while the other models never read it.
    """
    if all(c.null_count == len(c) for c in columns):
        return None
    n = len(columns[0])
    H = np.full((n, SEQUENCE_WEEKS, len(columns)), np.nan, dtype=np.float32)
    for c, column in enumerate(columns):
        # DuckDB hands Arrow UDFs chunked arrays; a chunked list array's flatten() means fields.
        column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        valid = ~np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        lengths = np.asarray(pc.list_value_length(column).to_numpy(zero_copy_only=False))[valid]
        if (lengths != SEQUENCE_WEEKS).any():
            raise UdfError(
                f"a weekly history must hold {SEQUENCE_WEEKS} weeks, got {int(lengths[lengths != SEQUENCE_WEEKS][0])}"
            )
        filled = column.fill_null([0.0] * SEQUENCE_WEEKS) if column.null_count else column
        weeks = np.asarray(filled.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
        H[valid, :, c] = weeks.reshape(n, SEQUENCE_WEEKS)[valid]
    return H


def check_histories(model: LoadedModel, columns: tuple[pa.Array, ...], rows: np.ndarray) -> np.ndarray | None:
    """The histories of ``rows`` for a sequence model, refusing rows without one (None otherwise)."""
    if not model.reads_history:
        return None
    H = _histories(columns)
    part = None if H is None else H[rows]
    if part is None or np.isnan(part).any():
        raise history_missing(model.ref)
    return np.ascontiguousarray(part)


def columns_matrix(columns: tuple[pa.Array, ...], names: tuple[str, ...] = FEATURES) -> np.ndarray:
    """float32 (rows, features) from one Arrow array per feature; NULL and NaN as NaN, infinity refused."""
    if len(columns) != len(names):
        raise UdfError(f"expected {len(names)} feature columns (spec {spec_hash(names)[:12]}), got {len(columns)}")
    n = len(columns[0])
    X = np.empty((n, len(names)), dtype=np.float32)
    with np.errstate(over="ignore"):  # beyond float32's range becomes infinity, refused below
        for j, column in enumerate(columns):
            X[:, j] = column.to_numpy(zero_copy_only=False)  # NULL -> NaN for floating point arrays
    return _check_finite(X, names)


def _check_finite(X: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    bad = np.isinf(X)
    if bad.any():
        j = int(np.argmax(bad.any(axis=0)))
        raise UdfError(
            f"feature {names[j]!r} is infinite or beyond float32's range (3.4e38) in {int(bad[:, j].sum())} "
            f"rows; pass NULL for unknown values (model spec {spec_hash(names)[:12]})"
        )
    return X


def _model(task: str, value: str) -> LoadedModel:
    ref, cache = split_ref(value)
    name, version = cache.resolve(task, ref)
    return cache.get(name, version, task)


def _models_for(task: str, refs: pa.Array) -> list[tuple[LoadedModel, np.ndarray | None]]:
    """The model of each row: usually one constant (the champion, resolved once per query)."""
    distinct = pc.unique(refs).to_pylist()
    if None in distinct:
        raise UdfError("the model reference is NULL; pass a model name such as 'value_rf' or leave it out")
    if len(distinct) == 1:
        return [(_model(task, distinct[0]), None)]
    out = []
    for ref in distinct:
        rows = np.asarray(pc.fill_null(pc.equal(refs, ref), False).to_numpy(zero_copy_only=False), dtype=bool)
        out.append((_model(task, ref), rows))
    return out


def score_kernel(task: str):
    """Kernel for ``_clv_score_<task>(model, present, features...)``: DOUBLE (value, churn) or BIGINT (segment)."""
    integer = task == "segment"

    def kernel(refs: pa.Array, present: pa.Array, *columns: pa.Array) -> pa.Array:
        n = len(refs)
        if n == 0:
            return pa.array([], type=pa.int64() if integer else pa.float64())
        X, history_columns = inputs(columns)
        out = np.empty(n, dtype=np.int64 if integer else np.float64)
        mask = ~np.asarray(present.to_numpy(zero_copy_only=False), dtype=bool)
        for model, rows in _models_for(task, refs):
            picked = ~mask if rows is None else rows & ~mask
            if rows is None and not model.reads_history:
                out[:] = model.run(X).ravel()
            elif picked.any():
                history = check_histories(model, history_columns, picked)
                out[picked] = model.run(np.ascontiguousarray(X[picked]), history).ravel()
        return pa.array(out, mask=mask)

    # DuckDB counts a UDF's parameters from its signature; spell out all of them.
    names = ["refs", "present", *(f"f{j}" for j in range(ARGUMENTS))]
    kernel.__signature__ = inspect.Signature([inspect.Parameter(n, inspect.Parameter.POSITIONAL_ONLY) for n in names])
    return kernel


def model_ref_kernel():
    """Kernel for ``_clv_model(task, ref, root)``: 'name/version|root' of the model a query will use.

    Called with constants only, so DuckDB evaluates it once while planning the query.
    """

    def kernel(tasks: pa.Array, refs: pa.Array, roots: pa.Array) -> pa.Array:
        out = []
        for task, ref, root in zip(tasks.to_pylist(), refs.to_pylist(), roots.to_pylist(), strict=True):
            cache = cache_for(root)
            name, version = cache.resolve(task, ref)
            cache.get(name, version, task)  # verify now, so a bad model fails before any row is scored
            out.append(f"{name}/{version}|{root}")
        return pa.array(out, type=pa.string())

    return kernel


def reference_kernel():
    """Kernel for ``_clv_reference(task, ref)``: the model card's reference distributions as JSON.

    NULL for a card written before monitoring (no ``reference``): the drift monitor then reports
    itself unavailable instead of failing the scoring run.
    """

    def kernel(tasks: pa.Array, refs: pa.Array) -> pa.Array:
        out = []
        for task, ref in zip(tasks.to_pylist(), refs.to_pylist(), strict=True):
            reference = _model(task, ref).card.get("reference") if ref is not None else None
            out.append(json.dumps(reference) if reference else None)
        return pa.array(out, type=pa.string())

    return kernel


def _btyd_params(value: str) -> dict[str, float]:
    model = _model("value", value)
    params = model.card.get("model", {}).get("params", {}).get("bgnbd")
    if not params:
        raise UdfError(f"{model.ref} is not a BG/NBD model; p_alive and expected_purchases need {BTYD_MODEL}")
    return params


def _floats(*arrays: pa.Array) -> tuple[list[np.ndarray], np.ndarray]:
    values = [np.asarray(a.to_numpy(zero_copy_only=False), dtype=np.float64) for a in arrays]
    valid = np.logical_and.reduce([~np.isnan(v) for v in values])
    return [np.where(valid, v, 0.0) for v in values], valid


def p_alive_kernel():
    def kernel(refs: pa.Array, x: pa.Array, t_x: pa.Array, t: pa.Array) -> pa.Array:
        if len(refs) == 0:
            return pa.array([], type=pa.float64())
        (xv, txv, tv), valid = _floats(x, t_x, t)
        btyd_math.check_summary(xv, txv, tv)
        out = btyd_math.p_alive(_btyd_params(refs[0].as_py()), xv, txv, tv)
        return pa.array(out, mask=~valid)

    return kernel


def expected_purchases_kernel():
    def kernel(refs: pa.Array, x: pa.Array, t_x: pa.Array, t: pa.Array, periods: pa.Array) -> pa.Array:
        if len(refs) == 0:
            return pa.array([], type=pa.float64())
        (xv, txv, tv, pv), valid = _floats(x, t_x, t, periods)
        btyd_math.check_summary(xv, txv, tv)
        if np.any(pv < 0) or not np.all(np.isfinite(pv)):
            raise UdfError("periods must be a finite number >= 0 (weeks after T)")
        out = btyd_math.expected_purchases(_btyd_params(refs[0].as_py()), xv, txv, tv, pv)
        return pa.array(out, mask=~valid)

    return kernel


def segment_names(card: dict) -> dict[int, str]:
    """Segment id -> name from a segment model's card (``segment <n>`` for a card without names)."""
    profiles = card.get("model", {}).get("profiles") or []
    return {int(p["segment"]): p.get("name") or f"segment {p['segment']}" for p in profiles}


def segment_name_kernel():
    """Kernel for ``_clv_segment_name(ref, segment)``: the segment's name in the model's card.

    NULL for a NULL segment; a card written before segments had names gives ``segment <n>``.
    """

    def kernel(refs: pa.Array, segments: pa.Array) -> pa.Array:
        out: list[str | None] = []
        names: dict[str, dict[int, str]] = {}
        for ref, segment in zip(refs.to_pylist(), segments.to_pylist(), strict=True):
            if segment is None:
                out.append(None)
                continue
            if ref not in names:
                names[ref] = segment_names(_model("segment", ref).card)
            known = names[ref]
            if segment not in known:
                raise UdfError(
                    f"segment {segment} is not one of {ref.partition('|')[0]}'s {len(known)} segments "
                    f"(0 to {len(known) - 1}); pass the segment customer_segment() gave with the same model"
                )
            out.append(known[segment])
        return pa.array(out, type=pa.string())

    return kernel
