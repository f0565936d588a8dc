"""``Settings``: every default of the pipeline in one frozen object, read from flags, ``clv.toml``, defaults.

Precedence, highest first: a command-line flag (or a keyword of ``load_settings``), then
``clv.toml`` (``--config PATH``, or ``clv.toml`` in the working directory), then the defaults
below. Every key is checked, from a file or a keyword alike: an unknown key or a value of the
wrong kind stops with one line naming the key and the fix. The dbt project restates the feature
and scoring defaults as its vars (so ``dbt build`` works on its own); a test keeps them equal.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path

from duckdb_clv.errors import ClvError
from duckdb_clv.training.settings import TrainSettings
from duckdb_clv.udfs import DEFAULT_MODELS_DIR

# Training's own defaults, stated once in duckdb_clv.training.settings.
_TRAINING = TrainSettings()

DEFAULT_CONFIG = "clv.toml"


@dataclass(frozen=True)
class Settings:
    """Every setting of the pipeline, with its default; ``clv.toml`` may set each (see ``SECTIONS``).

    Attributes
    ----------
    db : str
        The working DuckDB database (schema ``raw``, the feature layer, the scored marts).
    models_dir : str
        The model registry folder.
    published : str
        The read-only serving database ``publish`` writes.
    report : str
        The HTML report ``report`` writes.
    evaluation : str
        The JSON evaluation ``evaluate`` writes.
    backtest : str
        The JSON ``backtest`` writes.
    as_of_date : str or None
        Scoring cutoff; ``None`` means the day after the last order.
    training_cutoffs : tuple of str or None
        Training cutoffs; ``None`` means month ends going back from the last fully observed one.
    n_training_cutoffs, horizon_days, churn_window_days : int
        Number of default training cutoffs, label horizon and churn window in days.
    discount_rate : float
        Annual rate of ``discounted_clv`` in ``customer_scores``.
    vip_percentile, regular_percentile : float
        Value tiers by predicted-CLV percentile.
    explain_drivers : bool
        Whether ``customer_scores.top_drivers`` is filled (explaining every customer costs far
        more than scoring it: docs/SCORING.md).
    seed, trials : int
        Training seed (same data and seed, same models) and search trials per tree family.
    """

    # [paths]
    db: str = "build/clv.duckdb"
    models_dir: str = DEFAULT_MODELS_DIR
    published: str = "build/published.duckdb"
    report: str = "build/report.html"
    evaluation: str = "build/evaluation.json"
    backtest: str = "build/backtest.json"
    # [features]
    as_of_date: str | None = None
    training_cutoffs: tuple[str, ...] | None = None
    n_training_cutoffs: int = 12
    horizon_days: int = 365
    churn_window_days: int = 90
    # [scoring]
    discount_rate: float = 0.1
    vip_percentile: float = 0.95
    regular_percentile: float = 0.5
    explain_drivers: bool = True
    # [training]
    seed: int = _TRAINING.seed
    trials: int = _TRAINING.trials

    def feature_vars(self) -> dict[str, object]:
        """The dbt vars of the feature layer (``build``); unset cutoffs keep dbt's data-driven choice."""
        out: dict[str, object] = {
            "n_training_cutoffs": self.n_training_cutoffs,
            "horizon_days": self.horizon_days,
            "churn_window_days": self.churn_window_days,
        }
        if self.as_of_date is not None:
            out["as_of_date"] = self.as_of_date
        if self.training_cutoffs is not None:
            out["training_cutoffs"] = list(self.training_cutoffs)
        return out

    def scoring_vars(self) -> dict[str, object]:
        """The dbt vars of the scored marts (``score``)."""
        return {
            "score": True,
            "vip_percentile": self.vip_percentile,
            "regular_percentile": self.regular_percentile,
            "discount_rate": self.discount_rate,
            "explain_drivers": self.explain_drivers,
        }


SECTIONS: dict[str, tuple[str, ...]] = {
    "paths": ("db", "models_dir", "published", "report", "evaluation", "backtest"),
    "features": ("as_of_date", "training_cutoffs", "n_training_cutoffs", "horizon_days", "churn_window_days"),
    "scoring": ("discount_rate", "vip_percentile", "regular_percentile", "explain_drivers"),
    "training": ("seed", "trials"),
}


