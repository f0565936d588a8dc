"""``build_features``: run ``dbt build`` on the feature layer with the right profile and vars.

Runs dbt as a subprocess with JSON logs, so progress can be reported model by model and failures
turned into one line. dbt's own artefacts (``target/``, logs) go next to the database, never into
the repository.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from duckdb_clv.errors import ClvError
from duckdb_clv.ingest.resources import memory_limit
from duckdb_clv.udfs import DEFAULT_MODELS_DIR


def dbt_project_dir() -> Path:
    """The dbt project: package data of an installed wheel, or the checkout's top-level ``dbt_project/``.

    Raises
    ------
    ClvError
        When neither is there (a broken installation).
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "dbt_project", here.parent / "dbt_project"):  # installed; checkout
        if (candidate / "dbt_project.yml").is_file():
            return candidate
    raise ClvError(f"the dbt project is missing beside {here}: reinstall duckdb-clv")


# dbt runs on this interpreter, so the profile's plugin (duckdb_clv.udfs.dbt_plugin) is imported
# from the same installation as the code that started the build.
DBT_MAIN = "import sys; from dbt.cli.main import cli; sys.exit(cli())"

Progress = Callable[[int, int, str], None]
# Info-level events dbt prints when a node is done (NodeFinished is debug-level, not on stdout).
NODE_DONE = (
    "LogModelResult",
    "LogTestResult",
    "LogSeedResult",
    "LogSnapshotResult",
    "LogNodeNoOpResult",
    "SkippingDetails",
)


@dataclass
class BuildResult:
    """What a build did."""

    nodes: int
    messages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # tests of severity warn that found rows
    training_cutoffs: list[str] = field(default_factory=list)
    scoring_cutoff: str | None = None


def check_database(db: Path) -> None:
    """Fail in one line unless ``db`` is a database with loaded orders (``clv load`` run)."""
    if not db.exists():
        raise ClvError(f"no database at {db}: load data first with `clv load --db {db} --orders FILE`")
    try:
        with duckdb.connect(str(db), read_only=True) as con:
            n = con.execute("SELECT count(*) FROM raw.orders").fetchone()[0]
    except duckdb.CatalogException as err:
        hint = f"load data first with `clv load --db {db} --orders FILE`"
        raise ClvError(f"{db} has no raw.orders table: {hint}") from err
    except duckdb.IOException as err:
        raise ClvError(f"cannot open {db} ({str(err).splitlines()[0]}): close other programs using it") from err
    if n == 0:
        raise ClvError(f"{db} has no orders yet: load some with `clv load --db {db} --orders FILE`")


def build_features(
    db_path: str | Path,
    variables: dict[str, object] | None = None,
    full_refresh: bool = False,
    select: str | None = None,
    only_complete_tests: bool = False,
    progress: Progress | None = None,
    models_dir: str | Path | None = None,
) -> BuildResult:
    """Run ``dbt build`` (models and their tests) on the database.

    Parameters
    ----------
    db_path
        DuckDB file holding schema ``raw`` (from ``clv load``).
    variables
        dbt vars, see ``Settings.feature_vars`` and ``Settings.scoring_vars``.
    full_refresh
        Rebuild every cutoff instead of only new ones and the scoring cutoff.
    select
        A dbt selector to build part of the project.
    only_complete_tests
        With ``select``, run only the tests whose every parent is selected (dbt's cautious
        indirect selection): a part of the project then builds without the tests that relate it
        to models left out.
    progress
        Called with (nodes done, nodes in all, node description) as each node finishes.
    models_dir
        The model registry the scoring functions read (the profile's plugin); default ``$CLV_MODELS_DIR``
        or ``udfs.DEFAULT_MODELS_DIR``.

    Raises
    ------
    ClvError
        When dbt is missing, the database is not ready, or a model or test fails.
    """
    _require_dbt()
    db = Path(db_path).resolve()
    check_database(db)
    env = {
        "CLV_DB": str(db),
        "CLV_MEMORY_LIMIT": memory_limit(),
        "CLV_MODELS_DIR": str(Path(models_dir or os.environ.get("CLV_MODELS_DIR", DEFAULT_MODELS_DIR)).resolve()),
    }
    result = run_dbt_build(
        db.parent / "dbt", env, variables, full_refresh, select, only_complete_tests, progress=progress
    )
    _read_cutoffs(db, result)
    return result


