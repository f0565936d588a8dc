"""Training data straight from the feature layer: DuckDB -> Arrow batches -> one float32 matrix.

``ml_training_set`` holds one row per customer per training cutoff, the contract's features in the
contract's order, then the labels. Nothing goes through CSV or pandas: record batches are copied
column by column into a preallocated float32 matrix, so peak memory is the matrix plus one batch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from duckdb_clv.training.errors import TrainingError
from duckdb_clv.udfs.contract import FEATURES, SEQUENCE_COLUMNS, SEQUENCE_WEEKS, differences

BATCH_ROWS = 1 << 18


@dataclass(frozen=True)
class BuildInfo:
    """What the feature build was made with: its cutoffs and windows (from ``int_cutoffs``)."""

    scoring_cutoff: dt.date
    training_cutoffs: tuple[dt.date, ...]
    horizon_days: int
    churn_window_days: int


@dataclass(frozen=True)
class Dataset:
    """Feature rows with their labels; row i of every array is the same customer-cutoff."""

    X: np.ndarray  # float32, (rows, len(FEATURES))
    value: np.ndarray  # float64 net value over the horizon
    orders: np.ndarray  # float64 orders over the horizon
    churned: np.ndarray  # int8, 1 = no order within the churn window
    cutoff: np.ndarray  # datetime64[D]
    customer_id: np.ndarray  # object (str)
    # float32 (rows, SEQUENCE_WEEKS, channels), oldest week first; read only when asked for.
    history: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def take(self, rows: np.ndarray) -> Dataset:
        """The rows selected by a boolean mask or an index array."""
        return replace(
            self,
            X=self.X[rows],
            value=self.value[rows],
            orders=self.orders[rows],
            churned=self.churned[rows],
            cutoff=self.cutoff[rows],
            customer_id=self.customer_id[rows],
            history=None if self.history is None else self.history[rows],
        )

    def at(self, cutoffs: tuple[dt.date, ...] | dt.date) -> Dataset:
        """The rows of one cutoff or several."""
        wanted = np.array(cutoffs if isinstance(cutoffs, tuple) else (cutoffs,), dtype="datetime64[D]")
        return self.take(np.isin(self.cutoff, wanted))


def connect(db: str | Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to a built database, or a one-line error saying what to run first."""
    path = Path(db)
    if not path.exists():
        raise TrainingError(f"no database at {path}: run `clv load` and `clv build` first")
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as err:
        raise TrainingError(f"cannot open {path} read-only ({err}); is another process writing to it?") from err


def read_build_info(con: duckdb.DuckDBPyConnection) -> BuildInfo:
    """The cutoffs and windows of the last feature build."""
    try:
        rows = con.execute(
            "SELECT cutoff_date, cutoff_role, horizon_end - cutoff_date, churn_window_end - cutoff_date "
            "FROM intermediate.int_cutoffs ORDER BY cutoff_date"
        ).fetchall()
    except duckdb.CatalogException as err:
        raise TrainingError("the feature layer is not built: run `clv build` first") from err
    scoring = [r for r in rows if r[1] == "scoring"]
    if not scoring:
        raise TrainingError("the feature build has no scoring cutoff: run `clv build` again")
    return BuildInfo(
        scoring_cutoff=scoring[0][0],
        training_cutoffs=tuple(r[0] for r in rows if r[1] == "training"),
        horizon_days=int(scoring[0][2]),
        churn_window_days=int(scoring[0][3]),
    )


def _check_columns(con: duckdb.DuckDBPyConnection, view: str, labels: tuple[str, ...]) -> None:
    try:
        columns = [r[0] for r in con.execute(f"DESCRIBE {view}").fetchall()]
    except duckdb.CatalogException as err:
        raise TrainingError(f"{view} does not exist: run `clv build` first") from err
    features = [c for c in columns if c not in ("customer_id", "cutoff_date", *labels, *SEQUENCE_COLUMNS)]
    problem = differences(features)
    if problem:
        raise TrainingError(
            f"{view} does not match the feature contract ({problem}); rebuild with `clv build --full-refresh`"
        )