def _date(where: str, value: object) -> str:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise ClvError(f"{where} must be a date like 2024-12-31, got {value!r}")


def _check(where: str, key: str, value: object) -> object:
    """The value in the form ``Settings`` holds, or a ClvError naming the key and what it takes."""
    if key in SECTIONS["paths"]:
        if not isinstance(value, str) or not value:
            raise ClvError(f"{where} must be a path in quotes, got {value!r}")
        return value
    if key == "as_of_date":
        return _date(where, value)
    if key == "training_cutoffs":
        if not isinstance(value, list) or not value:
            raise ClvError(f'{where} must be a list of dates like ["2024-11-30", "2024-12-31"], got {value!r}')
        return tuple(_date(f"each of {where}", v) for v in value)
    if key in ("n_training_cutoffs", "horizon_days", "churn_window_days", "trials"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ClvError(f"{where} must be a whole number of at least 1, got {value!r}")
        return value
    if key == "explain_drivers":
        if not isinstance(value, bool):
            raise ClvError(f"{where} must be true or false, got {value!r}")
        return value
    if key == "seed":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ClvError(f"{where} must be a whole number of at least 0, got {value!r}")
        return value
    # The rates and percentiles: numbers between 0 and 1.
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ClvError(f"{where} must be a number between 0 and 1, got {value!r}")
    return float(value)


def load_settings(path: str | Path | None = None, **overrides: object) -> Settings:
    """The settings: ``overrides`` (flags), then ``clv.toml`` (or ``path``), then the defaults.

    Parameters
    ----------
    path : path, optional
        The settings file; without it, ``clv.toml`` in the working directory if there is one.
    **overrides
        Settings by name (``db=``, ``horizon_days=``, ...); ``None`` leaves a setting to the file.

    Raises
    ------
    ClvError
        When an explicit path does not exist, the TOML does not parse, or a key is unknown or badly
        typed, in the file or in ``overrides``.
    """
    return _combine(_read_file(path), overrides, f"{path or DEFAULT_CONFIG}: [scoring] ")


def make_settings(**values: object) -> Settings:
    """Settings from the defaults and ``values`` only (no file), each checked like a ``clv.toml`` key.

    Raises
    ------
    ClvError
        When a name is not a setting or a value is badly typed.
    """
    return _combine({}, values, "")


def _combine(from_file: dict[str, object], overrides: dict[str, object], file_label: str) -> Settings:
    values = dict(from_file)
    names = {f.name for f in dataclasses.fields(Settings)}
    for key, value in overrides.items():
        if key not in names:
            raise ClvError(f"unknown setting {key!r}; the settings are {', '.join(sorted(names))}")
        if value is not None:
            values[key] = _check(key, key, list(value) if isinstance(value, tuple) else value)
    settings = Settings(**values)
    if settings.vip_percentile < settings.regular_percentile:
        # Name the file when the clash comes from it.
        tiers_from_file = {"vip_percentile", "regular_percentile"} & {k for k in from_file if overrides.get(k) is None}
        raise ClvError(
            f"{file_label if tiers_from_file else ''}vip_percentile ({settings.vip_percentile}) must be at least "
            f"regular_percentile ({settings.regular_percentile})"
        )
    return settings


def _read_file(path: str | Path | None) -> dict[str, object]:
    """The checked values of the settings file, by setting name; none when there is no file."""
    file = Path(path) if path is not None else Path(DEFAULT_CONFIG)
    if not file.exists():
        if path is not None:
            raise ClvError(f"no config file at {file}: check the path, or leave out --config to use the defaults")
        return {}
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ClvError(f"{file} is not valid TOML ({err}): fix the line it names") from err
    values: dict[str, object] = {}
    for section, table in data.items():
        if section not in SECTIONS:
            raise ClvError(f"{file}: unknown section [{section}]; the sections are {', '.join(SECTIONS)}")
        if not isinstance(table, dict):
            raise ClvError(f"{file}: {section} must be a [{section}] section of settings")
        for key, value in table.items():
            if key not in SECTIONS[section]:
                raise ClvError(
                    f"{file}: unknown setting {key!r} in [{section}]; it takes {', '.join(SECTIONS[section])}"
                )
            values[key] = _check(f"{file}: [{section}] {key}", key, value)
    return values
