"""``clv web``: a static page that scores customers in the browser, with DuckDB-WASM and the compiled macros.

The page (``web/index.html`` and ``web/clv-page.mjs``, package data) needs no server code: any
static file server can host the folder this writes. It holds the page, ``clv.duckdb`` (the
published database's compiled macros and the scoring date's feature rows, in a storage format the
page's DuckDB reads) and, when a folder of npm packages is given, the DuckDB-WASM and Apache Arrow
files the page imports; without one, the page takes them from the jsDelivr CDN at the pinned
versions. The folder is written beside its final place and swapped in, so a failure leaves the
previous page as it was.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb

from duckdb_clv.errors import ClvError
from duckdb_clv.udfs.contract import FEATURES

# @duckdb/duckdb-wasm on npm (DuckDB 1.5.6 inside) and the Apache Arrow it imports.
WASM_PACKAGE, WASM_VERSION = "@duckdb/duckdb-wasm", "1.33.1-dev65.0"
ARROW_VERSION = "17.0.0"
# Our DuckDB (2.0) writes a newer storage format than the WASM build reads; on request it writes
# the format of DuckDB 1.4, which DuckDB-WASM 1.30 and later open.
STORAGE_VERSION = "v1.4.0"
# The published tables the page reads; the others stay in the published database.
PAGE_TABLES = ("clv_sql_models", "clv_publication", "customer_scores")
# Files of each npm package the page imports (paths inside the package; directories copied whole).
VENDOR_FILES = {
    "@duckdb/duckdb-wasm": (
        "dist/duckdb-browser.mjs",
        "dist/duckdb-browser-eh.worker.js",
        "dist/duckdb-eh.wasm",
        "dist/duckdb-browser-mvp.worker.js",
        "dist/duckdb-mvp.wasm",
    ),
    "flatbuffers": ("mjs",),
    "tslib": ("tslib.es6.mjs",),
}
CDN = "https://cdn.jsdelivr.net/npm"


@dataclass(frozen=True)
class WebPage:
    """What ``write_page`` wrote: the folder, its customers, and where the page's libraries come from."""

    folder: Path
    customers: int
    rows_table: str
    libraries: str  # "local" (copied into vendor/) or the CDN's address


def _import_map(local: bool) -> dict:
    if local:
        imports = {
            WASM_PACKAGE: "./vendor/duckdb-wasm/dist/duckdb-browser.mjs",
            "apache-arrow": "./vendor/apache-arrow/Arrow.dom.mjs",
            "flatbuffers": "./vendor/flatbuffers/mjs/flatbuffers.js",
            "tslib": "./vendor/tslib/tslib.es6.mjs",
        }
        return {"imports": imports, "dist": "./vendor/duckdb-wasm/dist/"}
    # jsDelivr's +esm bundles resolve the packages' own imports (Apache Arrow) themselves.
    return {
        "imports": {WASM_PACKAGE: f"{CDN}/{WASM_PACKAGE}@{WASM_VERSION}/+esm"},
        "dist": f"{CDN}/{WASM_PACKAGE}@{WASM_VERSION}/dist/",
    }


def _copy_vendor(node_modules: Path, target: Path) -> None:
    """The page's libraries from an npm ``node_modules`` folder (``make web-deps`` installs one)."""
    package = node_modules / WASM_PACKAGE
    if not (package / "package.json").exists():
        raise ClvError(
            f"no {WASM_PACKAGE} in {node_modules}: run `make web-deps` (npm install {WASM_PACKAGE}@{WASM_VERSION}) "
            "or leave out --vendor to load it from the CDN"
        )
    for name, paths in VENDOR_FILES.items():
        for path in paths:
            source = node_modules / name / path
            if not source.exists():
                raise ClvError(f"{source} is missing: reinstall the page's libraries with `make web-deps`")
            destination = target / "vendor" / name.split("/")[-1] / path
            destination.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, destination)
            else:
                shutil.copy2(source, destination)
    # Apache Arrow's ES modules import one another by relative path: all of them, as laid out.
    arrow = node_modules / "apache-arrow"
    for source in arrow.rglob("*.mjs"):
        destination = target / "vendor" / "apache-arrow" / source.relative_to(arrow)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)


