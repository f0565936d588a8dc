"""scikit-learn tree ensembles: HistGradientBoosting (poisson, tweedie, squared error; a churn
classifier) and RandomForest, exported through skl2onnx.

Tree thresholds are float64 in scikit-learn but float32 in ONNX. A float32 feature equal to the
float32 rounding of a threshold can then go left in one and right in the other, so after
conversion every threshold is replaced by the largest float32 not above scikit-learn's own
(``training.thresholds``): for float32 inputs, ``x <= t32`` then holds exactly when ``x <= t64`` does.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn._loss.loss import HalfTweedieLoss
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from duckdb_clv.training.export.covers import sklearn_covers, write_covers
from duckdb_clv.training.export.onnx_tools import TARGET_OPSET, compose_graph
from duckdb_clv.training.export.thresholds import make_exact, sklearn_thresholds
from duckdb_clv.training.models.candidates import Candidate, FitContext, single_output

TWEEDIE_POWER = 1.5
LOG_LINK = ("poisson", "tweedie")


class _SklearnTrees(Candidate):
    """Shared fitting and export of the scikit-learn ensembles."""

    def _estimator(self, ctx: FitContext) -> object:
        raise NotImplementedError

    def _fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        ctx: FitContext,
        val: tuple[np.ndarray, np.ndarray],
        weight: np.ndarray | None = None,
    ) -> None:
        self.model_ = self._estimator(ctx)
        self.model_.fit(X, y if self.task == "value" else y.astype(np.int8), sample_weight=weight)
        if hasattr(self.model_, "n_jobs"):
            # Forests fit in parallel deterministically, but their parallel predict adds the trees'
            # outputs in thread order, which moves the last bits (and then the calibration fit).
            self.model_.n_jobs = 1

    def _predict(self, X: np.ndarray) -> np.ndarray:
        if self.task == "churn":
            return self.model_.predict_proba(X)[:, 1]
        return self.model_.predict(X)

    def _graph(self, width: int) -> onnx.ModelProto:
        options = {id(self.model_): {"zipmap": False}} if self.task == "churn" else None
        converted = to_onnx(
            self.model_,
            initial_types=[("features", FloatTensorType([None, width]))],
            target_opset=TARGET_OPSET,
            options=options,
        )
        make_exact(converted, sklearn_thresholds(self.model_))
        write_covers(converted, sklearn_covers(self.model_))
        if self.task == "churn":
            # probabilities is N x 2 (classes 0, 1): keep the churn column.
            inner = single_output(converted, "probabilities")
            nodes = [helper.make_node("Slice", ["model/raw", "one", "two", "one"], ["raw"])]
            inits = [onnx.numpy_helper.from_array(np.array([v], np.int64), n) for n, v in (("one", 1), ("two", 2))]
        else:
            out = converted.graph.output[0].name
            inner = single_output(converted, out)
            link = self.params.get("loss") in LOG_LINK
            nodes = [helper.make_node("Exp" if link else "Identity", ["model/raw"], ["raw"])]
            inits = []
        out_info = helper.make_tensor_value_info("raw", onnx.TensorProto.FLOAT, ["N", 1])
        model = compose_graph({"model": inner}, {}, nodes, inits, [out_info], self.name)
        model.graph.input[0].type.tensor_type.shape.dim[1].dim_value = width
        return model


class HGB(_SklearnTrees):
    """HistGradientBoosting: value with ``loss`` poisson, tweedie or squared_error; a churn classifier."""

    def __init__(
        self,
        task: str,
        params: dict[str, object] | None = None,
        btyd_features: bool = False,
        anchored: bool = False,
    ) -> None:
        params = {"loss": "poisson" if task == "value" else "log_loss", **(params or {})}
        allowed = ("poisson", "tweedie", "squared_error") if task == "value" else ("log_loss",)
        if params["loss"] not in allowed:
            raise ValueError(f"loss for {task} must be one of {list(allowed)}, got {params['loss']!r}")
        super().__init__(task, params, btyd_features, anchored)

    @property
    def anchor_power(self) -> float | None:  # type: ignore[override]
        """Only the Tweedie loss is anchored.

        Poisson's deviance scales with the anchor too, but its Newton steps divide by the sum of
        the anchors in a leaf, and BG/NBD puts expectations of 1e-40 on long-gone customers: on a
        closed cohort an anchored Poisson model reached ratios of 1e28 and a backtest total ratio
        of 5.1, where Tweedie (power 1.5, whose weights are the square roots) stayed within 12.
        """
        return TWEEDIE_POWER if self.params["loss"] == "tweedie" else None

    @property
    def family(self) -> str:  # type: ignore[override]
        return f"hgb_{self.params['loss']}" if self.task == "value" else "hgb"

    def _estimator(self, ctx: FitContext) -> object:
        settings = {k: v for k, v in self.params.items() if k != "loss"}
        common = dict(
            max_iter=settings.pop("max_iter", 300),
            early_stopping=True,
            validation_fraction=0.1,
            n_iter_no_change=10,
            random_state=ctx.seed,
            **settings,
        )
        if self.task == "churn":
            return HistGradientBoostingClassifier(**common)
        loss = HalfTweedieLoss(power=TWEEDIE_POWER) if self.params["loss"] == "tweedie" else self.params["loss"]
        return HistGradientBoostingRegressor(loss=loss, **common)

    def describe(self) -> dict[str, object]:
        out = super().describe()
        out["iterations"] = int(getattr(self.model_, "n_iter_", 0)) if hasattr(self, "model_") else None
        return out


class Forest(_SklearnTrees):
    """RandomForest on a bootstrap sample per tree (``max_samples``) to keep large shops fast."""

    family = "rf"

    def _estimator(self, ctx: FitContext) -> object:
        settings = dict(n_estimators=100, max_depth=12, min_samples_leaf=50, max_samples=0.2, max_features=0.3)
        settings.update(self.params)
        cls = RandomForestRegressor if self.task == "value" else RandomForestClassifier
        return cls(n_jobs=ctx.threads, random_state=ctx.seed, **settings)
