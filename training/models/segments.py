"""K-means segments of customers on standardized RFM and behaviour features.

The features are log-transformed (they are counts, amounts and days, all heavy-tailed) and
standardized inside the exported graph, so the model takes the contract's raw ``features``. The
number of segments is the k in a range with the best silhouette on a seeded sample, and each
segment is described by the mean of its features in their original units.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from duckdb_clv.training.errors import NotFittedError, TrainingError
from duckdb_clv.training.export.onnx_tools import INPUT, TARGET_OPSET, compose_graph, const
from duckdb_clv.udfs.contract import FEATURES

SEGMENT_FEATURES = (
    "days_since_last_order",
    "order_count",
    "total_value_net",
    "mean_value_net",
    "orders_365d",
    "value_365d",
    "tenure_days",
    "sessions_30d",
    "sessions_90d",
    "product_views_90d",
    "add_to_carts_90d",
    "days_since_last_session",
)
SILHOUETTE_SAMPLE = 10_000
MIN_SEGMENT_CUSTOMERS = 10
FIT_SAMPLE = 200_000  # k-means fits on a seeded sample of at most this many customers


class Segmenter:
    """K-means with k chosen by silhouette within ``k_range``."""

    name = "segment_kmeans"
    task = "segment"

    def __init__(self, k_range: tuple[int, int] = (3, 8), seed: int = 0) -> None:
        if k_range[0] < 2 or k_range[1] < k_range[0]:
            raise ValueError(f"k_range must be (low, high) with 2 <= low <= high, got {k_range}")
        self.k_range, self.seed = k_range, seed
        self.columns = [FEATURES.index(f) for f in SEGMENT_FEATURES]

    def _prepare(self, X: np.ndarray) -> np.ndarray:
        raw = np.nan_to_num(X[:, self.columns].astype(np.float64), nan=0.0)
        return np.sign(raw) * np.log1p(np.abs(raw))

    def fit(self, X: np.ndarray) -> Segmenter:
        # At least ten customers a segment: a small shop is offered fewer segments, not refused.
        high = min(self.k_range[1], len(X) // MIN_SEGMENT_CUSTOMERS)
        if high < self.k_range[0]:
            raise TrainingError(
                f"{len(X)} customers are too few for {self.k_range[0]} segments of at least {MIN_SEGMENT_CUSTOMERS}"
            )
        if len(X) > FIT_SAMPLE:
            X = X[np.sort(np.random.default_rng(self.seed).choice(len(X), size=FIT_SAMPLE, replace=False))]
        logged = self._prepare(X)
        self.mean_, self.std_ = logged.mean(axis=0), logged.std(axis=0)
        self.std_[self.std_ < 1e-9] = 1.0
        Z = ((logged - self.mean_) / self.std_).astype(np.float32)
        rng = np.random.default_rng(self.seed)
        sample = rng.choice(len(Z), size=min(SILHOUETTE_SAMPLE, len(Z)), replace=False)
        self.silhouettes_: dict[int, float] = {}
        best = None
        for k in range(self.k_range[0], high + 1):
            model = KMeans(n_clusters=k, n_init=4, random_state=self.seed).fit(Z)
            score = float(silhouette_score(Z[sample], model.labels_[sample]))
            self.silhouettes_[k] = score
            if best is None or score > best[0]:
                best = (score, model)
        self.model_ = best[1]
        labels = self.model_.labels_
        self.profiles_ = [
            {
                "segment": int(s),
                "customers": int((labels == s).sum()),
                "share": float((labels == s).mean()),
                "mean": {f: float(np.nanmean(X[labels == s, FEATURES.index(f)])) for f in SEGMENT_FEATURES},
            }
            for s in range(self.model_.n_clusters)
        ]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise NotFittedError("the segmenter is not fitted yet: call fit(X) first")
        Z = ((self._prepare(X) - self.mean_) / self.std_).astype(np.float32)
        return self.model_.predict(Z).astype(np.int64)

    def to_onnx(self) -> onnx.ModelProto:
        """Gather columns, log-transform and standardize (float64), then the k-means graph."""
        width = len(SEGMENT_FEATURES)
        kmeans = to_onnx(
            self.model_, initial_types=[(INPUT, FloatTensorType([None, width]))], target_opset=TARGET_OPSET
        )
        n = "prep/"
        nodes = [
            helper.make_node("Gather", [INPUT, f"{n}cols"], [f"{n}picked"], axis=1),
            helper.make_node("Cast", [f"{n}picked"], [f"{n}x"], to=TensorProto.DOUBLE),
            helper.make_node("IsNaN", [f"{n}x"], [f"{n}nan"]),
            helper.make_node("Where", [f"{n}nan", f"{n}zero", f"{n}x"], [f"{n}clean"]),
            helper.make_node("Abs", [f"{n}clean"], [f"{n}abs"]),
            helper.make_node("Add", [f"{n}abs", f"{n}one"], [f"{n}abs1"]),
            helper.make_node("Log", [f"{n}abs1"], [f"{n}log"]),
            helper.make_node("Sign", [f"{n}clean"], [f"{n}sign"]),
            helper.make_node("Mul", [f"{n}sign", f"{n}log"], [f"{n}logged"]),
            helper.make_node("Sub", [f"{n}logged", f"{n}mean"], [f"{n}centred"]),
            helper.make_node("Div", [f"{n}centred", f"{n}std"], [f"{n}z"]),
            helper.make_node("Cast", [f"{n}z"], [f"{n}z32"], to=TensorProto.FLOAT),
            helper.make_node("Identity", ["kmeans/label"], ["segment"]),
        ]
        inits = [
            const(f"{n}cols", self.columns, np.int64),
            const(f"{n}zero", 0.0, np.float64),
            const(f"{n}one", 1.0, np.float64),
            const(f"{n}mean", self.mean_, np.float64),
            const(f"{n}std", self.std_, np.float64),
        ]
        output = helper.make_tensor_value_info("segment", TensorProto.INT64, ["N"])
        return compose_graph({"kmeans": kmeans}, {"kmeans": {INPUT: f"{n}z32"}}, nodes, inits, [output], self.name)

    def describe(self) -> dict[str, object]:
        return {
            "family": "kmeans",
            "features": list(SEGMENT_FEATURES),
            "k": int(self.model_.n_clusters),
            "silhouettes": {str(k): v for k, v in self.silhouettes_.items()},
            "profiles": self.profiles_,
        }
