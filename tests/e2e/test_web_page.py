"""The scoring page: the published database's compiled macros in DuckDB-WASM, in headless Chromium.

The page is served by a plain static file server and driven over the DevTools protocol; its
scores, as published and with edited features, are compared with the same SQL run by DuckDB in
this process on the published file.
"""

from __future__ import annotations

import functools
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

from duckdb_clv import pipeline
from duckdb_clv.errors import ClvError
from duckdb_clv.settings import make_settings
from duckdb_clv.web_page import write_page

VENDOR = Path(__file__).resolve().parents[2] / ".web" / "node_modules"
SCORES = ("value", "churn", "segment")


@pytest.fixture(scope="module")
def published(scored, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db, models, _ = scored
    target = tmp_path_factory.mktemp("web_published") / "published.duckdb"
    pipeline.publish(make_settings(db=str(db), models_dir=str(models), published=str(target)), sql_models=True)
    return target


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site(published: Path, tmp_path_factory: pytest.TempPathFactory):
    """The page written with its libraries, served on a free local port: (folder, base URL)."""
    from tests.e2e.browser import chromium

    chromium()  # skips (or fails when required) before the page is written
    if not (VENDOR / "@duckdb" / "duckdb-wasm").exists():
        if os.environ.get("CLV_REQUIRE_CHROMIUM"):
            pytest.fail(f"no DuckDB-WASM in {VENDOR}: run `make web-deps`")
        pytest.skip(f"no DuckDB-WASM in {VENDOR}; `make web-check` installs it")
    folder = tmp_path_factory.mktemp("web") / "site"
    page = write_page(published, folder, VENDOR)
    assert page.libraries == "local" and page.rows_table == "fct_customer_features" and page.customers > 100
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
    server.server_close()


def _expected(published: Path, customer: str, edits: dict[str, float | None]) -> tuple:
    """The compiled macros' scores of the customer's edited row, by DuckDB in this process."""
    replaced = ", ".join(f"{'NULL' if v is None else repr(float(v))}::DOUBLE AS {k}" for k, v in edits.items())
    replace = f" REPLACE ({replaced})" if edits else ""
    with duckdb.connect(str(published), read_only=True) as con:
        return con.execute(
            "SELECT predict_clv(f), churn_score(f), segment_name(customer_segment(f)) FROM "
            f"(SELECT *{replace} FROM fct_customer_features WHERE cutoff_role = 'scoring' AND customer_id = ?) f",
            [customer],
        ).fetchone()


def _shown(browser, prefix: str) -> tuple:
    values = browser.evaluate(
        f"{list(SCORES)!r}.map(s => document.getElementById('{prefix}-' + s).dataset.value)".replace("'", '"')
    )
    return float(values[0]), float(values[1]), values[2]


def _same(got: tuple, want: tuple) -> None:
    assert got[0] == pytest.approx(want[0], rel=1e-6, abs=1e-6)
    assert got[1] == pytest.approx(want[1], rel=1e-6, abs=1e-6)
    assert got[2] == want[2]


def test_the_page_scores_a_customer_and_follows_edits_in_the_browser(site, published: Path, tmp_path: Path) -> None:
    from tests.e2e.browser import Browser

    _, url = site
    with duckdb.connect(str(published), read_only=True) as con:
        (customer,) = con.execute(
            "SELECT customer_id FROM customer_scores ORDER BY predicted_clv DESC, customer_id LIMIT 1 OFFSET 20"
        ).fetchone()
    with Browser() as browser:
        # Edits from the address: more orders, but none for 200 days.
        browser.open(f"{url}?customer={customer}&set=frequency:40,days_since_last_order:200")
        state = browser.wait_for(
            "['scored', 'error'].includes(document.body.dataset.state) && document.body.dataset.state"
        )
        assert state == "scored", browser.evaluate("document.getElementById('status').textContent")
        # The page ran DuckDB-WASM, whose DuckDB is not this process's: the file was opened there.
        assert browser.evaluate("document.getElementById('models').textContent").startswith("Champions compiled")
        _same(_shown(browser, "published"), _expected(published, customer, {}))
        edited = {"frequency": 40, "days_since_last_order": 200}
        _same(_shown(browser, "whatif"), _expected(published, customer, edited))
        assert _shown(browser, "whatif") != _shown(browser, "published")
        # Typing into a feature's box rescores; an empty box is an unknown value.
        scorings = int(browser.evaluate("document.body.dataset.scorings"))
        browser.evaluate(
            "(() => { const i = document.querySelector('input[data-feature=\"monetary_value\"]'); i.value = '';"
            " i.dispatchEvent(new Event('input')); })()"
        )
        browser.wait_for(f"Number(document.body.dataset.scorings) > {scorings}", timeout=60)
        _same(_shown(browser, "whatif"), _expected(published, customer, edited | {"monetary_value": None}))
        browser.screenshot(tmp_path / "page.png")
        # Text that is no number is refused in one line naming the feature and the fix.
        browser.evaluate(
            "(() => { const i = document.querySelector('input[data-feature=\"recency_days\"]'); i.value = 'abc';"
            " i.dispatchEvent(new Event('input')); })()"
        )
        message = browser.wait_for(
            "document.body.dataset.state === 'error' && document.getElementById('status').textContent"
        )
        assert 'recency_days: "abc" is not a number' in message
    assert (tmp_path / "page.png").stat().st_size > 20_000


def test_the_page_database_holds_the_macros_and_the_scoring_rows_only(published, tmp_path) -> None:
    page = write_page(published, tmp_path / "site")
    assert page.libraries.startswith("https://") and not (tmp_path / "site" / "vendor").exists()
    html = (tmp_path / "site" / "index.html").read_text()
    assert "{{" not in html and "@duckdb/duckdb-wasm@" in html
    with duckdb.connect(str(tmp_path / "site" / "clv.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT count(*), count(DISTINCT cutoff_role) FROM fct_customer_features").fetchone()
        features = con.execute("SELECT count(*) FROM clv_features").fetchone()[0]
        scored = con.execute("SELECT count(*) FROM fct_customer_features f WHERE predict_clv(f) >= 0").fetchone()[0]
        tables = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    with duckdb.connect(str(published), read_only=True) as con:
        (scoring,) = con.execute("SELECT count(*) FROM fct_customer_features WHERE cutoff_role = 'scoring'").fetchone()
    assert rows == (scoring, 1) and scored == scoring and features == 90
    assert tables == {"clv_sql_models", "clv_publication", "customer_scores", "fct_customer_features", "clv_features"}


def test_a_database_without_compiled_models_is_refused_and_the_old_page_stays(scored, published, tmp_path) -> None:
    db, models, _ = scored
    plain = tmp_path / "plain.duckdb"
    pipeline.publish(make_settings(db=str(db), models_dir=str(models), published=str(plain)))
    folder = tmp_path / "site"
    write_page(published, folder)
    before = sorted((p.name, p.stat().st_size) for p in folder.iterdir())
    with pytest.raises(ClvError, match="has no compiled models: publish it with `clv publish --with-sql-models` first"):
        write_page(plain, folder)
    with pytest.raises(ClvError, match=r"no @duckdb/duckdb-wasm in .*: run `make web-deps`"):
        write_page(published, folder, tmp_path / "no_node_modules")
    assert sorted((p.name, p.stat().st_size) for p in folder.iterdir()) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site")] == []
