"""`clv report`: one self-contained HTML file a reader can open anywhere, with every chart drawn."""

from __future__ import annotations

import base64
import html
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from duckdb_clv.cli import main
from duckdb_clv.pipeline import sample_shop_oracle
from duckdb_clv.report.html import SECTIONS, write_report
from duckdb_clv.settings import make_settings
from tests.conftest import copy_db

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
IMAGE = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
# gain, deciles, ROC, calibration, two importances, distribution, tiers, segments, segments on
# the principal components, explained variance and silhouette, RFM heatmap, predicted against
# realised per scoring run, seasonal shifts, two contribution beeswarms and interval coverage
CHARTS = 17


@pytest.fixture(scope="module")
def report(scored, trained, tmp_path_factory):
    db, models, _ = scored
    out = tmp_path_factory.mktemp("report") / "report.html"
    oracle = sample_shop_oracle(make_settings(models_dir=str(models)), trained.built.shop.out_dir)
    result = write_report(db, models, out, oracle=oracle)
    return result, out.read_text(encoding="utf-8")


def test_the_report_holds_every_section_and_chart_inline(report):
    result, page = report
    for section in SECTIONS:
        assert f'<section id="{section}">' in page
    images = IMAGE.findall(page)
    assert len(images) == result.images == CHARTS
    for data in images:
        png = base64.b64decode(data)
        assert png.startswith(PNG_MAGIC) and len(png) > 5_000
    # Self-contained: nothing to fetch, nothing to run.
    assert not re.search(r'(src|href)="https?://', page)
    assert "<script" not in page
    assert not list(result.path.parent.glob(".*.tmp"))


def test_the_report_compares_the_models_with_the_baseline_and_the_oracle(report, scored):
    _, page = report
    accuracy = page[page.index('<section id="accuracy">') : page.index('<section id="gain">')]
    for name in ("value_btyd", "churn_btyd", "oracle"):
        assert f"<td>{name}</td>" in accuracy
    assert accuracy.count('class="champion"') == 2
    assert "normalized Gini within 0.05 of the oracle" in accuracy
    cards = page[page.index('<section id="cards">') :]
    from duckdb_clv.udfs import registry

    for task in ("value", "churn", "segment"):
        assert f"<td>{registry.champion(scored[1], task)['name']}</td>" in cards


def test_the_report_explains_the_champions_and_measures_their_intervals(report, scored):
    _, page = report
    section = page[page.index('<section id="explanations">') : page.index('<section id="backtest">')]
    from duckdb_clv.udfs import registry

    value, churn = (registry.champion(scored[1], task)["name"] for task in ("value", "churn"))
    assert 'alt="interval coverage"' in section and "Not explained" not in section
    assert f'alt="contributions to {value}"' in section and f'alt="contributions to {churn}"' in section
    assert section.count("<img") == 3
    # The coverage table names each value model with its measured coverage at 0.5, 0.8 and 0.9.
    assert f"<td>{value} (champion)</td>" in section and "<td>value_btyd</td>" in section


def test_the_report_shows_the_named_segments_on_their_principal_components(report, scored):
    _, page = report
    from duckdb_clv.udfs import registry

    section = page[page.index('<section id="segments">') : page.index('<section id="rfm">')]
    pointer = registry.champion(scored[1], "segment")
    card = registry.read_card(scored[1], pointer["name"], pointer["version"])
    assert 'alt="segments on the principal components"' in section
    assert 'alt="explained variance and silhouette"' in section
    # The profile table names every segment as the card does.
    for profile in card["model"]["profiles"]:
        assert f"<td>{html.escape(profile['name'])}</td>" in section


def test_before_scoring_the_customer_sections_say_what_to_run(trained, tmp_path):
    db = copy_db(trained.built.db, tmp_path / "clv.duckdb")
    result = write_report(db, trained.models, tmp_path / "r.html", backtest=tmp_path / "none.json")
    page = result.path.read_text(encoding="utf-8")
    assert page.count("run <code>clv score</code>") == 3
    assert "No backtest found" in page and "Run <code>clv backtest</code>" in page
    assert result.images == CHARTS - 8
    assert "No scoring runs monitored yet" in page


def test_the_monitoring_page_shows_each_run_and_its_drift(report, scored):
    _, page = report
    monitoring = page[page.index('<section id="monitoring">') : page.index('<section id="cards">')]
    # One scoring run, its horizon not yet observed, and its drift (none: scored on its own reference).
    assert "<td>2026-01-01</td>" in monitoring and "<td>0%</td>" in monitoring
    assert monitoring.count("<img") == 2 and "No warnings or alerts in any monitored run" in monitoring


def test_clv_report_from_the_command_line(scored, tmp_path, capsys):
    db, models, _ = scored
    out = tmp_path / "nested" / "report.html"
    assert main(["report", "--db", str(db), "--models-dir", str(models), "--report", str(out)]) == 0
    assert out.exists() and f"{CHARTS} charts" in capsys.readouterr().out


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_the_report_renders_with_its_charts_in_a_headless_browser(report, tmp_path):
    """Render the page in headless Chromium and look at the pixels: the charts must be drawn."""
    browser = _chromium()
    if browser is None:
        if os.environ.get("CLV_REQUIRE_CHROMIUM"):
            pytest.fail("CLV_REQUIRE_CHROMIUM is set but no chromium is installed (apt-get install chromium)")
        pytest.skip("no chromium on this machine; `make report-check` installs and requires it")
    import matplotlib.image

    result, _ = report
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1200,2400",
            f"--screenshot={shot}",
            result.path.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[0] >= 2000
    # The first screen holds the tables and the gain chart: coloured chart lines, not just text.
    saturation = pixels.max(axis=2) - pixels.min(axis=2)
    assert (saturation > 0.3).mean() > 0.002
    assert (pixels.min(axis=2) < 0.9).mean() > 0.02
    assert np.isfinite(pixels).all()


def test_clv_run_takes_a_users_files_from_load_to_report(built, tmp_path, capsys, monkeypatch):
    """`clv run` on plain files with a clv.toml: every stage, every output where the settings say."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clv.toml").write_text(
        '[paths]\ndb = "work/shop.duckdb"\nmodels_dir = "work/models"\npublished = "out/serving.duckdb"\n'
        'report = "out/report.html"\n[features]\nn_training_cutoffs = 4\n[scoring]\ndiscount_rate = 0.2\n'
        "vip_percentile = 0.9\n[training]\ntrials = 1\n"
    )
    files = built.shop.files
    args = [
        "run",
        "--orders",
        str(files["orders"]),
        "--customers",
        str(files["customers"]),
        "--events",
        str(files["events"]),
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "out/report.html" in out and "Try next" in out
    import duckdb

    with duckdb.connect("out/serving.duckdb", read_only=True) as con:
        n, vip, ratio = con.execute(
            "SELECT count(*), avg((value_tier = 'VIP')::INT), max(abs(discounted_clv * pow(1.2, 0.5) - predicted_clv))"
            " FROM customer_scores"
        ).fetchall()[0]
    with duckdb.connect("work/shop.duckdb", read_only=True) as con:
        customers = con.execute("SELECT count(*) FROM ml_scoring_set").fetchall()[0][0]
    assert n == customers
    assert vip == pytest.approx(0.1, abs=0.02)
    assert ratio < 1e-6
    assert (tmp_path / "out/report.html").stat().st_size > 100_000
    assert list((tmp_path / "work/models/champions").glob("*.json"))
