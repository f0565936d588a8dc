"""``clv.toml``: optional project settings, parsed once at the edge into a frozen ``Settings``.

Precedence, highest first: a command-line flag, then ``clv.toml`` (``--config PATH``, or
``clv.toml`` in the working directory), then the defaults below. Every key is checked: an unknown
key or a value of the wrong kind stops the command with one line naming the key and the fix.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path

from clv.errors import ClvError

DEFAULT_CONFIG = "clv.toml"


@dataclass(frozen=True)
class Settings:
    """Every setting ``clv.toml`` may hold; ``None`` keeps the dbt project's own default."""

    # [paths]
    db: str = "build/clv.duckdb"
    models_dir: str = "onnx_models"
    published: str = "build/published.duckdb"
    report: str = "build/report.html"
    # [features]
    as_of_date: str | None = None
    training_cutoffs: tuple[str, ...] | None = None
    n_training_cutoffs: int | None = None
    horizon_days: int | None = None
    churn_window_days: int | None = None
    # [scoring]
    discount_rate: float | None = None
    vip_percentile: float | None = None
    regular_percentile: float | None = None
    # [training]
    seed: int = 0
    trials: int = 4


SECTIONS: dict[str, tuple[str, ...]] = {
    "paths": ("db", "models_dir", "published", "report"),
    "features": ("as_of_date", "training_cutoffs", "n_training_cutoffs", "horizon_days", "churn_window_days"),
    "scoring": ("discount_rate", "vip_percentile", "regular_percentile"),
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
    if key == "seed":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ClvError(f"{where} must be a whole number of at least 0, got {value!r}")
        return value
    # The rates and percentiles: numbers between 0 and 1.
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ClvError(f"{where} must be a number between 0 and 1, got {value!r}")
    return float(value)


def load_settings(path: str | Path | None = None) -> Settings:
    """Read ``clv.toml`` (or ``path``); no file at the default place means the defaults.

    Raises
    ------
    ClvError
        When an explicit path does not exist, the TOML does not parse, or a key is unknown or badly typed.
    """
    file = Path(path) if path is not None else Path(DEFAULT_CONFIG)
    if not file.exists():
        if path is not None:
            raise ClvError(f"no config file at {file}: check the path, or leave out --config to use the defaults")
        return Settings()
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
    settings = Settings(**values)
    vip = settings.vip_percentile if settings.vip_percentile is not None else 0.95
    regular = settings.regular_percentile if settings.regular_percentile is not None else 0.5
    if vip < regular:
        raise ClvError(f"{file}: [scoring] vip_percentile ({vip}) must be at least regular_percentile ({regular})")
    return settings
