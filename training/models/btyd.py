"""The BG/NBD + Gamma-Gamma model: maximum-likelihood fits, and the baseline on the feature matrix.

BG/NBD (Fader, Hardie and Lee, 2005): while alive, a customer buys as a Poisson process with
rate lambda ~ Gamma(r, alpha); after each repeat purchase it leaves with probability
p ~ Beta(a, b). Gamma-Gamma: a customer's order values are Gamma(p, nu) with nu ~ Gamma(q, gamma),
independent of its purchasing. Both take the BTYD summary of the feature layer: ``frequency``
(repeat purchase periods), ``recency`` and ``T`` in one time unit (weeks in this project), and
``monetary_value`` (mean value of repeat purchases).

The estimators follow the scikit-learn API: ``__init__`` stores settings, ``fit`` validates and
returns ``self``, fitted attributes end in ``_``. ``BTYDFit`` fits both on the contract's BTYD
summary columns (``frequency``, ``recency_weeks``, ``t_weeks``, ``monetary_value``), converting the
horizon and churn window from days to weeks once, and serves its outputs through the ONNX graph of
``btyd_graph`` beside this module. ``baseline`` makes it a candidate like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import onnx
import onnxruntime as ort
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1

from duckdb_clv.training.errors import NotFittedError, TrainingError
from duckdb_clv.training.export.onnx_tools import session
from duckdb_clv.training.models.btyd_graph import BTYD_OUTPUTS, btyd_graph
from duckdb_clv.udfs.contract import FEATURES

# Fits start from several points; the best converged one wins. Log-parameters keep them positive.
STARTS = (np.zeros(4), np.log([0.5, 5.0, 0.8, 3.0]), np.log([2.0, 20.0, 1.5, 8.0]))


def _array(name: str, values: object) -> np.ndarray:
    out = np.asarray(values, dtype=np.float64)
    if out.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {out.shape}")
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} has {int((~np.isfinite(out)).sum())} NaN or infinite values; drop or fill them")
    if np.any(out < 0):
        raise ValueError(f"{name} has {int((out < 0).sum())} negative values; it counts time or purchases from 0")
    return out


def check_summary(frequency: object, recency: object, T: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated BTYD summary arrays: same length, finite, 0 <= recency <= T, whole frequencies."""
    x, t_x, t = _array("frequency", frequency), _array("recency", recency), _array("T", T)
    if not (x.size == t_x.size == t.size):
        raise ValueError(
            f"frequency, recency and T must have one value per customer, got {x.size}, {t_x.size}, {t.size}"
        )
    if x.size == 0:
        raise ValueError("no customers: the BTYD summary is empty")
    if np.any(x != np.round(x)):
        raise ValueError("frequency must be whole numbers of repeat purchase periods")
    if np.any(t_x > t + 1e-9):
        raise ValueError(
            f"recency exceeds T for {int((t_x > t + 1e-9).sum())} customers; use the same time unit for both"
        )
    if np.any((x == 0) & (t_x > 0)):
        raise ValueError("recency must be 0 for customers without repeat purchases (frequency 0)")
    return x, t_x, t


