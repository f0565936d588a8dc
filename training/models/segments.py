"""K-means segments of customers on the principal components of their RFM and behaviour features.

The features are log-transformed (they are counts, amounts and days, all heavy-tailed) and
standardized; PCA keeps the fewest components that explain ``VARIANCE_SHARE`` of their variance
(the correlated counts of one habit, such as sessions and product views, then weigh as one
direction instead of several); k-means clusters the customers on those components, with k the
value in a range with the best silhouette on a seeded sample. All of it runs inside one exported
graph (standardization, PCA, k-means), so the model takes the contract's raw ``features``. Each
segment is described by the mean of its features in their original units and named by the rules
of ``segment_names``.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score

from duckdb_clv.training.errors import NotFittedError, TrainingError
from duckdb_clv.training.export.onnx_tools import INPUT, TARGET_OPSET, compose_graph, const
from duckdb_clv.training.models.segment_names import segment_names
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
VARIANCE_SHARE = 0.9  # PCA keeps the fewest components explaining at least this share
COMPONENTS_OUTPUT = "principal_components"  # a second graph output: each customer's coordinates


class Segmenter:
    """PCA, then k-means with k chosen by silhouette within ``k_range``."""

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
        # The full curve is reported; the kept components are its prefix (svd_solver="full" is exact).
        self.variance_ratios_ = PCA(svd_solver="full").fit(Z).explained_variance_ratio_
        keep = int(np.searchsorted(np.cumsum(self.variance_ratios_), VARIANCE_SHARE - 1e-12) + 1)
        self.pca_ = PCA(n_components=min(keep, Z.shape[1]), svd_solver="full").fit(Z)
        P = self.pca_.transform(Z).astype(np.float32)
        rng = np.random.default_rng(self.seed)
        sample = rng.choice(len(P), size=min(SILHOUETTE_SAMPLE, len(P)), replace=False)
        self.silhouettes_: dict[int, float] = {}
        best = None
        for k in range(self.k_range[0], high + 1):
            model = KMeans(n_clusters=k, n_init=4, random_state=self.seed).fit(P)
            score = float(silhouette_score(P[sample], model.labels_[sample]))
            self.silhouettes_[k] = score
            if best is None or score > best[0]:
                best = (score, model)
        self.model_ = best[1]
        labels = self.model_.labels_
        segments = range(self.model_.n_clusters)
        standardized = [
            dict(zip(SEGMENT_FEATURES, Z[labels == s].mean(axis=0).tolist(), strict=True)) for s in segments
        ]
        names = segment_names(standardized)
        self.profiles_ = [
            {
                "segment": int(s),
                "name": names[s],
                "customers": int((labels == s).sum()),
                "share": float((labels == s).mean()),
                "mean": {f: float(np.nanmean(X[labels == s, FEATURES.index(f)])) for f in SEGMENT_FEATURES},
                "standardized_mean": standardized[s],
            }
            for s in segments
        ]
        return self

    def _components(self, X: np.ndarray) -> np.ndarray:
        Z = ((self._prepare(X) - self.mean_) / self.std_).astype(np.float32)
        return self.pca_.transform(Z).astype(np.float32)

    def predict(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise NotFittedError("the segmenter is not fitted yet: call fit(X) first")
        return self.model_.predict(self._components(X)).astype(np.int64)

    def to_onnx(self) -> onnx.ModelProto:
        """Gather columns, log-transform and standardize (float64), then the PCA and k-means graphs.

        Outputs ``segment`` and, for plots, ``principal_components`` (rows x kept components).
        """
        width, kept = len(SEGMENT_FEATURES), self.pca_.n_components_
        pca = to_onnx(self.pca_, initial_types=[(INPUT, FloatTensorType([None, width]))], target_opset=TARGET_OPSET)
        kmeans = to_onnx(self.model_, initial_types=[(INPUT, FloatTensorType([None, kept]))], target_opset=TARGET_OPSET)
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
            helper.make_node("Identity", [f"pca/{pca.graph.output[0].name}"], [COMPONENTS_OUTPUT]),
        ]
        inits = [
            const(f"{n}cols", self.columns, np.int64),
            const(f"{n}zero", 0.0, np.float64),
            const(f"{n}one", 1.0, np.float64),
            const(f"{n}mean", self.mean_, np.float64),
            const(f"{n}std", self.std_, np.float64),
        ]
        outputs = [
            helper.make_tensor_value_info("segment", TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info(COMPONENTS_OUTPUT, TensorProto.FLOAT, ["N", kept]),
        ]
        wiring = {"pca": {INPUT: f"{n}z32"}, "kmeans": {INPUT: f"pca/{pca.graph.output[0].name}"}}
        return compose_graph({"pca": pca, "kmeans": kmeans}, wiring, nodes, inits, outputs, self.name)

    def describe(self) -> dict[str, object]:
        return {
            "family": "kmeans",
            "features": list(SEGMENT_FEATURES),
            "pca": {
                "variance_share": VARIANCE_SHARE,
                "components": int(self.pca_.n_components_),
                "explained_variance_ratio": [float(v) for v in self.variance_ratios_],
            },
            "k": int(self.model_.n_clusters),
            "silhouettes": {str(k): v for k, v in self.silhouettes_.items()},
            "profiles": self.profiles_,
        }
