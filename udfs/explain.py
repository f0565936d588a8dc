"""Per-row explanations of a registered model: a base value plus one contribution per input.

``base + contributions.sum(axis=1)`` equals the model's prediction on the stated scale:

- value models: currency (the predicted net value over the horizon);
- churn models: log-odds of churning (``ln(p / (1 - p))`` of ``churn_score``).

Two methods, chosen by the model's family in its card:

- **Tree ensembles** (gradient boosting, random forests): exact Shapley values of the trees' summed
  output (path-dependent TreeSHAP, ``udfs.treeshap``) on the inputs the trees read. A model that
  carries the BG/NBD graph reads the customer's features followed by four values the graph derives
  from frequency, recency and age; those are reported under their own names
  (``bgnbd_p_alive`` ...). The trees' output passes through a link, the calibration and, for a
  model anchored on the BG/NBD expectation, a product with that expectation; these are additive
  in the trees' output space, apart from a monotone map to the stated scale (``exp`` for log-link
  value models, the Platt map for churn). Contributions are mapped through it proportionally:
  each is multiplied by ``(h(L) - h(L0)) / (L - L0)``, so they keep their signs and ratios and add
  up exactly. Where that map is linear (squared-error boosting and forests for value, boosting for
  churn) they are the exact Shapley values on the stated scale.
- **Everything else** (the networks, the BG/NBD baseline, the fused model): a path attribution
  (``udfs.path_attribution``) from the typical training customer (each feature's median, stored
  in the card) to the row, whose steps add up to the prediction exactly.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from duckdb_clv.udfs import onnx_graph, path_attribution, treeshap
from duckdb_clv.udfs.contract import FEATURES, HISTORY_INPUT, SEQUENCE_CHANNELS, SEQUENCE_WEEKS
from duckdb_clv.udfs.errors import UdfError
from duckdb_clv.udfs.models import LoadedModel, history_missing
from duckdb_clv.udfs.sessions import reads_history, session_options

SCALES = {"value": "currency", "churn": "log-odds"}
# The values a model's BG/NBD graph derives and appends to the features, in the graph's order
# (training.models.btyd_graph.BTYD_OUTPUTS; tests/udfs/test_explain.py holds them together).
DERIVED_INPUTS = (
    "bgnbd_p_alive",
    "bgnbd_expected_purchases",
    "gamma_gamma_expected_order_value",
    "bgnbd_p_no_purchase",
)
# An anchored model's prediction is its trees' output times the BG/NBD expected value (the
# expected purchases times the expected order value), reported as this input.
ANCHOR_INPUT = "bgnbd_expected_value"
# A sequence model's weekly history, explained as one input; its value is the net value over the weeks.
HISTORY_NAME = "weekly_history"
ANCHOR_FLOOR = 1e-6  # training.models.candidates.ANCHOR_FLOOR
PLATT_EPS = 1e-6  # training.models.calibration.EPS
# The features the BG/NBD + Gamma-Gamma graph reads (training.models.btyd_graph).
BTYD_INPUTS = ("frequency", "recency_weeks", "t_weeks", "monetary_value")
TREE_FAMILIES = ("hgb", "hgb_poisson", "hgb_tweedie", "hgb_squared_error", "rf")
LOG_LINK = ("poisson", "tweedie")


@dataclass(frozen=True)
class Explanation:
    """Contributions of each input to each row's prediction (rows x inputs)."""

    method: str
    scale: str
    inputs: tuple[str, ...]
    base: float
    values: np.ndarray  # the inputs' values (NaN: missing)
    contributions: np.ndarray
    prediction: np.ndarray  # base + contributions.sum(axis=1)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, PLATT_EPS, 1 - PLATT_EPS)
    return np.log(p) - np.log1p(-p)


