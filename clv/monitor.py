"""``drift_findings``: the drift warnings and alerts of the latest scoring runs, newest first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb

from duckdb_clv.errors import ClvError

LEVELS = ("warning", "alert")


@dataclass(frozen=True)
class Finding:
    """One column of one scoring run whose drift warns or alerts (scoring baseline)."""

    as_of_date: dt.date
    models: str  # 'value/version, churn/version, segment/version'
    column: str
    is_output: bool
    psi: float
    ks_distance: float
    missing_share_change: float
    status: str


@dataclass(frozen=True)
class DriftReport:
    runs: int  # scoring runs with drift measured
    shown: int  # of which the newest ``shown`` are listed
    findings: list[Finding]  # newest run first, then by PSI

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
                   d.column_name, d.is_output, d.psi, d.ks_distance, d.missing_share_change, d.status
            FROM monitor_drift d JOIN run USING (as_of_date, value_model, churn_model, segment_model)
            WHERE d.baseline = 'scoring' AND d.status IN ('warning', 'alert')
            ORDER BY run.measured_at DESC, d.psi DESC, d.column_name
            """,
            [runs],
        ).fetchall()
    return DriftReport(total, min(runs, total), [Finding(*r) for r in rows])
