"""The report's plots, drawn with matplotlib and returned as inline PNG data URIs.

Every function takes plain arrays and returns ``data:image/png;base64,...`` so the HTML report is
one self-contained file that opens anywhere (mail attachment, shared drive, no server).
"""

from __future__ import annotations

import base64
import io

import numpy as np
from matplotlib.figure import Figure

from duckdb_clv.training.evaluation.importance import Importance
from duckdb_clv.training.evaluation.metrics import normalized_gini

# Enough points that a curve looks smooth, few enough that the PNG stays small.
CURVE_POINTS = 400
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")


def _figure(width: float, height: float, columns: int = 1) -> tuple[Figure, list]:
    # Figure objects without pyplot: no global state, no display needed (servers, CI, threads).
    fig = Figure(figsize=(width, height))
    axes = fig.subplots(1, columns, squeeze=False)[0]
    return fig, list(axes)


def _encode(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _style(name: str, i: int) -> dict[str, object]:
    # The oracle and the baseline keep one look in every chart so readers can find them.
    if name == "oracle":
        return {"color": "black", "linestyle": "--", "linewidth": 1.6}
    if name.endswith("_btyd"):
        return {"color": "#7f7f7f", "linestyle": ":", "linewidth": 1.8}
    return {"color": PALETTE[i % len(PALETTE)], "linewidth": 1.4}


def _finish_curves(fig: Figure, ax, xlabel: str, ylabel: str, title: str, legend: str) -> str:
    """The diagonal (random ranking / perfect calibration), labels, legend and grid of a curve chart."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc=legend)
    ax.grid(alpha=0.3)
    return _encode(fig)


def gain_curve(actual: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Share of customers (ordered by prediction, descending) against their share of the actual value."""
    order = np.argsort(-predicted, kind="stable")
    gain = np.r_[0.0, np.cumsum(actual[order])] / max(actual.sum(), 1e-12)
    population = np.linspace(0, 1, gain.size)
    keep = np.unique(np.linspace(0, gain.size - 1, CURVE_POINTS).astype(int))
    return population[keep], gain[keep]


def lorenz_figure(actual: np.ndarray, predictions: dict[str, np.ndarray]) -> str:
    """Cumulative gain of every value model, the perfect ordering and random, with each normalized Gini."""
    fig, (ax,) = _figure(7.5, 5.5)
    x, y = gain_curve(actual, actual)
    ax.plot(x, y, color="#bbbbbb", linewidth=4, label="perfect ordering (Gini 1.000)")
    for i, (name, predicted) in enumerate(predictions.items()):
        x, y = gain_curve(actual, predicted)
        ax.plot(x, y, label=f"{name} (Gini {normalized_gini(actual, predicted):.3f})", **_style(name, i))
    ax.plot([0, 1], [0, 1], color="#cccccc", linewidth=1, label="random (Gini 0)")
    return _finish_curves(
        fig,
        ax,
        "share of customers, highest predicted value first",
        "share of actual value over the horizon",
        "Cumulative gain (Lorenz curve) on the test cutoff",
        "lower right",
    )


def decile_figure(actual: np.ndarray, predictions: dict[str, np.ndarray]) -> str:
    """Mean predicted and mean actual value in each decile of each model's predictions."""
    fig, axes = _figure(5.2 * len(predictions), 4, len(predictions))
    for ax, (name, predicted) in zip(axes, predictions.items(), strict=True):
        parts = np.array_split(np.argsort(-predicted, kind="stable"), 10)
        x = np.arange(1, 11)
        ax.bar(x - 0.2, [predicted[p].mean() for p in parts], width=0.4, label="predicted", color="#1f77b4")
        ax.bar(x + 0.2, [actual[p].mean() for p in parts], width=0.4, label="actual", color="#ff7f0e")
        ax.set_xticks(x)
        # Value is heavy-tailed: on a linear axis the lower deciles would be invisible.
        ax.set_yscale("symlog", linthresh=1)
        ax.set_xlabel("decile of predicted value (1 = highest)")
        ax.set_ylabel("mean value per customer (log scale)")
        ax.set_title(name)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, axis="y")
    return _encode(fig)


def forecast_figure(
    origins: list[str],
    totals: dict[str, list[float]],
    realised: list[float],
    xlabel: str = "forecast origin",
    ylabel: str = "revenue over the horizon",
) -> str:
    """Predicted total revenue over the horizon per forecast origin, beside what was realised."""
    fig, (ax,) = _figure(max(5.0, 1.6 * len(origins) * (len(totals) + 1)), 4)
    x = np.arange(len(origins))
    width = 0.8 / (len(totals) + 1)
    for i, (name, values) in enumerate(totals.items()):
        ax.bar(x + i * width, values, width=width, label=name, color=PALETTE[i % len(PALETTE)])
    ax.bar(x + len(totals) * width, realised, width=width, label="realised", color="#444444")
    ax.set_xticks(x + 0.4 - width / 2, origins)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return _encode(fig)


