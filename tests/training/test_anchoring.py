"""BG/NBD refitted at every date, and value models anchored on its expectation.

What a user relies on: the served level comes from the customer base at the scoring date, not
from the cutoff the model learnt on, and the exported graph computes exactly that.
"""

from __future__ import annotations

import numpy as np
import pytest

from duckdb_clv.training.dataset import Dataset
from duckdb_clv.training.export.onnx_tools import run
from duckdb_clv.training.export.parity import export_checked
from duckdb_clv.training.models.btyd import BTYDFit
from duckdb_clv.training.models.btyd_dates import RefittedBTYD
from duckdb_clv.training.models.candidates import FitContext, anchor
from duckdb_clv.training.models.trees import HGB
from duckdb_clv.udfs.contract import FEATURES
from tests.training.test_btyd_graph import matrix

pytestmark = pytest.mark.fast  # make test-fast: no shop, no dbt


def _customers(n: int, rate: float, seed: int) -> np.ndarray:
    """BTYD summaries of ``n`` customers buying about once every ``1 / rate`` weeks."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(1, 150, n).round(2)
    x = np.minimum(rng.poisson(t * rate), 60).astype(float)
    t_x = np.where(x > 0, (t * rng.uniform(0.2, 1.0, n)).round(2), 0.0)
    m = np.where(x > 0, rng.gamma(4, 20, n).round(2), 0.0)
    X = matrix(x, t_x, t, m)
    # One more column the models can use: the value depends on it beyond what BG/NBD sees.
    X[:, FEATURES.index("discount_share")] = rng.uniform(0, 1, n)
    return X


def _dataset(parts: list[tuple[str, np.ndarray]], seed: int = 0) -> Dataset:
    """Rows at each (cutoff, matrix); the value is twice the BG/NBD expectation for discount lovers."""
    X = np.vstack([p[1] for p in parts])
    cutoff = np.concatenate([np.full(len(p[1]), np.datetime64(p[0])) for p in parts])
    n = len(X)
    return Dataset(
        X=X,
        value=np.zeros(n),
        orders=np.zeros(n),
        churned=np.zeros(n, dtype=np.int8),
        cutoff=cutoff,
        customer_id=np.array([f"C{i}" for i in range(n)], dtype=object),
    )


def test_each_row_gets_the_fit_of_its_own_cutoff_and_scoring_rows_the_scoring_fit():
    slow, fast, scoring = _customers(3_000, 0.05, 1), _customers(3_000, 0.2, 2), _customers(3_000, 0.1, 3)
    data = _dataset([("2023-01-31", slow), ("2023-02-28", fast)])
    refitted = RefittedBTYD.fit(data, scoring, np.datetime64("2024-01-01").item(), 365, 90)
    out = refitted.outputs_at(data)
    alone = BTYDFit.fit(fast, 365, 90, "2023-02-28")
    np.testing.assert_allclose(out[3_000:], alone.outputs(fast), rtol=1e-6)
    # A fit on the other cutoff's customers would say something else: the rows did not share one.
    assert not np.allclose(out[:3_000], alone.outputs(slow), rtol=1e-2)
    served = BTYDFit.fit(scoring, 365, 90, "2024-01-01")
    np.testing.assert_allclose(refitted.outputs(scoring), served.outputs(scoring), rtol=1e-6)
    assert refitted.describe()["fitted_on_cutoff"] == "2024-01-01"


def test_a_cutoff_whose_fit_fails_borrows_the_nearest_and_says_so():
    nobody_repeats = _customers(500, 0.0, 4)  # no repeat purchases: BG/NBD has nothing to fit
    data = _dataset([("2023-01-31", nobody_repeats), ("2023-02-28", _customers(3_000, 0.1, 5))])
    lines: list[str] = []
    refitted = RefittedBTYD.fit(
        data, _customers(3_000, 0.1, 6), np.datetime64("2024-01-01").item(), 365, 90, lines.append
    )
    assert refitted.borrowed == {"2023-01-31": "2023-02-28"}
    assert "BG/NBD at 2023-01-31 failed" in lines[0]
    assert np.all(np.isfinite(refitted.outputs_at(data)))


@pytest.fixture(scope="module")
def anchored():
    """An anchored Tweedie model learnt where the truth is 1.5x BG/NBD for discount lovers, 0.5x otherwise."""
    rows = _customers(6_000, 0.1, 7)
    train = _dataset([("2023-01-31", rows[:4_000])])
    validation = _dataset([("2023-01-31", rows[4_000:])])
    refitted = RefittedBTYD.fit(
        _dataset([("2023-01-31", rows)]), _customers(4_000, 0.25, 8), np.datetime64("2024-01-01").item(), 365, 90
    )
    for data in (train, validation):
        expected = anchor(refitted.by_cutoff[np.datetime64("2023-01-31").item()].outputs(data.X))
        lover = data.X[:, FEATURES.index("discount_share")] > 0.5
        data.value[:] = expected * np.where(lover, 1.5, 0.5)
    ctx = FitContext(seed=0, btyd=refitted)
    model = HGB("value", {"loss": "tweedie", "max_iter": 60}, anchored=True).fit(train, validation, ctx)
    return model, refitted


def test_an_anchored_model_serves_its_learnt_ratio_times_the_scoring_date_expectation(anchored):
    model, refitted = anchored
    scoring = _customers(4_000, 0.25, 8)
    expected_now = anchor(refitted.outputs(scoring))
    lover = scoring[:, FEATURES.index("discount_share")] > 0.5
    ratio = model.predict_raw(scoring) / expected_now
    # The ratio learnt a year earlier, applied to the BG/NBD expectation refitted on today's customers.
    assert np.median(ratio[lover]) == pytest.approx(1.5, rel=0.05)
    assert np.median(ratio[~lover]) == pytest.approx(0.5, rel=0.05)
    assert model.calibration_.scale == pytest.approx(1.0, rel=0.02)
    assert model.describe()["level_follows_btyd_at_scoring"] is True


def test_the_exported_graph_computes_the_anchored_prediction(anchored):
    model, _ = anchored
    scoring = _customers(4_000, 0.25, 8)
    onnx_model, figures = export_checked(model, scoring)
    served = run(onnx_model, scoring, "value").ravel()
    np.testing.assert_allclose(served, model.predict(scoring), rtol=1e-4, atol=1e-4)
    assert figures["max_error"] < figures["tolerance"]


def test_only_the_tweedie_value_model_can_be_anchored():
    for loss in ("poisson", "squared_error"):
        with pytest.raises(ValueError, match=f"value_hgb_{loss} cannot be anchored"):
            HGB("value", {"loss": loss}, anchored=True)
    with pytest.raises(ValueError, match="churn_hgb cannot be anchored"):
        HGB("churn", anchored=True)
