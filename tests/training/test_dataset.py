"""The split of training rows: by time and by customer, so no model is scored on a customer it saw."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from duckdb_clv.training.dataset import CustomerHoldout, Dataset, TimeSplit, split_rows
from duckdb_clv.training.errors import TrainingError
from duckdb_clv.udfs.contract import FEATURES

pytestmark = pytest.mark.fast  # make test-fast: no shop, no dbt

CUTOFFS = tuple(dt.date(2024, m, 1) for m in range(1, 7))


def _rows(customers: int) -> Dataset:
    """Every customer at every cutoff, its label equal to its own number (to trace rows)."""
    ids = np.array([f"C{i:06d}" for i in range(customers)], dtype=object)
    n = customers * len(CUTOFFS)
    return Dataset(
        X=np.zeros((n, len(FEATURES)), dtype=np.float32),
        value=np.tile(np.arange(customers, dtype=np.float64), len(CUTOFFS)),
        orders=np.zeros(n),
        churned=np.zeros(n, dtype=np.int8),
        cutoff=np.repeat(np.array(CUTOFFS, dtype="datetime64[D]"), customers),
        customer_id=np.tile(ids, len(CUTOFFS)),
    )


SPLIT = TimeSplit(train=CUTOFFS[:-2], validation=CUTOFFS[-2], test=CUTOFFS[-1])


def test_each_side_has_its_own_cutoffs_and_customers_and_no_customer_is_on_two_sides():
    train, validation, test = split_rows(_rows(20_000), SPLIT, CustomerHoldout(seed=0))
    assert set(train.cutoff.astype(object)) == set(SPLIT.train)
    assert set(validation.cutoff.astype(object)) == {SPLIT.validation}
    assert set(test.cutoff.astype(object)) == {SPLIT.test}
    fit, val, tst = (set(side.customer_id) for side in (train, validation, test))
    assert not fit & val and not fit & tst and not val & tst
    assert len(fit | val | tst) == 20_000
    # Every fitting customer keeps a row at every training cutoff: nothing else is dropped.
    assert len(train) == len(fit) * len(SPLIT.train)
    assert len(val) / 20_000 == pytest.approx(0.15, abs=0.01)
    assert len(tst) / 20_000 == pytest.approx(0.15, abs=0.01)


def test_a_customers_group_depends_on_its_id_and_the_seed_alone():
    data = _rows(5_000)
    holdout = CustomerHoldout(seed=3)
    whole = dict(zip(data.customer_id, holdout.groups(data.customer_id), strict=True))
    some = data.customer_id[::7]
    assert [whole[c] for c in some] == holdout.groups(some).tolist()
    assert np.array_equal(holdout.groups(data.customer_id), CustomerHoldout(seed=3).groups(data.customer_id))
    other = CustomerHoldout(seed=4).groups(data.customer_id)
    assert (other != holdout.groups(data.customer_id)).mean() > 0.2


def test_the_holdout_round_trips_through_the_card():
    holdout = CustomerHoldout(seed=9, validation_share=0.2, test_share=0.1)
    assert CustomerHoldout.from_dict(holdout.as_dict()) == holdout


def test_a_shop_too_small_for_held_out_customers_gets_a_clear_error():
    with pytest.raises(TrainingError, match="too small for a held-out split"):
        split_rows(_rows(2), SPLIT, CustomerHoldout(seed=0))


@pytest.mark.parametrize("share", [0.0, 0.5, -0.1])
def test_shares_outside_the_open_range_are_refused(share):
    with pytest.raises(ValueError, match=r"validation_share must be between 0 and 0\.5"):
        CustomerHoldout(validation_share=share)