def bgnbd_log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood at ``params`` = (r, alpha, a, b)."""
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + t)
    # The dropped-after-last-purchase branch exists only for customers with repeat purchases.
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x), -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


@dataclass(frozen=True)
class BGNBDParams:
    """Fitted BG/NBD parameters."""

    r: float
    alpha: float
    a: float
    b: float


class BGNBD:
    """BG/NBD purchase model fitted by maximum likelihood.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty on the parameters, for small or degenerate samples.

    Attributes
    ----------
    params_ : BGNBDParams
        The fitted (r, alpha, a, b).
    log_likelihood_ : float
        Mean log-likelihood per customer at the optimum.
    """

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, frequency: object, recency: object, T: object) -> BGNBD:
        """Fit on the BTYD summary; raises TrainingError when no start converges to finite values."""
        if self.penalizer < 0:
            raise ValueError(f"penalizer must be >= 0, got {self.penalizer}")
        x, t_x, t = check_summary(frequency, recency, T)

        def loss(log_params: np.ndarray) -> float:
            params = np.exp(log_params)
            value = -np.mean(bgnbd_log_likelihood(params, x, t_x, t)) + self.penalizer * np.sum(params**2)
            return float(value) if np.isfinite(value) else 1e100

        best = None
        for start in STARTS:
            result = minimize(loss, start, method="L-BFGS-B", options={"maxiter": 2_000})
            if np.all(np.isfinite(result.x)) and result.fun < 1e99 and (best is None or result.fun < best.fun):
                best = result
        if best is None or not best.success:
            message = best.message if best is not None else "the likelihood was not finite at any start"
            raise TrainingError(
                f"BG/NBD fit did not converge ({message}); check that frequency, recency and T use one time unit, "
                "or set a small penalizer"
            )
        r, alpha, a, b = np.exp(best.x)
        self.params_ = BGNBDParams(float(r), float(alpha), float(a), float(b))
        self.log_likelihood_ = -float(best.fun)
        return self

    def _fitted(self) -> BGNBDParams:
        if not hasattr(self, "params_"):
            raise NotFittedError("this BGNBD is not fitted yet: call fit(frequency, recency, T) first")
        return self.params_

    def p_alive(self, frequency: object, recency: object, T: object) -> np.ndarray:
        """Probability that each customer is still active at T (1 for customers without repeats)."""
        p = self._fitted()
        x, t_x, t = check_summary(frequency, recency, T)
        with np.errstate(divide="ignore", over="ignore"):
            log_ratio = (
                np.log(p.a)
                - np.log(np.maximum(p.b + x - 1, 1e-300))
                + (p.r + x) * (np.log(p.alpha + t) - np.log(p.alpha + t_x))
            )
        return np.where(x > 0, 1.0 / (1.0 + np.exp(log_ratio)), 1.0)

    def expected_purchases(self, periods: float, frequency: object, recency: object, T: object) -> np.ndarray:
        """Expected repeat purchases in (T, T + periods] given each customer's history."""
        p = self._fitted()
        if periods < 0:
            raise ValueError(f"periods must be >= 0, got {periods}")
        x, t_x, t = check_summary(frequency, recency, T)
        z = periods / (p.alpha + t + periods)
        hyp = hyp2f1(p.r + x, p.b + x, p.a + p.b + x - 1, z)
        head = (p.a + p.b + x - 1) / (p.a - 1)
        decay = ((p.alpha + t) / (p.alpha + t + periods)) ** (p.r + x)
        return head * (1 - decay * hyp) * self.p_alive(x, t_x, t)

    def p_no_purchase(self, window: float, frequency: object, recency: object, T: object) -> np.ndarray:
        """Probability of no purchase in (T, T + window]: dropped out, or alive and quiet."""
        p = self._fitted()
        x, t_x, t = check_summary(frequency, recency, T)
        alive = self.p_alive(x, t_x, t)
        return 1 - alive + alive * ((p.alpha + t) / (p.alpha + t + window)) ** (p.r + x)

    def expected_purchases_new(self, periods: float) -> float:
        """Expected purchases in (0, periods] of a customer just acquired (no history)."""
        p = self._fitted()
        z = periods / (p.alpha + periods)
        hyp = hyp2f1(p.r, p.b, p.a + p.b - 1, z)
        return float((p.a + p.b - 1) / (p.a - 1) * (1 - (p.alpha / (p.alpha + periods)) ** p.r * hyp))


