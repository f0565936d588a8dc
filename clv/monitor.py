"""``drift_findings`` and ``run_accuracy``: what the monitors say about the latest scoring runs, newest first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb

from duckdb_clv.errors import ClvError

LEVELS = ("warning", "alert")


@dataclass(frozen=True)
class Finding:
    """One column of one scoring run whose drift warns or alerts, on the seasonal or the scoring baseline."""

    as_of_date: dt.date
    models: str  # 'value/version, churn/version, segment/version'
    baseline: str  # 'seasonal' (shift) or 'scoring' (psi)
    column: str
    is_output: bool
    psi: float | None  # scoring baseline
    missing_share_change: float | None  # scoring baseline
    shift: float | None  # seasonal baseline
    shift_z: float | None  # seasonal baseline
    status: str


@dataclass(frozen=True)
class DriftReport:
    runs: int  # scoring runs with drift measured
    shown: int  # of which the newest ``shown`` are listed
    findings: list[Finding]  # newest run first, alerts first, then by size

    def newest_at_least(self, level: str) -> list[Finding]:
        """The newest run's findings at ``level`` or worse ('warning' or 'alert')."""
        if not self.findings:
            return []
        newest = self.findings[0].as_of_date, self.findings[0].models
        worse = LEVELS[LEVELS.index(level) :]
        return [f for f in self.findings if (f.as_of_date, f.models) == newest and f.status in worse]


def drift_findings(db: str | Path, runs: int = 3) -> DriftReport:
    """Warnings and alerts of the newest ``runs`` scoring runs in ``monitor_drift``.

    Raises
    ------
    ClvError
        When the database is missing or has no ``monitor_drift`` (run ``clv score`` first).
    """
    if runs < 1:
        raise ClvError(f"--runs must be at least 1, got {runs}")
    path = Path(db)
    if not path.exists():
        raise ClvError(f"no database at {path}: run `clv score` first, or pass --db")
    with duckdb.connect(str(path), read_only=True) as con:
        try:
            total = con.execute(
                "SELECT count(*) FROM (SELECT DISTINCT as_of_date, value_model, churn_model, segment_model "
                "FROM monitor_drift)"
            ).fetchone()[0]
        except duckdb.CatalogException as err:
            raise ClvError(f"{path} has no monitor_drift: run `clv score` to measure drift") from err
        rows = con.execute(
            """
            WITH run AS (
                SELECT as_of_date, value_model, churn_model, segment_model, max(measured_at) AS measured_at
                FROM monitor_drift GROUP BY ALL
                ORDER BY measured_at DESC LIMIT ?
            )
            SELECT d.as_of_date, d.value_model || ', ' || d.churn_model || ', ' || d.segment_model,
                   d.baseline, d.column_name, d.is_output, d.psi, d.missing_share_change, d.shift, d.shift_z,
                   d.status
            FROM monitor_drift d JOIN run USING (as_of_date, value_model, churn_model, segment_model)
            WHERE d.baseline IN ('seasonal', 'scoring') AND d.status IN ('warning', 'alert')
            ORDER BY run.measured_at DESC, d.status = 'alert' DESC, d.baseline = 'seasonal' DESC,
                     coalesce(abs(d.shift), d.psi) DESC, d.column_name
            """,
            [runs],
        ).fetchall()
    return DriftReport(total, min(runs, total), [Finding(*r) for r in rows])


@dataclass(frozen=True)
class RunAccuracy:
    """How one scoring run turned out so far (a row of ``monitor_accuracy``)."""

    as_of_date: dt.date
    models: str
    horizon_share: float  # of the value horizon observed in the loaded data
    total_ratio: float | None  # predicted / realised total, once the horizon has elapsed
    to_date_ratio: float | None  # predicted pro rata / realised so far, before that
    normalized_gini: float | None
    roc_auc: float | None  # once the churn window has elapsed
    churn_rate: float | None
    predicted_churn_rate: float | None


def run_accuracy(db: str | Path, runs: int = 3) -> list[RunAccuracy]:
    """The newest ``runs`` rows of ``monitor_accuracy``; empty when the database has none."""
    with duckdb.connect(str(db), read_only=True) as con:
        try:
            rows = con.execute(
                "SELECT as_of_date, value_model || ', ' || churn_model || ', ' || segment_model, horizon_share, "
                "total_ratio, CASE WHEN NOT value_matured THEN predicted_to_date / nullif(realised_to_date, 0) END, "
                "normalized_gini, roc_auc, churn_rate, predicted_churn_rate "
                "FROM monitor_accuracy ORDER BY as_of_date DESC, measured_at DESC LIMIT ?",
                [runs],
            ).fetchall()
        except duckdb.CatalogException:
            return []
    return [RunAccuracy(*r) for r in rows]
