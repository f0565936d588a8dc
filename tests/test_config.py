"""clv.toml: settings between the command line and the defaults, each checked with a one-line error."""

from __future__ import annotations

import pytest

from duckdb_clv.cli import build_parser, main, settings_for
from duckdb_clv.errors import ClvError
from duckdb_clv.settings import Settings, load_settings, make_settings
from tests.conftest import write

pytestmark = pytest.mark.fast  # make test-fast: no shop, no dbt

FULL = """
[paths]
db = "work/shop.duckdb"
models_dir = "work/models"
published = "work/serving.duckdb"
report = "work/report.html"

[features]
as_of_date = 2025-06-30
training_cutoffs = ["2024-10-31", 2024-11-30, "2024-12-31"]
horizon_days = 180
churn_window_days = 60

[scoring]
discount_rate = 0.08
vip_percentile = 0.9
regular_percentile = 0.4

[training]
seed = 5
trials = 3
"""


def parse(argv: list[str], config=None) -> Settings:
    return settings_for(build_parser().parse_args([*(["--config", str(config)] if config else []), *argv]))


def test_a_full_file_is_read_with_dates_normalized(tmp_path):
    settings = load_settings(write(tmp_path / "clv.toml", FULL))
    assert settings.db == "work/shop.duckdb" and settings.report == "work/report.html"
    assert settings.as_of_date == "2025-06-30"
    assert settings.training_cutoffs == ("2024-10-31", "2024-11-30", "2024-12-31")
    assert (settings.horizon_days, settings.churn_window_days) == (180, 60)
    assert (settings.discount_rate, settings.vip_percentile, settings.regular_percentile) == (0.08, 0.9, 0.4)
    assert (settings.seed, settings.trials) == (5, 3)


def test_flags_beat_the_file_and_the_file_beats_the_defaults(tmp_path, monkeypatch):
    config = write(tmp_path / "clv.toml", FULL)
    args = parse(["score"], config)
    assert (args.db, args.models_dir, args.vip_percentile, args.discount_rate) == (
        "work/shop.duckdb",
        "work/models",
        0.9,
        0.08,
    )
    args = parse(["--db", "other.duckdb", "score", "--vip-percentile", "0.99"], config)
    assert (args.db, args.vip_percentile, args.regular_percentile) == ("other.duckdb", 0.99, 0.4)
    args = parse(["build", "--horizon-days", "365"], config)
    assert (args.horizon_days, args.churn_window_days, args.training_cutoffs) == (
        365,
        60,
        ("2024-10-31", "2024-11-30", "2024-12-31"),
    )
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # no clv.toml here: the defaults
    args = parse(["train"])
    assert (args.db, args.seed, args.trials) == ("build/clv.duckdb", 0, 4)
    args = parse(["publish"], config)
    assert args.published == "work/serving.duckdb"


def test_no_file_in_the_working_directory_means_the_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings() == Settings()
    write(tmp_path / "clv.toml", "[training]\ntrials = 2\n")
    assert load_settings().trials == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[scoring]\ndicount_rate = 0.1\n", "unknown setting 'dicount_rate' in [scoring]; it takes discount_rate"),
        ("[model]\nseed = 1\n", "unknown section [model]"),
        ("[features]\nhorizon_days = '365'\n", "[features] horizon_days must be a whole number of at least 1"),
        ("[features]\nhorizon_days = 0\n", "horizon_days must be a whole number of at least 1, got 0"),
        ("[features]\nas_of_date = '31/12/2024'\n", "as_of_date must be a date like 2024-12-31"),
        ("[features]\ntraining_cutoffs = '2024-12-31'\n", "training_cutoffs must be a list of dates"),
        ("[scoring]\ndiscount_rate = 8\n", "discount_rate must be a number between 0 and 1, got 8"),
        ("[scoring]\nvip_percentile = 0.3\n", "vip_percentile (0.3) must be at least regular_percentile (0.5)"),
        ("[training]\nseed = true\n", "seed must be a whole number"),
        ("[scoring]\nexplain_drivers = 'no'\n", "[scoring] explain_drivers must be true or false, got 'no'"),
        ("[paths]\ndb = 3\n", "[paths] db must be a path in quotes"),
        ("[paths\ndb = 'x'\n", "is not valid TOML"),
    ],
)
def test_bad_settings_stop_with_one_line_naming_the_key(tmp_path, text, message):
    path = write(tmp_path / "clv.toml", text)
    with pytest.raises(ClvError, match=None) as err:
        load_settings(path)
    assert message in str(err.value)


def test_the_cli_prints_a_bad_setting_as_one_line(tmp_path, capsys):
    path = write(tmp_path / "clv.toml", "[features]\nhorizon_days = -3\n")
    assert main(["--config", str(path), "build"]) == 2
    err = capsys.readouterr().err.strip()
    assert "horizon_days must be a whole number" in err and len(err.splitlines()) == 1
    assert main(["--config", str(tmp_path / "missing.toml"), "build"]) == 2
    assert "no config file at" in capsys.readouterr().err


def test_the_python_api_takes_settings_by_keyword_checked_like_the_file(tmp_path):
    settings = load_settings(write(tmp_path / "clv.toml", FULL), horizon_days=90, training_cutoffs=None)
    assert (settings.horizon_days, settings.churn_window_days) == (90, 60)  # keyword, then file
    assert settings.training_cutoffs == ("2024-10-31", "2024-11-30", "2024-12-31")  # None leaves it to the file
    assert make_settings(db="x.duckdb") == Settings(db="x.duckdb")
    with pytest.raises(ClvError, match="unknown setting 'horizon'; the settings are "):
        make_settings(horizon=30)
    with pytest.raises(ClvError, match="churn_window_days must be a whole number of at least 1, got 0"):
        make_settings(churn_window_days=0)
    with pytest.raises(ClvError, match=r"^vip_percentile \(0.2\) must be at least regular_percentile \(0.5\)$"):
        make_settings(vip_percentile=0.2)


def test_the_settings_defaults_are_the_dbt_projects_vars():
    # dbt_project.yml restates them so that `dbt build` works on its own; they must not drift.
    import yaml

    from duckdb_clv.build import dbt_project_dir

    variables = yaml.safe_load((dbt_project_dir() / "dbt_project.yml").read_text())["vars"]
    defaults = Settings()
    for name in (
        "as_of_date",
        "training_cutoffs",
        "n_training_cutoffs",
        "horizon_days",
        "churn_window_days",
        "vip_percentile",
        "regular_percentile",
        "discount_rate",
        "explain_drivers",
    ):
        assert variables[name] == getattr(defaults, name), name


def test_top_drivers_can_be_turned_off_by_flag_or_file(tmp_path, monkeypatch):
    from duckdb_clv.cli import build_parser

    monkeypatch.chdir(tmp_path)
    assert Settings().scoring_vars()["explain_drivers"] is True
    write(tmp_path / "clv.toml", "[scoring]\nexplain_drivers = false\n")
    assert load_settings().scoring_vars()["explain_drivers"] is False
    args = build_parser().parse_args(["score", "--no-drivers"])
    assert args.explain_drivers is False and build_parser().parse_args(["score"]).explain_drivers is None