def run_dbt_build(
    work: Path,
    env: dict[str, str],
    variables: dict[str, object] | None = None,
    full_refresh: bool = False,
    select: str | None = None,
    only_complete_tests: bool = False,
    target: str | None = None,
    progress: Progress | None = None,
) -> BuildResult:
    """Run ``dbt build`` on the project in a subprocess, reporting progress node by node.

    Parameters
    ----------
    work
        Folder for dbt's ``target/`` and ``logs/``.
    env
        Variables the profile reads (``CLV_DB``, ``CLV_SPARK_*``...), on top of this process's environment.
    variables, full_refresh, select, only_complete_tests, progress
        As ``build_features``.
    target
        The profile's target: ``dev`` (DuckDB) by default, ``spark`` for dbt-spark.

    Raises
    ------
    ClvError
        When a model or test fails, or dbt cannot run; the message names the first failed node.
    """
    project = dbt_project_dir()
    args = [
        sys.executable,
        "-c",
        DBT_MAIN,
        "--log-format",
        "json",
        "--no-use-colors",
        "build",
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
        "--vars",
        json.dumps(variables or {}),
    ]
    if target:
        args += ["--target", target]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
    if only_complete_tests:
        args += ["--indirect-selection", "cautious"]

    result = BuildResult(nodes=0)
    total = 0
    # dbt runs in its own process: its global state stays out of ours and its hold on the
    # database file ends with it. Its JSON log lines drive the progress bar.
    env = {**os.environ, **env, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    # In `work`, so what an engine leaves in its working folder (Spark's derby.log) stays with the build.
    work.mkdir(parents=True, exist_ok=True)
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=work) as proc:
        assert proc.stdout is not None
        tail: list[str] = []
        for line in proc.stdout:
            event = _parse(line)
            if event is None:
                tail = [*tail, line.rstrip()][-5:]
                continue
            name, data = event
            if name == "LogStartLine":
                total = int(data.get("total", total))
            elif name in NODE_DONE:
                result.nodes += 1
                if progress:
                    progress(result.nodes, total, data.get("node_info", {}).get("node_name", ""))
            elif name == "JinjaLogInfo":
                result.messages.append(data.get("msg", ""))
            elif name in ("MainEncounteredError", "MainStackTrace", "CompilationError"):
                tail.append(data.get("exc", "") or data.get("msg", ""))
        code = proc.wait()
    if code != 0:
        raise ClvError(_failure(work, tail))
    result.warnings = _warnings(work)
    return result


def _warnings(work: Path) -> list[str]:
    """'test name: rows found' for every test of severity warn that found rows in this build."""
    try:
        results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    except (OSError, ValueError, KeyError):
        return []
    return [
        f"{r['unique_id'].split('.')[2]}: {r.get('failures') or 0} rows" for r in results if r.get("status") == "warn"
    ]


def _require_dbt() -> None:
    if importlib.util.find_spec("dbt.adapters.duckdb") is None:
        raise ClvError("dbt is not installed: install it with `pip install 'duckdb-clv[dbt]'` (make install does)")


def _parse(line: str) -> tuple[str, dict] | None:
    try:
        record = json.loads(line)
        return record["info"]["name"], record.get("data", {})
    except (ValueError, KeyError, TypeError):
        return None


def _failure(work: Path, tail: list[str]) -> str:
    """One line naming the first failed node and its message, from dbt's run_results.json."""
    log = work / "logs" / "dbt.log"
    try:
        results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    except (OSError, ValueError, KeyError):
        results = []
    failed = [r for r in results if r.get("status") in ("error", "fail")]
    if failed:
        first = failed[0]
        lines = [m.strip() for m in (first.get("message") or first["status"]).strip().splitlines() if m.strip()]
        # dbt's first line names the node; the cause is the first line naming an error after it
        # (DuckDB may follow it with a hint or a link), else, for an error a macro raised, its
        # first line that is not the "> in macro" trace.
        plain = next((m for m in lines[1:] if not m.startswith(">")), lines[-1])
        cause = next((m for m in lines[1:] if "Error" in m), plain)
        message = lines[0] if len(lines) == 1 else f"{lines[0]}: {cause}"
        node = first["unique_id"].split(".")[-1]
        return f"dbt build failed at {node} ({len(failed)} failure(s)): {message}; details in {log}"
    detail = next((t.strip().splitlines()[0] for t in reversed(tail) if t.strip()), "see the log")
    return f"dbt could not run: {detail}; details in {log}"


def _read_cutoffs(db: Path, result: BuildResult) -> None:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT cutoff_date, cutoff_role FROM intermediate.int_cutoffs ORDER BY 1").fetchall()
    result.training_cutoffs = [str(d) for d, role in rows if role == "training"]
    result.scoring_cutoff = next((str(d) for d, role in rows if role == "scoring"), None)
