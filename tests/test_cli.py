"""The `clv` command as a user meets it: help, generate, load, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import duckdb
import pytest

from duckdb_clv.cli import main
from duckdb_clv.errors import ClvError
from tests.conftest import write


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "duckdb_clv", *args], capture_output=True, text=True, timeout=300)


def test_help_lists_the_commands():
    result = run("--help")
    assert result.returncode == 0
    for command in (
        "generate",
        "load",
        "build",
        "train",
        "evaluate",
        "models",
        "score",
        "monitor",
        "publish",
        "sql",
        "report",
        "run",
        "demo",
    ):
        assert command in result.stdout


def test_every_command_prints_its_help(capsys):
    """argparse formats help lazily, so a bad help string only shows when a user asks for it."""
    from duckdb_clv.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices
    assert "backtest" in commands and "generate" in commands
    for name in commands:
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0, name
        assert "usage: clv " + name in capsys.readouterr().out


def test_generate_then_load_from_the_command_line(tmp_path):
    out, db = tmp_path / "shop", tmp_path / "clv.duckdb"
    assert main(["generate", "--customers", "400", "--seed", "3", "--out", str(out)]) == 0
    files = {t: str(out / f"{t}.parquet") for t in ("customers", "orders", "order_items", "returns", "events")}
    args = ["load", "--db", str(db)] + [a for t, f in files.items() for a in (f"--{t.replace('_', '-')}", f)]
    assert main(args) == 0
    with duckdb.connect(str(db), read_only=True) as con:
        read, loaded, rejected = con.execute(
            "SELECT sum(rows_read), sum(rows_loaded), sum(rows_rejected) FROM raw.load_log"
        ).fetchone()
    assert read == loaded and rejected == 0


def test_generate_writes_an_unusual_shop_by_scenario(tmp_path, capsys):
    # The scenario's own size (200 customers) unless --customers says otherwise.
    assert main(["generate", "--scenario", "tiny", "--out", str(tmp_path / "tiny")]) == 0
    meta = json.loads((tmp_path / "tiny" / "shop.json").read_text())
    assert meta["customers"] == 200
    assert main(["generate", "--scenario", "large_units", "--customers", "300", "--out", str(tmp_path / "big")]) == 0
    with duckdb.connect() as con:
        median = con.execute(f"SELECT median(amount) FROM '{tmp_path / 'big' / 'orders.parquet'}'").fetchone()[0]
    assert 1e6 < median < 5e7
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--scenario", "gigantic", "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2
    assert "invalid choice: 'gigantic'" in capsys.readouterr().err


def test_global_db_option_works_before_the_subcommand(tmp_path):
    csv = write(tmp_path / "o.csv", "customer_id,ordered_at,amount\nA,2024-01-01,5\n")
    db = tmp_path / "x.duckdb"
    assert main(["--db", str(db), "load", "--orders", str(csv)]) == 0
    assert db.exists()


def test_map_flags_load_a_transactions_file(tmp_path):
    csv = write(tmp_path / "t.csv", "cust,day,value\nA,2024-01-01,5\n")
    db = tmp_path / "x.duckdb"
    flags = ["--map", "customer_id=cust", "--map", "ordered_at=day", "--map", "amount=value"]
    assert main(["load", "--db", str(db), "--orders", str(csv), *flags]) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["load", "--orders", "/nope/*.csv"], "no file matches"),
        (["generate", "--customers", "0"], "--customers must be at least 1"),
        (["load", "--orders", "{csv}", "--max-date", "soon"], "--max-date must be a date"),
        # Each stage run before the one it needs says which to run.
        (["build"], "no database at"),
        (["train"], "run `clv load` and `clv build` first"),
        (["score", "--models-dir", "{tmp}/none"], "run `clv train"),
        (["report", "--models-dir", "{tmp}/none"], "no trained models in"),
        (["publish"], "no database at"),
        (["run", "--orders", "/nope/*.csv"], "no file matches"),
        (["models", "--models-dir", "{tmp}/none", "show", "nope"], "no model named 'nope'"),
        (["models", "--models-dir", "{tmp}/none", "promote", "value", "../x"], "model name"),
        (["--config", "{tmp}/none.toml", "build"], "no config file at"),
        (["generate", "--customers", "10", "--out", "/proc/clv_shop"], "check the path"),
    ],
)
def test_user_errors_print_one_line_and_exit_2(tmp_path, args, message):
    csv = write(tmp_path / "o.csv", "customer_id,ordered_at,amount\nA,2024-01-01,5\n")
    args = [a.replace("{csv}", str(csv)).replace("{tmp}", str(tmp_path)) for a in args]
    result = run("--db", str(tmp_path / "db.duckdb"), *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    root = tmp_path_factory.mktemp("sql")
    csv = write(root / "o.csv", "customer_id,ordered_at,amount\nA,2024-01-01,5\nB,2024-01-02,7\n")
    db = root / "clv.duckdb"
    assert main(["load", "--db", str(db), "--orders", str(csv)]) == 0
    return db


def test_sql_runs_a_command_and_statements_from_stdin(small_db):
    result = run("sql", "--db", str(small_db), "-c", "select sum(amount) as total from raw.orders")
    assert result.returncode == 0 and "12" in result.stdout and "total" in result.stdout
    piped = subprocess.run(
        [sys.executable, "-m", "duckdb_clv", "sql", "--db", str(small_db)],
        input="select count(*) as n from raw.orders; select 'hello' as greeting;",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert piped.returncode == 0 and "hello" in piped.stdout and "2" in piped.stdout


def test_sql_errors_are_one_line(small_db, tmp_path):
    result = run("sql", "--db", str(small_db), "-c", "select nope")
    assert result.returncode == 2 and "nope" in result.stderr and "Traceback" not in result.stderr
    missing = run("sql", "--db", str(tmp_path / "none.duckdb"), "-c", "select 1")
    assert missing.returncode == 2 and "no database at" in missing.stderr


def test_sql_prompt_reads_until_semicolon_and_survives_errors(small_db, monkeypatch, capsys):
    lines = iter(["select count(*)", "as n from raw.orders;", "select nope;"])

    def fake_input(prompt: str) -> str:
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", fake_input)
    assert main(["sql", "--db", str(small_db)]) == 0
    out = capsys.readouterr()
    assert "│ 2 │" in out.out or " 2 " in out.out
    assert "nope" in out.err


def test_a_missing_dbt_is_one_line_saying_how_to_install_it(tmp_path, monkeypatch):
    from duckdb_clv import build

    real = build.importlib.util.find_spec
    monkeypatch.setattr(build.importlib.util, "find_spec", lambda name: None if name.startswith("dbt") else real(name))
    with pytest.raises(ClvError, match=r"dbt is not installed: install it with `pip install 'duckdb-clv\[dbt\]'`"):
        build.build_features(tmp_path / "clv.duckdb")
