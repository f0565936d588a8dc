"""Eight processes scoring through the SQL functions while the champion is promoted and rolled back.

Every query must succeed and be scored by one model version from start to end: its total equals
the total of exactly one version, measured beforehand by naming each version explicitly.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from duckdb_clv import udfs
from duckdb_clv.udfs import registry
from tests.conftest import copy_db

READERS = 8
QUERY = "SELECT sum(predict_clv(s)) FROM ml_scoring_set s"

READER = textwrap.dedent(
    """
    import json, os, sys
    from duckdb_clv import udfs
    db, models, stop, expected = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    queries, errors, mixed, seen = 0, [], 0, set()
    with udfs.connect(db, models) as con:
        # A query slower than 2 s would print DuckDB's progress bar into the JSON on stdout.
        con.execute("SET enable_progress_bar = false")
        while not os.path.exists(stop):
            try:
                total = con.execute(sys.argv[5]).fetchall()[0][0]
                match = [v for v, t in expected.items() if abs(total - t) <= 1e-9 * abs(t)]
                mixed += len(match) != 1
                seen.update(match)
                queries += 1
            except Exception as err:
                errors.append(str(err).splitlines()[0])
    print(json.dumps({"queries": queries, "errors": errors[:3], "n_errors": len(errors), "mixed": mixed,
                      "seen": sorted(seen)}))
    """
)


@pytest.fixture()
def registry_copy(trained, tmp_path):
    db = copy_db(trained.built.db, tmp_path / "clv.duckdb")
    models = shutil.copytree(trained.models, tmp_path / "models")
    return db, models


# Seconds of champion moves: a short run in every suite, the long one behind the slow marker.
DURATIONS = [pytest.param(8, id="8s"), pytest.param(25, id="25s", marks=pytest.mark.slow)]


@pytest.mark.parametrize("seconds", DURATIONS)
def test_eight_readers_see_one_version_per_query_while_the_champion_moves(registry_copy, tmp_path, seconds):
    db, models = registry_copy
    candidates = ["value_btyd", "value_hgb_poisson", "value_rf"]
    # Before the first promotion, and after some rollbacks, the original champion serves.
    original = registry.champion(models, "value")["name"]
    expected = {}
    with udfs.connect(db, models) as con:
        for name in dict.fromkeys([*candidates, original]):
            ref = f"{name}/{registry.versions(models, name)[-1]}"
            query = f"SELECT sum(predict_clv(s, model := '{ref}')) FROM ml_scoring_set s"
            expected[ref] = con.execute(query).fetchall()[0][0]
    assert len({round(t, 3) for t in expected.values()}) == len(expected), "versions must be told apart"
    stop = tmp_path / "stop"
    command = [sys.executable, "-c", READER, str(db), str(models), str(stop), json.dumps(expected), QUERY]
    readers = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(READERS)]
    moves = 0
    try:
        time.sleep(3)  # let every reader open its connection
        deadline = time.time() + seconds
        while time.time() < deadline:
            for name in candidates:
                registry.promote(models, "value", name, reason="concurrency test")
                moves += 1
                time.sleep(0.05)
            registry.rollback(models, "value")
            moves += 1
    finally:
        stop.touch()
        results = [json.loads(r.communicate(timeout=120)[0]) for r in readers]
    queries = sum(r["queries"] for r in results)
    assert sum(r["n_errors"] for r in results) == 0, [r["errors"] for r in results]
    assert sum(r["mixed"] for r in results) == 0
    assert all(r["queries"] > 0 for r in results)
    # The readers really did see the champion move.
    assert len({v for r in results for v in r["seen"]}) >= 2
    print(f"concurrency: {READERS} readers, {queries} queries, {moves} champion moves, 0 errors, 0 mixed")
