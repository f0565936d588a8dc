"""Kill -9 at random moments during `clv publish`, `dbt build` and export into the registry.

After every kill, the working database, the registry and the published database must each be in
their last good state, and the next run must succeed. Each heavy trial set has a short version
that `make test` runs and a 20-trial version behind ``-m slow`` (`make reliability`).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import onnx
import pytest

from duckdb_clv import udfs
from duckdb_clv.publish import PUBLISHED, publish
from duckdb_clv.training.export.registry import register
from duckdb_clv.udfs import registry
from duckdb_clv.udfs.sessions import open_session
from tests.conftest import copy_db

TRIALS = 20


def trial_counts(quick: int) -> list:
    """A short trial set for every run and the full one behind the slow marker."""
    full = pytest.param(TRIALS, id=f"{TRIALS}-trials", marks=pytest.mark.slow)
    return [pytest.param(quick, id=f"{quick}-trials"), full]


STARTED = "started"
# The line a trial process runs when its work begins: say so, then send the rest of its output
# (dbt's log) to /dev/null, so that a full pipe never stalls it.
REPORT_START = 'import os; print("started", flush=True); os.dup2(os.open(os.devnull, os.O_WRONLY), 1)'


def start(stderr: Path, *args: str) -> subprocess.Popen:
    """A process in a session of its own (killing it takes its children, dbt, too), started and at work.

    The child prints ``started`` once its imports are done and its work begins; this returns only
    then, so a kill that follows hits a process that is doing the work under trial, not one still
    importing or one that died on import (its stderr, kept in ``stderr``, is then the failure).
    """
    proc = subprocess.Popen(args, start_new_session=True, stdout=subprocess.PIPE, stderr=stderr.open("wb"), text=True)
    line = proc.stdout.readline()
    if line.strip() != STARTED:
        proc.wait()
        raise AssertionError(
            f"the trial process did not start its work (exit {proc.returncode}): {stderr.read_text()[-2000:]}"
        )
    return proc


def kill(proc: subprocess.Popen) -> bool:
    """SIGKILL the process and its children; whether it was still running when the kill hit."""
    with contextlib.suppress(ProcessLookupError):  # it may have exited on its own
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # -SIGKILL: the kill ended it; anything else: it had exited by itself before the kill.
    return proc.returncode == -signal.SIGKILL


def read_only(db: Path, timeout: float = 30.0) -> duckdb.DuckDBPyConnection:
    """A read-only connection once the killed processes' lock on the file is gone."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return duckdb.connect(str(db), read_only=True)
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_the_harness_counts_only_kills_that_hit_a_live_process_at_work(tmp_path):
    # A child that dies on import never reports starting: that is a failure, not a survived trial.
    with pytest.raises(AssertionError, match=r"did not start its work(.|\n)*no_such_module"):
        start(tmp_path / "stderr.txt", sys.executable, "-c", "import no_such_module")
    # A child that has finished by the time of the kill was not killed.
    done = start(tmp_path / "stderr.txt", sys.executable, "-c", REPORT_START)
    done.wait(timeout=60)
    assert kill(done) is False
    busy = start(tmp_path / "stderr.txt", sys.executable, "-c", REPORT_START + "\nimport time; time.sleep(60)")
    assert kill(busy) is True


PUBLISHER = textwrap.dedent(
    """
    import sys
    from duckdb_clv.publish import publish
    {started}
    while True:
        publish(sys.argv[1], sys.argv[2])
    """
).replace("{started}", REPORT_START)


def _published(path: Path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in PUBLISHED}


@pytest.mark.parametrize("trials", trial_counts(5))
def test_publish_killed_at_random_moments_leaves_the_last_good_file(scored, tmp_path, trials):
    db = copy_db(scored[0], tmp_path / "clv.duckdb")
    target = tmp_path / "serving" / "published.duckdb"
    expected = publish(db, target)
    rng = random.Random(5)
    kills = survived = 0
    for _ in range(trials):
        proc = start(tmp_path / "stderr.txt", sys.executable, "-c", PUBLISHER, str(db), str(target))
        time.sleep(rng.uniform(0.0, 2.5))  # each publish takes about a second: any moment of one or two
        assert kill(proc), (tmp_path / "stderr.txt").read_text()[-2000:]  # it publishes forever unless it failed
        kills += 1
        # Whatever moment the kill hit, the serving file opens and holds every table whole.
        assert _published(target) == expected
        survived += 1
    leftovers = list(target.parent.glob(".*.tmp*"))
    assert publish(db, target) == expected
    # The next publish removed what the killed ones left behind.
    assert list(target.parent.glob(".*.tmp*")) == []
    assert sorted(p.name for p in target.parent.iterdir()) == ["published.duckdb"]
    print(f"crash trials (publish): {kills} killed, {survived} survived, {len(leftovers)} staging files swept")


# What `clv build` runs, with the start of its work reported.
BUILDER = textwrap.dedent(
    """
    import sys
    from duckdb_clv.build import build_features
    {started}
    build_features(sys.argv[1])
    """
).replace("{started}", REPORT_START)