@dataclass(frozen=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma parameters."""

    p: float
    q: float
    v: float


class GammaGamma:
    """Gamma-Gamma spend model fitted by maximum likelihood on customers with repeat purchases.

    Attributes
    ----------
    params_ : GammaGammaParams
        The fitted (p, q, v); the population mean order value is p * v / (q - 1).
    """

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, frequency: object, monetary_value: object) -> GammaGamma:
        """Fit on customers with frequency > 0 and positive monetary value."""
        x = _array("frequency", frequency)
        m = _array("monetary_value", monetary_value)
        if x.size != m.size:
            raise ValueError(f"frequency and monetary_value must have one value per customer, got {x.size}, {m.size}")
        use = (x > 0) & (m > 0)
        if use.sum() < 10:
            raise TrainingError(f"Gamma-Gamma needs customers with repeat purchases and spend; got {int(use.sum())}")
        x, m = x[use], m[use]
        # v is a scale in money units: fitting on spend in units of its median makes the fit, and
        # the penalty on v, the same in any currency (a shop selling in cents or in millions would
        # otherwise have its v pulled towards 0 by the penalty). p and q have no unit; v scales back.
        unit = float(np.median(m))
        m = m / unit

        def loss(log_params: np.ndarray) -> float:
            p, q, v = np.exp(log_params)
            ll = (
                gammaln(p * x + q)
                - gammaln(p * x)
                - gammaln(q)
                + q * np.log(v)
                + (p * x - 1) * np.log(m)
                + p * x * np.log(x)
                - (p * x + q) * np.log(v + m * x)
            )
            value = -np.mean(ll) + self.penalizer * (p**2 + q**2 + v**2)
            return float(value) if np.isfinite(value) else 1e100

        starts = (np.zeros(3), np.log([2.0, 3.0, 1.0]))
        results = [minimize(loss, s, method="L-BFGS-B", options={"maxiter": 2_000}) for s in starts]
        best = min((r for r in results if r.fun < 1e99), key=lambda r: r.fun, default=None)
        if best is None or not best.success:
            raise TrainingError("Gamma-Gamma fit did not converge: check that monetary_value is a mean order value > 0")
        p, q, v = np.exp(best.x)
        if q <= 1:
            raise TrainingError(
                f"Gamma-Gamma fit gave q = {q:.3f} <= 1: order values are too heavy-tailed for a finite mean spend"
            )
        self.params_ = GammaGammaParams(float(p), float(q), float(v * unit))
        return self

    def expected_order_value(self, frequency: object, monetary_value: object) -> np.ndarray:
        """Each customer's expected order value: a blend of the population mean and its own mean."""
        if not hasattr(self, "params_"):
            raise NotFittedError("this GammaGamma is not fitted yet: call fit(frequency, monetary_value) first")
        g = self.params_
        x = _array("frequency", frequency)
        m = _array("monetary_value", monetary_value)
        population = g.p * g.v / (g.q - 1)
        weight = g.p * x / (g.p * x + g.q - 1)
        return (1 - weight) * population + weight * m


def discounted_clv(
    bgnbd: BGNBD,
    gamma_gamma: GammaGamma,
    frequency: object,
    recency: object,
    T: object,
    monetary_value: object,
    periods: int,
    rate: float,
) -> np.ndarray:
    """Discounted expected value over ``periods`` whole time units (weeks here) at ``rate`` per unit.

    CLV = sum over t = 1..periods of E[purchases in (t - 1, t]] * E[order value] / (1 + rate)^t: the
    purchases of each period are discounted by the end of that period.
    """
    if periods < 1 or int(periods) != periods:
        raise ValueError(f"periods must be a whole number >= 1, got {periods}")
    if rate < 0:
        raise ValueError(f"rate must be >= 0 per period, got {rate}")
    cumulative = np.stack([bgnbd.expected_purchases(k, frequency, recency, T) for k in range(periods + 1)])
    per_period = np.diff(cumulative, axis=0)
    discount = (1 + rate) ** -np.arange(1, periods + 1)
    return (discount @ per_period) * gamma_gamma.expected_order_value(frequency, monetary_value)


DAYS_PER_WEEK = 7.0
# Rows per onnxruntime call when computing the served outputs. The series stops per row, so the
# batch size changes no value; small batches are faster, because a batch runs as many terms as
# its slowest row needs and most small batches hold no brand-new customer.
SERVED_BATCH = 4_096
_COLUMNS = {name: FEATURES.index(name) for name in ("frequency", "recency_weeks", "t_weeks", "monetary_value")}


def summary(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(frequency, recency, T, monetary value) in weeks from the feature matrix; NULLs read as 0."""
    cols = [np.nan_to_num(X[:, _COLUMNS[c]].astype(np.float64), nan=0.0) for c in _COLUMNS]
    x, t_x, t, m = cols
    # float32 storage can put recency a hair above T for customers whose last purchase is today.
    return x, np.minimum(t_x, t), t, m


def cached_by_identity(
    cache: dict[int, tuple[np.ndarray, np.ndarray]],
    key: np.ndarray,
    compute: Callable[[np.ndarray], np.ndarray],
    size: int,
) -> np.ndarray:
    """``compute(key)``, kept in ``cache`` for the last ``size`` arrays by their identity.

    The entry holds ``key`` itself, which keeps its id from being reused while it is cached.
    """
    hit = cache.get(id(key))
    if hit is not None and hit[0] is key:
        return hit[1]
    out = compute(key)
    if len(cache) >= size:
        cache.pop(next(iter(cache)))
    cache[id(key)] = (key, out)
    return out


@dataclass
class BTYDFit:
    """A fitted BG/NBD + Gamma-Gamma pair with the horizon and churn window it predicts over."""

    bgnbd: BGNBD
    gamma_gamma: GammaGamma
    horizon_weeks: float
    churn_window_weeks: float
    fitted_on: str
    customers: int
    # Results by array identity, and the session running the graph: see ``outputs``.
    _cache: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, init=False, repr=False)
    _session: ort.InferenceSession | None = field(default=None, init=False, repr=False)

    @classmethod
    def fit(cls, X: np.ndarray, horizon_days: int, churn_window_days: int, fitted_on: str) -> BTYDFit:
        """Fit both models on the BTYD summary of ``X`` (one cutoff's rows)."""
        x, t_x, t, m = summary(X)
        bgnbd = BGNBD(penalizer=1e-4).fit(x, t_x, t)
        gamma_gamma = GammaGamma(penalizer=1e-4).fit(x, m)
        return cls(
            bgnbd, gamma_gamma, horizon_days / DAYS_PER_WEEK, churn_window_days / DAYS_PER_WEEK, fitted_on, int(x.size)
        )

    def outputs(self, X: np.ndarray) -> np.ndarray:
        """(N x 4): P(alive), expected purchases over the horizon, expected order value, P(no purchase in window).

        The last few results are kept by array identity: a training run asks for the outputs of
        the same training, validation and test matrices once per candidate and per search trial.
        """
        return cached_by_identity(self._cache, X, self._served_outputs, size=4)

    def _served_outputs(self, X: np.ndarray) -> np.ndarray:
        """The outputs as the exported graph computes them, by running that graph.

        Models that take these outputs as inputs are trained and checked on exactly the numbers
        they will be served: a float32 value one bit away from scipy's could otherwise take the
        other branch of a tree split that sits between two training values.
        """
        if self._session is None:
            self._session = session(self.graph(), threads=2)
        out = np.empty((len(X), len(BTYD_OUTPUTS)), dtype=np.float64)
        for start in range(0, len(X), SERVED_BATCH):
            part = np.ascontiguousarray(X[start : start + SERVED_BATCH], dtype=np.float32)
            out[start : start + len(part)] = self._session.run(["btyd"], {"features": part})[0]
        return out

    def reference_outputs(self, X: np.ndarray) -> np.ndarray:
        """The same outputs from scipy's closed forms (float64): what the graph is tested against."""
        x, t_x, t, m = summary(X)
        alive = self.bgnbd.p_alive(x, t_x, t)
        purchases = self.bgnbd.expected_purchases(self.horizon_weeks, x, t_x, t)
        spend = self.gamma_gamma.expected_order_value(x, m)
        quiet = self.bgnbd.p_no_purchase(self.churn_window_weeks, x, t_x, t)
        return np.column_stack([alive, purchases, spend, quiet])

    def value(self, X: np.ndarray) -> np.ndarray:
        out = self.outputs(X)
        return out[:, 1] * out[:, 2]

    def churn(self, X: np.ndarray) -> np.ndarray:
        return self.outputs(X)[:, 3]

    def graph(self) -> onnx.ModelProto:
        b, g = self.bgnbd.params_, self.gamma_gamma.params_
        return btyd_graph((b.r, b.alpha, b.a, b.b), (g.p, g.q, g.v), self.horizon_weeks, self.churn_window_weeks)

    def params(self) -> dict[str, object]:
        b, g = self.bgnbd.params_, self.gamma_gamma.params_
        return {
            "bgnbd": {"r": b.r, "alpha": b.alpha, "a": b.a, "b": b.b},
            "gamma_gamma": {"p": g.p, "q": g.q, "v": g.v},
            "time_unit": "week",
            "horizon_weeks": self.horizon_weeks,
            "churn_window_weeks": self.churn_window_weeks,
            "fitted_on_cutoff": self.fitted_on,
            "customers": self.customers,
            "outputs": list(BTYD_OUTPUTS),
        }