def _to_scale(phi: np.ndarray, total: np.ndarray, base: float, h) -> tuple[np.ndarray, np.ndarray, float]:
    """Map additive contributions in an inner space (base + phi = total) through the monotone ``h``."""
    out_total = h(total)
    out_base = float(h(np.array([base]))[0])
    gap = total - base
    small = np.abs(gap) <= 1e-9 * (1 + abs(base))
    step = np.where(small, 1e-6 * (1 + abs(base)), 0.0)
    # Where the row sits at the base, any split of a zero change is exact; use the local slope.
    slope = np.where(small, (h(total + step) - h(total - step)) / np.where(small, 2 * step, 1.0), 0.0)
    ratio = np.where(small, slope, (out_total - out_base) / np.where(small, 1.0, gap))
    return phi * ratio[:, None], out_total, out_base


class TreeExplainer:
    """Exact TreeSHAP for a model whose graph holds one tree ensemble (or one part of a fused graph).

    ``prefix`` and ``described``: for a part of a fused model, the part's node-name prefix
    (``part0/``) and its card entry.
    """

    method = "treeshap"

    def __init__(self, model: LoadedModel, prefix: str = "", described: dict | None = None) -> None:
        nodes = onnx_graph.read_nodes(model.data, frozenset(treeshap.TREE_OPS))
        trees = [n for n in nodes if n.op_type in treeshap.TREE_OPS and f"/{prefix}" in f"/{n.inputs[0]}"]
        if len(trees) != 1:
            raise UdfError(f"{model.ref} holds {len(trees)} tree ensembles; TreeSHAP explains models with one")
        tree = trees[0]
        described = model.card.get("model", {}) if described is None else described
        width = len(FEATURES) + (len(DERIVED_INPUTS) if described.get("btyd_features") else 0)
        try:
            self.ensemble = treeshap.parse(tree, width)
        except UdfError as err:
            raise UdfError(f"{model.ref} cannot be explained: {err}") from err
        self.tree_input = tree.inputs[0]
        self.task = model.task
        self.inputs = FEATURES + (DERIVED_INPUTS if width > len(FEATURES) else ())
        self.logistic = tree.attributes.get("post_transform") == "LOGISTIC"
        self.calibration = described.get("calibration") or {}
        self.log_link = described.get("params", {}).get("loss") in LOG_LINK
        self.anchored = bool(described.get("anchored_on_btyd"))
        self.anchor_base = described.get("explanation_base")
        # Cards written before explanation_base held the anchor's training mean on the log scale.
        self.anchor_log_mean = described.get("anchor_log_mean")
        if self.anchored and not self.anchor_base and self.anchor_log_mean is None:
            raise UdfError(f"{model.ref} was trained before explanations; retrain it to explain it")
        data = onnx_graph.with_outputs(model.data, [self.tree_input])
        self.session = ort.InferenceSession(data, sess_options=session_options(), providers=["CPUExecutionProvider"])
        # A fused graph with a sequence part declares the history input, which the trees never read.
        self.history_shape = (SEQUENCE_WEEKS, len(SEQUENCE_CHANNELS)) if reads_history(self.session) else None

    def tree_values(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the trees' inputs, their Shapley values) before the link; ``ensemble.base + phi.sum(1)`` is their sum."""
        feed = {"features": X}
        if self.history_shape is not None:
            feed[HISTORY_INPUT] = np.zeros((len(X), *self.history_shape), np.float32)
        inputs = self.session.run([self.tree_input], feed)[0].astype(np.float64)
        return inputs, treeshap.shap_values(self.ensemble, inputs)

    def explain(self, X: np.ndarray, history: np.ndarray | None = None) -> Explanation:
        # Tree ensembles read the features alone; a history passed with them is not an input.
        inputs, phi = self.tree_values(X)
        base = self.ensemble.base
        total = base + phi.sum(axis=1)
        names = self.inputs
        if self.task == "value":
            scale = float(self.calibration.get("scale", 1.0))
            if self.log_link:
                base += np.log(scale)
                if self.anchored:
                    expected = np.maximum(inputs[:, len(FEATURES) + 1] * inputs[:, len(FEATURES) + 2], ANCHOR_FLOOR)
                    # The anchor's reference is free: it is set so that the base is the card's
                    # average validation prediction, and a customer BG/NBD expects little from
                    # gets a negative anchor contribution rather than every customer a positive one.
                    reference = np.log(self.anchor_base) - base if self.anchor_base else self.anchor_log_mean
                    phi = np.hstack([phi, (np.log(expected) - reference)[:, None]])
                    inputs = np.hstack([inputs, expected[:, None]])
                    names = (*names, ANCHOR_INPUT)
                    base += reference
                total = base + phi.sum(axis=1)
                phi, prediction, base = _to_scale(phi, total, base, np.exp)
            else:
                phi, prediction, base = _to_scale(phi, total, base, lambda m: np.maximum(scale * m, 0.0))
        else:
            slope = float(self.calibration.get("slope", 1.0))
            intercept = float(self.calibration.get("intercept", 0.0))

            def log_odds(m: np.ndarray) -> np.ndarray:
                p = 1 / (1 + np.exp(-m)) if self.logistic else m
                return slope * _logit(p) + intercept

            phi, prediction, base = _to_scale(phi, total, base, log_odds)
        return Explanation(self.method, SCALES[self.task], names, base, inputs, phi, prediction)


class PathExplainer:
    """Path attribution for any model, from the card's typical customer.

    ``output``: the graph tensor to explain (a fused model's part), default the model's output;
    ``family``: the model's family, to move only the inputs it reads (the BG/NBD model reads four).
    """

    method = "path"

    def __init__(self, model: LoadedModel, output: str | None = None, family: str | None = None) -> None:
        baseline = model.card.get("explanation", {}).get("baseline")
        if not baseline:
            raise UdfError(f"{model.ref} was trained before explanations; retrain it to explain it")
        self.reference = np.array([np.nan if baseline.get(f) is None else baseline[f] for f in FEATURES], np.float32)
        self.task = model.task
        self.output = output or model.task
        if output is None:
            self.session = model.session
        else:
            data = onnx_graph.with_outputs(model.data, [output])
            self.session = ort.InferenceSession(
                data, sess_options=session_options(), providers=["CPUExecutionProvider"]
            )
        family = family or model.card.get("model", {}).get("family")
        self.active = np.array([FEATURES.index(f) for f in BTYD_INPUTS]) if family == "btyd" else None
        self.model = model
        self.history_reference = None
        if reads_history(self.session):
            # The weekly history moves as one input, from the card's typical history.
            typical = model.card.get("explanation", {}).get("history_baseline")
            if typical is None:
                raise UdfError(f"{model.ref} was trained before explanations; retrain it to explain it")
            self.history_reference = np.asarray(typical, np.float32).reshape(SEQUENCE_WEEKS, len(SEQUENCE_CHANNELS))

    def _scaled(self, X: np.ndarray) -> np.ndarray:
        feed = {"features": X}
        if self.history_reference is not None:
            # The path's matrix carries each row's history flattened after its features.
            width = len(FEATURES)
            feed = {
                "features": np.ascontiguousarray(X[:, :width]),
                HISTORY_INPUT: np.ascontiguousarray(X[:, width:]).reshape(len(X), *self.history_reference.shape),
            }
        out = self.session.run([self.output], feed)[0].ravel().astype(np.float64)
        return out if self.task == "value" else _logit(out)

    def explain(self, X: np.ndarray, history: np.ndarray | None = None) -> Explanation:
        if self.history_reference is None:
            base = float(self._scaled(self.reference[None, :])[0])
            phi, prediction = path_attribution.attribute(self._scaled, self.reference, X, base, self.active)
            return Explanation(self.method, SCALES[self.task], FEATURES, base, X.astype(np.float64), phi, prediction)
        if history is None:
            raise history_missing(self.model.ref)
        width = len(FEATURES)
        reference = np.concatenate([self.reference, self.history_reference.ravel()])
        joined = np.hstack([X, history.reshape(len(X), -1)])
        block = np.arange(width, len(reference))
        base = float(self._scaled(reference[None, :])[0])
        phi, prediction = path_attribution.attribute(self._scaled, reference, joined, base, np.arange(width), [block])
        # The history is one input: its contribution sits in its first column; its value, the
        # row's total net value over the weeks.
        values = np.hstack([X, history[:, :, SEQUENCE_CHANNELS.index("net_value")].sum(axis=1, keepdims=True)])
        contributions = np.hstack([phi[:, :width], phi[:, width : width + 1]])
        return Explanation(
            self.method,
            SCALES[self.task],
            (*FEATURES, HISTORY_NAME),
            base,
            values.astype(np.float64),
            contributions,
            prediction,
        )


class FusedExplainer:
    """A fused model is a weighted sum of calibrated parts: each part explained its own way, summed."""

    def __init__(self, model: LoadedModel) -> None:
        described = model.card.get("model", {})
        self.scale = float((described.get("calibration") or {}).get("scale", 1.0))
        self.parts = []
        produced = {o for n in onnx_graph.read_nodes(model.data) for o in n.outputs}
        for i, part in enumerate(described.get("parts") or []):
            if part.get("family") in TREE_FAMILIES:
                explainer = TreeExplainer(model, prefix=f"part{i}/", described=part)
            else:
                # The part's calibrated output inside the fused graph (its name carries the nesting).
                output = [o for o in produced if f"/{o}".endswith(f"/part{i}/value")]
                if len(output) != 1:
                    raise UdfError(f"{model.ref}: part {i}'s output is not in its graph; retrain it to explain it")
                explainer = PathExplainer(model, output=output[0], family=part.get("family"))
            self.parts.append((float(part["weight"]), explainer))
        if not self.parts:
            raise UdfError(f"{model.ref}: its card lists no parts; retrain it to explain it")
        self.method = "+".join(sorted({e.method for _, e in self.parts}))

    def explain(self, X: np.ndarray, history: np.ndarray | None = None) -> Explanation:
        explained = [(w, e.explain(X, history)) for w, e in self.parts]
        names: list[str] = []
        for _, out in explained:
            names += [n for n in out.inputs if n not in names]
        column = {n: j for j, n in enumerate(names)}
        values = np.full((len(X), len(names)), np.nan)
        phi = np.zeros((len(X), len(names)))
        base = 0.0
        for weight, out in explained:
            at = [column[n] for n in out.inputs]
            values[:, at] = out.values
            phi[:, at] += self.scale * weight * out.contributions
            base += self.scale * weight * out.base
        # The fused output is floored at 0, which its non-negative parts never reach.
        return Explanation(self.method, "currency", tuple(names), base, values, phi, base + phi.sum(axis=1))


Explainer = TreeExplainer | PathExplainer | FusedExplainer
_explainers: dict[tuple[int, str], tuple[LoadedModel, Explainer]] = {}
_lock = threading.Lock()


def explainer_for(model: LoadedModel) -> Explainer:
    """The cached explainer of a loaded model version (built on first use)."""
    if model.task not in SCALES:
        raise UdfError(f"{model.ref} is a {model.task} model; explanations cover value and churn models")
    # Keyed by the loaded object, which the entry keeps alive, so its id cannot be reused.
    key = (id(model), model.ref)
    entry = _explainers.get(key)
    if entry is None:
        with _lock:
            entry = _explainers.get(key)
            if entry is None:
                family = model.card.get("model", {}).get("family")
                if family in TREE_FAMILIES:
                    explainer: Explainer = TreeExplainer(model)
                elif family == "fused":
                    explainer = FusedExplainer(model)
                else:
                    explainer = PathExplainer(model)
                entry = _explainers[key] = (model, explainer)
    return entry[1]
