"""`clv train` on a database with campaign history: both policies registered, the one-step uplift crowned."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from duckdb_clv.training.dataset import connect
from duckdb_clv.training.policies import train as policies
from duckdb_clv.training.policies.decisions import read_decisions
from duckdb_clv.training.policies.evaluate import PolicySettings
from duckdb_clv.udfs import functions, registry
from duckdb_clv.udfs.contract import FEATURES, spec_hash
from duckdb_clv.udfs.errors import RegistryError


def action_cards(trained) -> dict[str, dict]:
    return {c["name"]: c for c in trained.result.cards if c["task"] == "action"}


def test_both_policies_are_registered_with_their_inputs_actions_and_costs(trained_campaigns):
    cards = action_cards(trained_campaigns)
    assert set(cards) == {"action_uplift", "action_fitted_q"}
    with connect(trained_campaigns.built.db) as con:
        columns = [r[0] for r in con.execute("DESCRIBE ml_action_scoring_set").fetchall()]
        customers = con.execute("SELECT count(*) FROM ml_action_scoring_set").fetchone()[0]
    for card in cards.values():
        names = [f["name"] for f in card["features"]]
        # The contract's features first, then the campaign history's, all of them in the scoring view.
        assert tuple(names[: len(FEATURES)]) == FEATURES
        assert {"treatments_365d", "answer_rate_email_365d", "days_since_coupon_10"} <= set(names)
        assert set(names) <= set(columns)
        assert card["spec_hash"] == spec_hash(tuple(names)) != spec_hash()
        assert card["actions"] == ["none", "coupon_10", "email", "vip"]
        assert card["costs"] == pytest.approx([0.0, 0.2, 0.05, 12.0])
        assert card["action_horizon_days"] == 90 and card["output"] == "action"
        assert card["parity"]["max_error"] <= card["parity"]["tolerance"]
        assert card["budget"]["customers"] == card["budget"]["of"] == customers
    assert cards["action_fitted_q"]["model"]["params"] == {"steps": 3, "gamma": 1.0}
    pointer = registry.champion(trained_campaigns.models, "action")
    assert (pointer["name"], pointer["version"]) == ("action_uplift", "v1")
    assert "docs/ACTIONS.md" in pointer["history"][-1]["reason"]


def test_the_budget_percentiles_are_those_of_the_registered_graph_on_the_scoring_customers(trained_campaigns):
    card = action_cards(trained_campaigns)["action_uplift"]
    names = tuple(f["name"] for f in card["features"])
    with connect(trained_campaigns.built.db) as con:
        X = policies.read_scoring_rows(con, names)
    # onnxruntime on the registered file, not the in-memory model the card was written from.
    model = functions.cache_for(trained_campaigns.models).get("action_uplift", "v1", "action")
    values = model.run(X).astype(np.float64)
    best = np.maximum((values[:, 1:] - values[:, [0]]).max(axis=1), 0.0)
    quantiles = np.asarray(card["budget"]["quantiles"])
    assert quantiles.size == 101 and (np.diff(quantiles) >= 0).all() and quantiles[0] >= 0
    np.testing.assert_allclose(quantiles, np.quantile(best, np.linspace(0, 1, 101)), rtol=1e-4, atol=1e-4)


def test_a_shop_without_campaign_history_trains_no_policy(trained):
    assert "action" not in trained.result.champions
    assert not action_cards(trained) and not [f for f in trained.result.failures if f.task == "action"]
    assert registry.champion(trained.models, "action") is None


def test_a_policy_that_fails_is_dropped_and_the_other_still_trains(built_campaigns, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("the fitted Q-iteration diverged")

    monkeypatch.setattr(policies, "fit_sequential", broken)
    failures: list = []
    with connect(built_campaigns.db) as con:
        fitted = policies.fit_policies(con, 10_000_000, PolicySettings(), lambda _line: None, failures)
    assert [name for name, *_ in fitted.exported] == ["action_uplift"]
    assert [(f.name, f.stage, f.reason) for f in failures] == [
        ("action_fitted_q", "fit", "the fitted Q-iteration diverged")
    ]


def test_a_long_log_is_sampled_by_whole_customers_the_same_way_every_time(built_campaigns):
    with connect(built_campaigns.db) as con:
        full = read_decisions(con)
        where = policies.sample_filter(con, len(full) // 3, seed=7)
        assert where == policies.sample_filter(con, len(full) // 3, seed=7)
        assert policies.sample_filter(con, len(full), seed=7) == ""
        part = read_decisions(con, where)
    assert 0.25 * len(full) < len(part) < 0.42 * len(full)
    # Every kept customer keeps all its months, so every transition inside the sample survives.
    months = {c: n for c, n in zip(*np.unique(full.customer_id, return_counts=True), strict=True)}
    kept, counts = np.unique(part.customer_id, return_counts=True)
    assert all(months[c] == n for c, n in zip(kept, counts, strict=True))
    assert (part.next_row >= 0).sum() == sum(months[c] - 1 for c in kept)


def test_a_policy_card_whose_inputs_were_edited_is_refused(trained_campaigns, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(trained_campaigns.models, models)
    path = models / "action_uplift" / "v1" / "card.json"
    card = json.loads(path.read_text())
    card["features"] = [f for f in card["features"] if f["name"] != "treatments_365d"]
    path.write_text(json.dumps(card))
    with pytest.raises(RegistryError, match="do not give its spec hash"):
        registry.verified_model(models, "action_uplift", "v1")


def test_clv_evaluate_adds_the_policy_table_with_the_truth_beside_the_log_s_estimates(
    trained_campaigns, tmp_path, capsys
):
    from duckdb_clv.cli import main

    out = tmp_path / "evaluation.json"
    args = ["evaluate", "--db", str(trained_campaigns.built.db), "--models-dir", str(trained_campaigns.models)]
    shop = str(trained_campaigns.built.shop.out_dir)
    assert main([*args, "--ground-truth", shop, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "next best action" in printed and "of oracle" in printed
    policies = json.loads(out.read_text())["policies"]
    assert policies["champion"] == "action_uplift/v1" and policies["truth"] == "oracle"
    with connect(trained_campaigns.built.db) as con:
        assert policies["decisions"] == con.execute("SELECT count(*) FROM ml_decision_set").fetchone()[0]
    table = {(r["policy"], r["budget"]): r for r in policies["table"]}
    budgets = ("10%", "20%", "50%")
    names = {"uplift", "sequential", "random", "oracle", "coupon_10 to the top decile of predicted CLV"}
    assert {(n, b) for n in names for b in budgets} <= set(table)
    assert {("everybody: coupon_10", "100%"), ("everybody: email", "100%"), ("everybody: vip", "100%")} <= set(table)
    for budget in budgets:
        ceiling = table[("oracle", budget)]
        assert ceiling["share_of_oracle"] == pytest.approx(1.0) and ceiling["true_value"] > 0
        for name in ("uplift", "sequential", "coupon_10 to the highest churn risk"):
            row = table[(name, budget)]
            # Nobody can beat the policy that knows every customer's true response, at the same budget.
            assert row["true_value"] <= ceiling["true_value"] + 1e-9
            # Each month treats its share of that month's customers, rounded to a whole customer.
            assert row["treated_share"] <= float(budget[:-1]) / 100 + 1e-3
            assert np.isfinite([row["ips"], row["doubly_robust"], row["dr_std_error"]]).all()
    # The top-decile rule treats a tenth of the customers at most, whatever the budget.
    assert table[("coupon_10 to the top decile of predicted CLV", "50%")]["treated_share"] <= 0.1 + 1e-3

    # Without a sample shop a user sees the estimates from the log alone.
    assert main([*args, "--out", str(out)]) == 0
    alone = json.loads(out.read_text())["policies"]
    assert alone["truth"] is None and all(r["true_value"] is None for r in alone["table"])
    same = {(r["policy"], r["budget"]): r["doubly_robust"] for r in alone["table"]}
    assert same[("uplift", "20%")] == pytest.approx(table[("uplift", "20%")]["doubly_robust"])


def test_the_report_s_model_cards_list_the_action_champion(trained_campaigns):
    from duckdb_clv.report.html import _cards

    html = _cards(trained_campaigns.models)
    assert "action_uplift" in html and "segment_kmeans" in html


def test_a_policy_whose_card_names_an_input_that_is_not_a_column_never_reaches_sql(trained_campaigns, tmp_path):
    import hashlib

    import onnx

    from duckdb_clv import udfs
    from duckdb_clv.training.export.registry import with_metadata

    models = tmp_path / "models"
    shutil.copytree(trained_campaigns.models, models)
    folder = models / "action_uplift" / "v1"
    card = json.loads((folder / "card.json").read_text())
    # A card rewritten as a whole, its spec hash, the file's metadata and sha256 all agreeing, with
    # an input name that would break out of recommend_action's macro.
    card["features"][-1]["name"] = "x') || error('injected"
    card["spec_hash"] = spec_hash(tuple(f["name"] for f in card["features"]))
    model = onnx.load(folder / "model.onnx")
    meta = {p.key: p.value for p in model.metadata_props} | {"spec_hash": card["spec_hash"]}
    data = with_metadata(model, meta).SerializeToString()
    (folder / "model.onnx").write_bytes(data)
    card["sha256"] = hashlib.sha256(data).hexdigest()
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(RegistryError, match="not plain column names"):
        registry.verified_model(models, "action_uplift", "v1")
    with pytest.raises(RegistryError, match="not plain column names"):
        udfs.connect(trained_campaigns.built.db, models).close()