def _browser_database(published: Path, target: Path) -> tuple[int, str]:
    """The page's database: compiled macros, the scoring date's rows; (customers, the rows' table)."""
    with duckdb.connect() as con:
        con.execute("SET enable_progress_bar = false")
        con.execute(f"ATTACH '{published}' AS src (READ_ONLY)")
        present = {
            name
            for (name,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'src'"
            ).fetchall()
        }
        if "clv_sql_models" not in present:
            raise ClvError(f"{published} has no compiled models: publish it with `clv publish --with-sql-models` first")
        # A champion that reads the weekly history scores rows with it (published beside it).
        rows_table = "ml_scoring_set" if "ml_scoring_set" in present else "fct_customer_features"
        con.execute(f"ATTACH '{target}' AS web (STORAGE_VERSION '{STORAGE_VERSION}')")
        # Macros and table definitions, then the rows of the tables the page reads.
        con.execute("COPY FROM DATABASE src TO web (SCHEMA)")
        for table in sorted(present - {*PAGE_TABLES, rows_table}):
            con.execute(f"DROP TABLE web.main.{table}")
        for table in PAGE_TABLES:
            con.execute(f"INSERT INTO web.main.{table} SELECT * FROM src.main.{table}")
        scoring = " WHERE cutoff_role = 'scoring'" if rows_table == "fct_customer_features" else ""
        con.execute(f"INSERT INTO web.main.{rows_table} SELECT * FROM src.main.{rows_table}{scoring}")
        listed = ", ".join(f"({i}, '{name}')" for i, name in enumerate(FEATURES, start=1))
        con.execute(
            f"CREATE TABLE web.main.clv_features (position INTEGER, feature VARCHAR); INSERT INTO "
            f"web.main.clv_features VALUES {listed}"
        )
        (customers,) = con.execute(f"SELECT count(*) FROM web.main.{rows_table}").fetchone()
        con.execute("DETACH web")
    return int(customers), rows_table


def write_page(published: str | Path, target: str | Path, vendor: str | Path | None = None) -> WebPage:
    """Write the scoring page for ``published`` into the folder ``target`` (replaced whole).

    Parameters
    ----------
    published : path
        A database written by ``clv publish --with-sql-models``.
    target : path
        The folder to write: ``index.html``, ``clv-page.mjs``, ``clv.duckdb`` (and ``vendor/``).
    vendor : path, optional
        An npm ``node_modules`` folder with ``@duckdb/duckdb-wasm`` (``make web-deps``): its files
        are copied so the page works offline; without it the page loads them from jsDelivr.

    Raises
    ------
    ClvError
        When the published database is missing or has no compiled models, or the libraries are
        incomplete; ``target`` is then as it was.
    """
    published, target = Path(published).resolve(), Path(target).resolve()
    if not published.exists():
        raise ClvError(f"no published database at {published}: run `clv publish --with-sql-models` first")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    staging.mkdir()
    try:
        customers, rows_table = _browser_database(published, staging / "clv.duckdb")
        local = vendor is not None
        if local:
            _copy_vendor(Path(vendor), staging)
        page = resources.files("duckdb_clv") / "web"
        imports = _import_map(local)
        html = (page / "index.html").read_text(encoding="utf-8")
        html = html.replace("{{IMPORT_MAP}}", json.dumps({"imports": imports["imports"]}, indent=2))
        html = html.replace("{{WASM_DIST}}", imports["dist"])
        (staging / "index.html").write_text(html, encoding="utf-8")
        (staging / "clv-page.mjs").write_text((page / "clv-page.mjs").read_text(encoding="utf-8"), encoding="utf-8")
        old = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    except duckdb.Error as err:
        raise ClvError(f"writing the web page failed, {target} is unchanged: {str(err).splitlines()[0]}") from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    libraries = "local" if vendor is not None else CDN
    return WebPage(target, customers, rows_table, libraries)
