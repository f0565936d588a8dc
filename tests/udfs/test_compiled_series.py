"""The BG/NBD formulas as compiled SQL against the numpy ones the Python functions use.

The SQL sums the hypergeometric series in closed form over a bounded ``range()``; these rows
cover where that is hardest: young customers (z near 1, the slowest convergence), frequent
buyers (large c), long horizons, and parameters whose rising factorials change sign.
"""

from __future__ import annotations

import itertools

import duckdb
import numpy as np
import pytest

from duckdb_clv.udfs import btyd_math
from duckdb_clv.udfs.compiler import series

pytestmark = pytest.mark.fast

PARAMS = [
    {"r": 0.31, "alpha": 0.91, "a": 1.0047, "b": 5.08},  # the 100k shop's fit: a - 1 near 0
    {"r": 0.8, "alpha": 12.0, "a": 0.6, "b": 2.5},  # a - 1 < 0 and a + b - 1 - r > 0
    {"r": 2.5, "alpha": 3.0, "a": 2.2, "b": 0.4},  # a + b - 1 - r < 0
]


def _grid() -> np.ndarray:
    x = [0, 1, 2, 5, 20, 120]
    t = [0.0, 0.5, 3.0, 26.0, 104.0, 400.0]
    periods = [1.0, 13.0, 52.0, 260.0]
    rows = [(xi, min(ti, ti * 0.6 if xi else 0.0), ti, p) for xi, ti, p in itertools.product(x, t, periods)]
    return np.array(rows, dtype=np.float64)


@pytest.mark.parametrize("params", PARAMS)
def test_expected_purchases_and_p_alive_match_numpy(params: dict[str, float]) -> None:
    grid = _grid()
    con = duckdb.connect()
    con.execute("CREATE TABLE g (x DOUBLE, t_x DOUBLE, t DOUBLE, periods DOUBLE)")
    con.executemany("INSERT INTO g VALUES (?, ?, ?, ?)", grid.tolist())
    purchases = series.expected_purchases(params, "x", "t_x", "t", "periods")
    alive = series.p_alive(params, "x", "t_x", "t")
    got = np.array(con.execute(f"SELECT {purchases}, {alive} FROM g").fetchall(), dtype=np.float64)
    x, t_x, t, periods = grid.T
    want_purchases = btyd_math.expected_purchases(params, x, t_x, t, periods)
    want_alive = btyd_math.p_alive(params, x, t_x, t)
    np.testing.assert_allclose(got[:, 1], want_alive, rtol=1e-12)
    # numpy stops each series at 1e-12 of its sum, the SQL adds every term above e^-45; with a near 1
    # the formula divides 1 - (1 - z)^(a - 1) 2F1 by a - 1, which magnifies that difference ~1000x.
    np.testing.assert_allclose(got[:, 0], want_purchases, rtol=1e-7, atol=1e-12)
