"""Kill -9 in the middle of `clv publish`: the serving file is always the last good one."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
import time

import duckdb

from clv.publish import PUBLISHED, publish
from tests.conftest import copy_db

TRIALS = 20

PUBLISHER = textwrap.dedent(
    """
    import sys
    from clv.publish import publish
    while True:
        publish(sys.argv[1], sys.argv[2])
    """
)


def _contents(path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in PUBLISHED}


def test_publish_killed_at_random_moments_leaves_the_last_good_file(scored, tmp_path):
    db = copy_db(scored[0], tmp_path / "clv.duckdb")
    target = tmp_path / "serving" / "published.duckdb"
    expected = publish(db, target)
    rng = random.Random(5)
    survived = 0
    for _ in range(TRIALS):
        proc = subprocess.Popen([sys.executable, "-c", PUBLISHER, str(db), str(target)])
        time.sleep(rng.uniform(0.5, 3.0))  # the interpreter starts in ~0.5 s; each publish takes about as long
        proc.kill()
        proc.wait()
        # Whatever moment the kill hit, the serving file opens and holds every table whole.
        assert _contents(target) == expected
        survived += 1
    leftovers = list(target.parent.glob(".*.tmp*"))
    assert publish(db, target) == expected
    # The next publish removed what the killed ones left behind.
    assert list(target.parent.glob(".*.tmp*")) == []
    assert sorted(p.name for p in target.parent.iterdir()) == ["published.duckdb"]
    print(f"crash trials (publish): {survived} killed, {survived} survived, {len(leftovers)} staging files swept")