def roc_figure(churned: np.ndarray, predictions: dict[str, np.ndarray]) -> str:
    """ROC curves of the churn models with their AUC."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, (ax,) = _figure(6, 5)
    for i, (name, p) in enumerate(predictions.items()):
        fpr, tpr, _ = roc_curve(churned, p)
        keep = np.unique(np.linspace(0, fpr.size - 1, CURVE_POINTS).astype(int))
        ax.plot(fpr[keep], tpr[keep], label=f"{name} (AUC {roc_auc_score(churned, p):.3f})", **_style(name, i))
    ax.plot([0, 1], [0, 1], color="#cccccc", linewidth=1)
    return _finish_curves(
        fig,
        ax,
        "false positive rate (active customers flagged)",
        "true positive rate (churners caught)",
        "Churn ROC on the test cutoff",
        "lower right",
    )


def calibration_figure(churned: np.ndarray, predictions: dict[str, np.ndarray], bins: int = 10) -> str:
    """Observed churn rate against mean predicted probability in equal-width bins."""
    fig, (ax,) = _figure(6, 5)
    edges = np.linspace(0, 1, bins + 1)
    for i, (name, p) in enumerate(predictions.items()):
        index = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
        used = [b for b in range(bins) if np.any(index == b)]
        ax.plot(
            [p[index == b].mean() for b in used],
            [churned[index == b].mean() for b in used],
            marker="o",
            markersize=4,
            label=name,
            **_style(name, i),
        )
    ax.plot([0, 1], [0, 1], color="#cccccc", linewidth=1, label="perfectly calibrated")
    return _finish_curves(
        fig,
        ax,
        "mean predicted churn probability",
        "observed churn rate",
        "Churn calibration on the test cutoff",
        "upper left",
    )


def importance_figure(importances: list[Importance], title: str, metric: str, top: int = 15) -> str:
    """Horizontal bars of the largest permutation importances."""
    shown = importances[:top][::-1]
    fig, (ax,) = _figure(7, 0.32 * len(shown) + 1.2)
    ax.barh(
        [imp.feature for imp in shown], [imp.drop for imp in shown], xerr=[imp.std for imp in shown], color="#1f77b4"
    )
    ax.set_xlabel(f"fall in {metric} when the feature is shuffled")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="x")
    return _encode(fig)


def drift_figure(columns: list[str], shifts: list[float], statuses: list[str], title: str) -> str:
    """Horizontal bars of seasonal shifts, coloured by the status the monitor gave each."""
    fig, (ax,) = _figure(7, 0.32 * len(columns) + 1.4)
    colours = {"alert": "#b3261e", "warning": "#e8a317"}
    ax.barh(columns[::-1], shifts[::-1], color=[colours.get(s, "#1f77b4") for s in statuses[::-1]])
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("seasonal shift (log ratio, or standard deviations for durations); red alert, amber warning")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="x")
    return _encode(fig)


def distribution_figure(predicted_clv: np.ndarray) -> str:
    """Histogram of predicted CLV on a log scale (CLV is heavy-tailed)."""
    fig, (ax,) = _figure(7, 4)
    positive = predicted_clv[predicted_clv > 0]
    if positive.size:
        bins = np.geomspace(max(positive.min(), 0.01), positive.max() * 1.01, 50)
        ax.hist(positive, bins=bins, color="#1f77b4")
        ax.set_xscale("log")
    ax.set_xlabel("predicted CLV over the horizon (log scale)")
    ax.set_ylabel("customers")
    zero = int((predicted_clv <= 0).sum())
    ax.set_title("Predicted CLV at the scoring cutoff" + (f" ({zero:,} customers at 0 not shown)" if zero else ""))
    ax.grid(alpha=0.3, axis="y")
    return _encode(fig)


def bars_figure(labels: list[str], customers: list[int], value: list[float], title: str) -> str:
    """Customers and total predicted CLV per group, side by side."""
    fig, axes = _figure(10, 3.6, 2)
    axes[0].bar(labels, customers, color="#1f77b4")
    axes[0].set_ylabel("customers")
    axes[1].bar(labels, value, color="#2ca02c")
    axes[1].set_ylabel("total predicted CLV")
    for ax in axes:
        ax.tick_params(axis="x", rotation=30)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(title)
    return _encode(fig)


def rfm_heatmap(counts: np.ndarray, mean_clv: np.ndarray) -> str:
    """Recency score (rows) by frequency score (columns): mean predicted CLV, annotated with customers."""
    fig, (ax,) = _figure(6.5, 5)
    image = ax.imshow(mean_clv, cmap="viridis", origin="lower")
    for r in range(counts.shape[0]):
        for f in range(counts.shape[1]):
            text = f"{mean_clv[r, f]:,.0f}\n{counts[r, f]:,}" if counts[r, f] else "-"
            ax.text(f, r, text, ha="center", va="center", fontsize=7, color="white")
    ax.set_xticks(range(counts.shape[1]), [str(i + 1) for i in range(counts.shape[1])])
    ax.set_yticks(range(counts.shape[0]), [str(i + 1) for i in range(counts.shape[0])])
    ax.set_xlabel("RFM frequency score (5 = most orders)")
    ax.set_ylabel("RFM recency score (5 = most recent)")
    ax.set_title("Mean predicted CLV and customers by RFM score")
    fig.colorbar(image, ax=ax, label="mean predicted CLV")
    return _encode(fig)


def beeswarm_figure(
    names: list[str], contributions: np.ndarray, values: np.ndarray, title: str, scale: str, top: int = 12
) -> str:
    """Each customer's contribution of each of the ``top`` inputs (largest mean |contribution| first).

    One dot per customer and input, coloured by where the customer's value of that input ranks
    (blue low, red high, grey missing), so a reader sees both how much an input moves predictions
    and in which direction its values push them.
    """
    order = np.argsort(-np.abs(contributions).mean(axis=0))[:top][::-1]
    fig, (ax,) = _figure(8, 0.42 * len(order) + 1.4)
    rng = np.random.default_rng(0)  # the jitter only spreads the dots; seeded so reports repeat
    for row, j in enumerate(order):
        x = contributions[:, j]
        v = values[:, j]
        present = np.isfinite(v)
        rank = np.full(len(v), np.nan)
        if present.any():
            rank[present] = (np.argsort(np.argsort(v[present])) + 0.5) / present.sum()
        y = row + rng.uniform(-0.3, 0.3, len(x))
        ax.scatter(x[~present], y[~present], s=5, color="#9e9e9e", alpha=0.6, linewidths=0)
        ax.scatter(
            x[present], y[present], s=5, c=rank[present], cmap="coolwarm", vmin=0, vmax=1, alpha=0.7, linewidths=0
        )
    ax.set_yticks(range(len(order)), [names[j] for j in order])
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(
        f"contribution to the prediction ({scale}); colour: the customer's value of the input, low blue, high red"
    )
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="x")
    return _encode(fig)


def coverage_figure(levels: np.ndarray, measured: dict[str, np.ndarray]) -> str:
    """Measured coverage of the prediction intervals against their nominal level, per model."""
    fig, (ax,) = _figure(6, 4.5)
    ax.plot([0, 1], [0, 1], color="black", linewidth=0.8, linestyle="--", label="nominal")
    for i, (name, coverage) in enumerate(measured.items()):
        ax.plot(levels, coverage, marker="o", markersize=3, **_style(name, i), label=name)
    return _finish_curves(
        fig, ax, "nominal level of the interval", "share of test customers inside it", "Interval coverage", "upper left"
    )


def segments_scatter(components: np.ndarray, segments: np.ndarray, names: dict[int, str]) -> str:
    """Customers on the first two principal components, one colour per named segment."""
    fig, (ax,) = _figure(7.5, 5.5)
    for i, (segment, name) in enumerate(sorted(names.items())):
        at = segments == segment
        if at.any():
            ax.scatter(
                components[at, 0],
                components[at, 1] if components.shape[1] > 1 else np.zeros(int(at.sum())),
                s=4,
                alpha=0.5,
                linewidths=0,
                color=PALETTE[i % len(PALETTE)],
                label=f"{name} ({int(at.sum()):,})",
            )
    ax.set_xlabel("first principal component")
    ax.set_ylabel("second principal component")
    ax.set_title(f"Segments of {len(segments):,} customers on the first two principal components")
    ax.legend(fontsize=8, loc="best", markerscale=3)
    ax.grid(alpha=0.3)
    return _encode(fig)


def pca_figure(ratios: np.ndarray, share: float, kept: int, silhouettes: dict[int, float], chosen: int) -> str:
    """Cumulative explained variance by components kept, and silhouette by number of segments."""
    fig, axes = _figure(10, 3.6, 2)
    components = np.arange(1, len(ratios) + 1)
    axes[0].bar(components, ratios, color="#1f77b4", label="each component")
    axes[0].plot(components, np.cumsum(ratios), marker="o", markersize=3, color="#d62728", label="cumulative")
    axes[0].axhline(share, color="black", linewidth=0.8, linestyle="--", label=f"kept: {share:.0%} ({kept})")
    axes[0].set_xlabel("principal component")
    axes[0].set_ylabel("share of variance explained")
    axes[0].legend(fontsize=8, loc="center right")
    ks = sorted(silhouettes)
    axes[1].plot(ks, [silhouettes[k] for k in ks], marker="o", color="#2ca02c")
    axes[1].axvline(chosen, color="black", linewidth=0.8, linestyle="--", label=f"chosen k = {chosen}")
    axes[1].set_xlabel("segments (k)")
    axes[1].set_ylabel("silhouette (sample)")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle("PCA before k-means: variance kept and the choice of k")
    return _encode(fig)