def read_rows(
    con: duckdb.DuckDBPyConnection,
    view: str = "ml_training_set",
    where: str = "",
    progress: Callable[[int, int], None] | None = None,
    history: bool = False,
) -> Dataset:
    """Read a view with the contract's columns into a Dataset.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection to the built database.
    view : str
        ``ml_training_set`` (with labels) or ``ml_scoring_set`` (labels read as NaN).
    where : str
        Optional SQL filter, for instance on ``cutoff_date``.
    progress : callable, optional
        Called with (rows read, total rows) after each batch.
    history : bool
        Also read the weekly histories into ``Dataset.history``.
    """
    labels = ("future_value", "future_orders", "churned") if view == "ml_training_set" else ()
    _check_columns(con, view, labels)
    filter_sql = f" WHERE {where}" if where else ""
    total = con.execute(f"SELECT count(*) FROM {view}{filter_sql}").fetchall()[0][0]
    X = np.empty((total, len(FEATURES)), dtype=np.float32)
    value = np.full(total, np.nan)
    orders = np.full(total, np.nan)
    churned = np.zeros(total, dtype=np.int8)
    cutoff = np.empty(total, dtype="datetime64[D]")
    ids = np.empty(total, dtype=object)
    H = np.empty((total, SEQUENCE_WEEKS, len(SEQUENCE_COLUMNS)), dtype=np.float32) if history else None
    columns = ", ".join(("customer_id", "cutoff_date", *FEATURES, *labels, *(SEQUENCE_COLUMNS if history else ())))
    # A stable order, so that the same database gives the same matrix and the same models.
    reader = con.sql(f"SELECT {columns} FROM {view}{filter_sql} ORDER BY cutoff_date, customer_id")
    start = 0
    for batch in reader.to_arrow_reader(BATCH_ROWS):
        end = start + batch.num_rows
        ids[start:end] = batch.column("customer_id").to_numpy(zero_copy_only=False)
        cutoff[start:end] = batch.column("cutoff_date").cast(pa.date32()).to_numpy(zero_copy_only=False)
        for j, name in enumerate(FEATURES):
            # NULL features (for instance no repeat purchases yet) arrive as NaN; trees handle NaN.
            X[start:end, j] = batch.column(name).to_numpy(zero_copy_only=False)
        if H is not None:
            for c, name in enumerate(SEQUENCE_COLUMNS):
                H[start:end, :, c] = _weeks(batch.column(name), name)
        if labels:
            value[start:end] = batch.column("future_value").to_numpy(zero_copy_only=False)
            orders[start:end] = batch.column("future_orders").to_numpy(zero_copy_only=False)
            churned[start:end] = batch.column("churned").to_numpy(zero_copy_only=False)
        start = end
        if progress:
            progress(start, total)
    return Dataset(X=X, value=value, orders=orders, churned=churned, cutoff=cutoff, customer_id=ids, history=H)


def with_histories(con: duckdb.DuckDBPyConnection, data: Dataset, view: str = "ml_training_set") -> Dataset:
    """``data`` with the weekly histories of exactly its rows, in its order.

    The histories take 52 x 6 floats a row (1.25 KB: 8 GB for the 1M shop's 6.4M customer-cutoff rows),
    so a training run reads them only for the rows that need them: the sequence models' sample,
    the validation and test rows. The rows are matched on (customer, cutoff) through an Arrow table
    DuckDB joins to ``view``.
    """
    if len(data) == 0 or data.history is not None:
        return data
    keys = pa.table(
        {
            "row_number": pa.array(np.arange(len(data), dtype=np.int64)),
            "customer_id": pa.array(data.customer_id.tolist(), pa.string()),
            "cutoff_date": pa.array(data.cutoff.astype("datetime64[D]"), pa.date32()),
        }
    )
    H = np.empty((len(data), SEQUENCE_WEEKS, len(SEQUENCE_COLUMNS)), dtype=np.float32)
    found = np.zeros(len(data), dtype=bool)
    con.register("wanted_history_rows", keys)
    try:
        columns = ", ".join(f"h.{c}" for c in SEQUENCE_COLUMNS)
        reader = con.sql(
            f"SELECT w.row_number, {columns} FROM wanted_history_rows w JOIN {view} h "
            "ON h.customer_id = w.customer_id AND h.cutoff_date = w.cutoff_date"
        )
        for batch in reader.to_arrow_reader(BATCH_ROWS):
            rows = batch.column("row_number").to_numpy()
            found[rows] = True
            for c, name in enumerate(SEQUENCE_COLUMNS):
                H[rows, :, c] = _weeks(batch.column(name), name)
    finally:
        con.unregister("wanted_history_rows")
    if not found.all():
        missing = int((~found).sum())
        raise TrainingError(
            f"{missing:,} rows of {view} have no weekly history; rebuild with `clv build --full-refresh`"
        )
    return replace(data, history=H)


