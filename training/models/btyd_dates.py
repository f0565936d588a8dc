"""BG/NBD + Gamma-Gamma refitted at every date it speaks for.

The model needs no labels, so on any day it can be fitted on everything known that day. Served,
it is fitted at the scoring cutoff, on the customers about to be scored: its level then follows
the customer base as it is, aged, shrinking or shocked, rather than as it was at the last cutoff
whose labels are complete. To learn how far the truth departs from it, the models that read its
outputs (or predict relative to its expectation) are trained on the outputs the same procedure
gave at each training cutoff, each cutoff's fit on that cutoff's customers: the relation a model
learns at a cutoff is the one it meets on the scoring date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from duckdb_clv.training.dataset import Dataset
from duckdb_clv.training.errors import TrainingError
from duckdb_clv.training.failures import one_line
from duckdb_clv.training.models.btyd import BTYDFit, cached_by_identity


@dataclass
class RefittedBTYD:
    """A fit at the scoring cutoff (``serving``) and one at each training cutoff (``by_cutoff``).

    A cutoff whose own fit fails (a shop's first month can hold too few repeat buyers) borrows
    the fit of the nearest cutoff that succeeded; ``borrowed`` lists them for the card.
    """

    serving: BTYDFit
    by_cutoff: dict[dt.date, BTYDFit] = field(default_factory=dict)
    borrowed: dict[str, str] = field(default_factory=dict)
    _cache: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def fit(
        cls,
        data: Dataset,
        scoring_X: np.ndarray,
        scoring_cutoff: dt.date,
        horizon_days: int,
        churn_window_days: int,
        log: Callable[[str], None] = lambda _line: None,
    ) -> RefittedBTYD:
        """Fit at the scoring cutoff and at each cutoff in ``data``, on every customer there.

        Raises whatever the scoring cutoff's fit raises: without it nothing can be served.
        """
        serving = BTYDFit.fit(scoring_X, horizon_days, churn_window_days, scoring_cutoff.isoformat())
        out = cls(serving)
        cutoffs = sorted({d.item() for d in np.unique(data.cutoff)})
        failed = []
        for cutoff in cutoffs:
            try:
                out.by_cutoff[cutoff] = BTYDFit.fit(
                    data.X[data.cutoff == np.datetime64(cutoff)], horizon_days, churn_window_days, cutoff.isoformat()
                )
            except (TrainingError, ValueError, ArithmeticError) as err:
                failed.append(cutoff)
                log(f"BG/NBD at {cutoff} failed ({one_line(err)}); its rows take the nearest cutoff's fit")
        if not out.by_cutoff:
            out.by_cutoff = {cutoff: serving for cutoff in cutoffs}
            out.borrowed = {c.isoformat(): "scoring" for c in cutoffs}
            return out
        for cutoff in failed:
            nearest = min(out.by_cutoff, key=lambda c, cutoff=cutoff: (abs((c - cutoff).days), c))
            out.by_cutoff[cutoff] = out.by_cutoff[nearest]
            out.borrowed[cutoff.isoformat()] = nearest.isoformat()
        return out

    def outputs(self, X: np.ndarray) -> np.ndarray:
        """The served outputs (N x 4) for rows at the scoring cutoff: the scoring-date fit."""
        return self.serving.outputs(X)

    def outputs_at(self, data: Dataset) -> np.ndarray:
        """Each row's outputs from the fit at its own cutoff (N x 4); kept for the last few datasets."""
        return cached_by_identity(self._cache, data.X, lambda _X: self._outputs_at(data), size=6)

    def _outputs_at(self, data: Dataset) -> np.ndarray:
        out = np.empty((len(data), 4), dtype=np.float64)
        for cutoff in np.unique(data.cutoff):
            rows = data.cutoff == cutoff
            fit = self.by_cutoff.get(cutoff.item())
            if fit is None:
                raise ValueError(f"no BG/NBD fit at {cutoff}: the rows are not from this training run's cutoffs")
            out[rows] = fit.outputs(np.ascontiguousarray(data.X[rows]))
        return out

    def describe(self) -> dict[str, object]:
        """For the model card: the served parameters and where each training cutoff's came from."""
        return {
            **self.serving.params(),
            "refitted_at_training_cutoffs": sorted(c.isoformat() for c in self.by_cutoff),
            "borrowed_fits": self.borrowed,
        }