def _relations(db: Path) -> dict[str, tuple[int, int]]:
    """Rows and an order-free content hash of every table and view (the database's state)."""
    with read_only(db) as con:
        names = con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables ORDER BY 1"
        ).fetchall()
        return {n: tuple(con.execute(f"SELECT count(*), sum(hash(t)) FROM {n} t").fetchall()[0]) for (n,) in names}


@pytest.mark.parametrize("trials", trial_counts(1))
def test_dbt_build_killed_at_random_moments_leaves_every_relation_whole(built, tmp_path, trials):
    db = copy_db(built.db, tmp_path / "clv.duckdb")
    build = (sys.executable, "-c", BUILDER, str(db))
    began = time.monotonic()
    proc = start(tmp_path / "stderr.txt", *build)  # the last good state, timed from the start of its work
    assert proc.wait(timeout=600) == 0, (tmp_path / "stderr.txt").read_text()[-2000:]
    duration = time.monotonic() - began
    expected = _relations(db)
    rng = random.Random(11)
    kills = survived = finished_first = 0
    while kills < trials:
        proc = start(tmp_path / "stderr.txt", *build)
        time.sleep(rng.uniform(0.0, duration))
        if not kill(proc):
            assert proc.returncode == 0, (tmp_path / "stderr.txt").read_text()[-2000:]
            finished_first += 1  # it finished before the kill: not a crash trial
            continue
        kills += 1
        # Every relation dbt had built is there whole, with the content of the last good build
        # (dbt swaps each one in inside a transaction); anything else is a staging leftover.
        state = _relations(db)
        assert {n: state.get(n) for n in expected} == expected
        assert all("__dbt" in n for n in set(state) - set(expected)), set(state) - set(expected)
        survived += 1
    assert start(tmp_path / "stderr.txt", *build).wait(timeout=600) == 0
    assert _relations(db) == expected  # the next run succeeds and leaves nothing behind
    print(
        f"crash trials (dbt build, {duration:.0f} s each): {kills} killed mid-build, {survived} survived, "
        f"{finished_first} finished before their kill (not counted)"
    )


EXPORTER = textwrap.dedent(
    """
    import json, sys
    import onnx
    from duckdb_clv.training.export.registry import register
    from duckdb_clv.udfs import registry
    source, name, root = sys.argv[1], sys.argv[2], sys.argv[3]
    card = registry.read_card(source, name)
    model = onnx.load(f"{source}/{name}/{card['version']}/model.onnx")
    base = {k: card[k] for k in ("name", "task", "metrics", "cutoffs", "model") if k in card}
    {started}
    while True:
        written = register(root, model, base)
        registry.promote(root, card["task"], name, written["version"], reason="crash trial")
    """
).replace("{started}", REPORT_START)


def _check_registry(root: Path, checked: set[tuple[str, str]]) -> None:
    """Every version not in ``checked`` verifies and opens, and so does every pointer's version."""
    for name in registry.model_names(root):
        for version in registry.versions(root, name):
            if (name, version) not in checked:
                data, card = registry.verified_model(root, name, version)
                open_session(data, card["task"], f"{name} {version}")
                checked.add((name, version))
    for task in registry.TASKS:
        pointer = registry.champion(root, task)
        if pointer is not None:
            registry.verified_model(root, pointer["name"], pointer["version"])


def _hidden(root: Path, name: str) -> set[str]:
    """Staging entries (hidden names) in the model's folder and the pointers' folder."""
    return {p.name for folder in (root / name, root / "champions") for p in folder.iterdir() if p.name.startswith(".")}


@pytest.mark.parametrize("trials", trial_counts(2))
def test_export_killed_at_random_moments_leaves_the_registry_whole(trained, tmp_path, trials):
    root = tmp_path / "models"
    shutil.copytree(trained.models, root)
    name = registry.champion(root, "value")["name"]
    exporter = (sys.executable, "-c", EXPORTER, str(trained.models), name, str(root))
    rng = random.Random(13)
    checked: set[tuple[str, str]] = set()
    left: set[str] = set()
    kills = survived = 0
    for _ in range(trials):
        proc = start(tmp_path / "stderr.txt", *exporter)
        time.sleep(rng.uniform(0.0, 3.0))  # each version is written in a fraction of a second
        assert kill(proc), (tmp_path / "stderr.txt").read_text()[-2000:]  # it exports forever unless it failed
        kills += 1
        # No half-written version is visible, every pointer names a whole one, and scoring works.
        _check_registry(root, checked)
        with udfs.connect(trained.built.db, root) as con:
            assert con.execute("SELECT count(predict_clv(s)) FROM ml_scoring_set s").fetchall()[0][0] > 0
        left |= _hidden(root, name)
        survived += 1
    # The next export succeeds and sweeps what the killed ones left behind.
    card = registry.read_card(trained.models, name)
    model = onnx.load(str(trained.models / name / card["version"] / "model.onnx"))
    written = register(root, model, {k: card[k] for k in ("name", "task", "metrics", "cutoffs", "model") if k in card})
    registry.promote(root, "value", name, written["version"], reason="after the crash trials")
    assert _hidden(root, name) == set()
    _check_registry(root, checked)
    print(
        f"crash trials (export): {kills} killed, {survived} survived, {len(checked)} versions verified, "
        f"{len(left)} staging entries of killed writers swept"
    )