def _weeks(column: pa.ChunkedArray | pa.Array, name: str) -> np.ndarray:
    """(rows, SEQUENCE_WEEKS) float32 from a column of FLOAT[SEQUENCE_WEEKS] arrays."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if array.null_count:
        raise TrainingError(f"{name} holds NULL histories; rebuild with `clv build --full-refresh`")
    flat = array.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return flat.reshape(len(array), SEQUENCE_WEEKS)


@dataclass(frozen=True)
class TimeSplit:
    """Cutoffs for fitting, for choosing models, and for the reported test figures."""

    train: tuple[dt.date, ...]
    validation: dt.date
    test: dt.date

    def as_dict(self) -> dict[str, object]:
        return {
            "train": [d.isoformat() for d in self.train],
            "validation": self.validation.isoformat(),
            "test": self.test.isoformat(),
        }


def time_split(cutoffs: tuple[dt.date, ...]) -> TimeSplit:
    """Earlier cutoffs train, the second latest validates, the latest (fully observed) tests.

    Every training cutoff precedes the validation cutoff, which precedes the test cutoff. Which
    customers' rows each side takes is ``CustomerHoldout``'s part (see ``split_rows``).
    """
    ordered = tuple(sorted(cutoffs))
    if len(ordered) < 3:
        raise TrainingError(
            f"{len(ordered)} training cutoffs with a fully observed horizon; the time split needs at least 3 "
            "(train, validation, test): rebuild with more `--training-cutoff` dates or a shorter --horizon-days"
        )
    return TimeSplit(train=ordered[:-2], validation=ordered[-2], test=ordered[-1])


@dataclass(frozen=True)
class CustomerHoldout:
    """Customers kept out of fitting: validation and test rows come from customers no model saw.

    The time split alone does not keep a customer's future out of training. The horizon (365 days)
    is much longer than the spacing of the cutoffs (a month), so the label windows of consecutive
    cutoffs overlap: the validation cutoff's window shares 11 months with the test cutoff's, and a
    model fitted on a customer's earlier rows has learnt from most of the purchases it is then
    tested on. Flexible models exploit that, and a search scored on the same customers rewards
    them for it (measured in ``bench/bench_gini_headroom.py``). So each customer is assigned, by a
    seeded hash of its id, to one of three groups: fitting (train cutoffs only), validation
    (validation cutoff only) and test (test cutoff only). A customer's group never depends on
    which other customers are in the data.
    """

    seed: int = 0
    validation_share: float = 0.15
    test_share: float = 0.15

    FIT, VALIDATION, TEST = 0, 1, 2

    def __post_init__(self) -> None:
        for name in ("validation_share", "test_share"):
            share = getattr(self, name)
            if not 0 < share < 0.5:
                raise ValueError(f"{name} must be between 0 and 0.5, got {share}")

    def groups(self, customer_id: np.ndarray) -> np.ndarray:
        """The group of each row's customer: FIT, VALIDATION or TEST (int8)."""
        salt = f"{self.seed}:"
        # 8 bytes of BLAKE2b as a fraction in [0, 1): stable across machines and library versions.
        draws = np.fromiter(
            (
                int.from_bytes(hashlib.blake2b((salt + str(c)).encode(), digest_size=8).digest(), "big")
                for c in customer_id
            ),
            dtype=np.uint64,
            count=len(customer_id),
        ) / float(2**64)
        out = np.full(len(customer_id), self.FIT, dtype=np.int8)
        out[draws < self.validation_share + self.test_share] = self.TEST
        out[draws < self.validation_share] = self.VALIDATION
        return out

    def as_dict(self) -> dict[str, object]:
        """The holdout as recorded in model cards, so that evaluation picks the same test customers."""
        return {
            "method": "blake2b(seed:customer_id)",
            "seed": self.seed,
            "validation_share": self.validation_share,
            "test_share": self.test_share,
        }

    @classmethod
    def from_dict(cls, card: dict[str, object]) -> CustomerHoldout:
        """The holdout a model card recorded."""
        return cls(int(card["seed"]), float(card["validation_share"]), float(card["test_share"]))


def split_masks(data: Dataset, split: TimeSplit, holdout: CustomerHoldout) -> dict[str, np.ndarray]:
    """Boolean row masks of the three sides, by cutoff and by customer group (see ``CustomerHoldout``).

    Keys ``training``, ``validation``, ``test``; also ``group``, each row's customer group, for
    callers (the benchmarks) that compare groups at one cutoff.
    """
    group = holdout.groups(data.customer_id)
    masks = {"group": group}
    for name, cutoffs, wanted in (
        ("training", split.train, holdout.FIT),
        ("validation", (split.validation,), holdout.VALIDATION),
        ("test", (split.test,), holdout.TEST),
    ):
        masks[name] = np.isin(data.cutoff, np.array(cutoffs, dtype="datetime64[D]")) & (group == wanted)
    return masks


def split_rows(data: Dataset, split: TimeSplit, holdout: CustomerHoldout) -> tuple[Dataset, Dataset, Dataset]:
    """Training, validation and test rows (``split_masks``).

    Raises ``TrainingError`` when a side would be empty (a shop too small for a held-out group).
    """
    masks = split_masks(data, split, holdout)
    for name in ("training", "validation", "test"):
        if not masks[name].any():
            raise TrainingError(
                f"no {name} rows: none of the {name} customers (a seeded share of all customers) has a row at the "
                f"{name} cutoff(s); the shop is too small for a held-out split: load more customers"
            )
    return data.take(masks["training"]), data.take(masks["validation"]), data.take(masks["test"])


def sample_rows(n: int, limit: int | None, seed: int) -> np.ndarray:
    """Sorted row indices of a seeded uniform sample of at most ``limit`` rows (all rows if None)."""
    if limit is None or n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))
