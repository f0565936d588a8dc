"""``clv train``, ``clv evaluate`` and ``clv models``: train, compare and manage registered models."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from duckdb_clv import console, pipeline
from duckdb_clv.commands import Command
from duckdb_clv.commands import options as opt
from duckdb_clv.settings import Settings
from duckdb_clv.udfs import registry


def print_training(result: object, models_dir: str) -> None:
    """The registered versions with their validation scores and champions, and what was dropped."""
    for note in result.notes:
        console.out.print(f"[yellow]{note}[/]")
    rows = []
    for card in result.cards:
        metrics = card["metrics"].get("validation", {})
        primary = card.get("primary_metric")
        champion = result.champions.get(card["task"]) == (card["name"], card["version"])
        score = metrics.get(primary) if primary else None
        rows.append(
            [
                card["name"],
                card["version"],
                card["task"],
                f"{score:.4f}" if score is not None else "-",
                "champion" if champion else "",
            ]
        )
    console.table(f"Registered in {models_dir}", ["model", "version", "task", "validation primary", ""], rows)
    print_failures([f.as_dict() for f in result.failures])
    if result.split:
        console.out.print(
            f"Trained on {len(result.split.train)} cutoffs up to {result.split.train[-1]}, validated on "
            f"{result.split.validation}, tested on {result.split.test}, each on its own customers. See the test "
            "figures with `clv evaluate`."
        )


def print_failures(failed: list[dict] | None, when: str = "") -> None:
    """The candidates a training run dropped, one line each, or nothing when none were."""
    if not failed:
        return
    console.table(
        f"Dropped in the training run{when} (the others were registered)",
        ["model", "task", "stage", "why"],
        [[f["name"], f["task"], f["stage"], f["reason"]] for f in failed],
    )


def _train(args: argparse.Namespace, settings: Settings) -> int:
    with console.stage_progress() as progress:
        result = pipeline.train(settings, opt.families_of(args), progress=progress)
    print_training(result, settings.models_dir)
    return 0


def _train_arguments(p: argparse.ArgumentParser) -> None:
    opt.db(p)
    opt.models_dir(p)
    opt.training(p)
    opt.families(p)


TRAIN = Command(
    "train",
    help="train value and churn models, export them to ONNX and register them",
    description="Read ml_training_set, split by time (earlier cutoffs train, the second latest validates, the "
    "latest tests), fit the BG/NBD baseline, tree ensembles (with a budgeted search), MLPs, ZILN, a fused model "
    "and k-means segments; export each to ONNX with a parity check, register it with a model card, and make the "
    "best on validation the champion of its task.",
    arguments=_train_arguments,
    handler=_train,
)


def print_evaluation(report: dict, where: str | None = None) -> None:
    """The evaluation table as the CLI and the demo print it (``where`` says what was scored)."""
    from duckdb_clv.training.evaluation.holdout import CHURN_COLUMNS, VALUE_COLUMNS

    where = where or f"on test cutoff {report['test_cutoff']} ({report['rows']:,} held-out customers)"
    for task, columns in (("value", VALUE_COLUMNS), ("churn", CHURN_COLUMNS)):
        rows = [
            [("* " if r["champion"] else "") + r["model"], r["version"], *[f"{r['metrics'][c]:.4f}" for c in columns]]
            for r in report[task]
        ]
        console.table(f"{task} {where}", ["model", "version", *columns], rows)
    intervals = [(r["model"], r["metrics"]["intervals"]) for r in report["value"] if r["metrics"].get("intervals")]
    if intervals:
        levels = list(intervals[0][1])
        console.table(
            f"value intervals {where}: share of customers inside, mean width",
            ["model", *[f"{level} cover" for level in levels], *[f"{level} width" for level in levels]],
            [
                [
                    name,
                    *[f"{iv[lv]['coverage']:.3f}" for lv in levels],
                    *[f"{iv[lv]['mean_width']:,.1f}" for lv in levels],
                ]
                for name, iv in intervals
            ],
        )
    for check in report["targets"]:
        mark = "[green]met[/]" if check["met"] else "[red]not met[/]"
        console.out.print(f"{mark}  {check['target']}: {check['champion']:.4f} vs {check['reference']:.4f}")
    console.out.print(
        "* = champion. Champions are chosen on the validation cutoff; these test figures never choose, "
        "and no model was fitted on these customers."
    )


def print_policies(policies: dict | None) -> None:
    """The policy table of ``clv evaluate``: true values (for a sample shop) beside the estimates from the log."""
    if not policies:
        return
    truth = policies["truth"] is not None
    columns = ["policy", "budget", "treated", *(["true", "of oracle"] if truth else []), "IPS", "DR", "DR ±"]
    rows = []
    for r in policies["table"]:
        oracle = f"{r['share_of_oracle']:.2f}" if r["share_of_oracle"] is not None else "-"
        shown = [f"{r['true_value']:.2f}", oracle] if truth else []
        rows.append(
            [
                r["policy"],
                r["budget"],
                f"{r['treated_share']:.3f}",
                *shown,
                f"{r['ips']:.2f}",
                f"{r['doubly_robust']:.2f}",
                f"{r['dr_std_error']:.2f}",
            ]
        )
    console.table(
        f"next best action: incremental net value per customer over {policies['action_horizon_days']} days, "
        f"{policies['decisions']:,} logged decisions in {policies['months']} months",
        columns,
        rows,
    )
    console.out.print(
        f"Policies judged {policies['judged']} (action champion {policies['champion']}). IPS and DR are the "
        "estimates from the campaign log alone"
        + ("; true values from the sample shop's oracle." if truth else "; --ground-truth SHOP adds a shop's truth.")
    )


def _evaluate(args: argparse.Namespace, settings: Settings) -> int:
    with console.stage_progress() as progress:
        oracle = pipeline.sample_shop_oracle(settings, args.ground_truth) if args.ground_truth else None
        report = pipeline.evaluate(settings, oracle, progress, shop=args.ground_truth)
    print_evaluation(report)
    print_policies(report.get("policies"))
    console.out.print(f"Full report: {settings.evaluation}")
    return 0


def _evaluate_arguments(p: argparse.ArgumentParser) -> None:
    opt.db(p)
    opt.models_dir(p)
    opt.ground_truth(p)
    p.add_argument("--out", dest="evaluation", help=f"JSON report (default: {opt.DEFAULTS.evaluation})")


EVALUATE = Command(
    "evaluate",
    help="score the registered models on the test cutoff and compare them",
    description="Score the latest version of every value and churn model with onnxruntime on the test cutoff "
    "and print MAE, RMSE, Spearman, normalized Gini, decile MAPE and total ratio (value), and ROC-AUC, PR-AUC, "
    "Brier, log loss, precision/recall/F1 (churn), beside the BG/NBD baseline and, for a generated shop, "
    "the oracle.",
    arguments=_evaluate_arguments,
    handler=_evaluate,
)


def _models(args: argparse.Namespace, settings: Settings) -> int:
    root = Path(settings.models_dir)
    if args.models_command == "list":
        _list(root)
    elif args.models_command == "show":
        console.out.print_json(json.dumps(registry.read_card(root, args.name, args.version)))
    elif args.models_command == "promote":
        pointer = registry.promote(root, args.task, args.name, args.version, reason="promoted by hand")
        console.out.print(f"{args.task} champion is now {pointer['name']} {pointer['version']}")
    else:
        pointer = registry.rollback(root, args.task)
        console.out.print(f"{args.task} champion rolled back to {pointer['name']} {pointer['version']}")
    return 0


def _list(root: Path) -> None:
    champions = {t: registry.champion(root, t) for t in registry.TASKS}
    rows = []
    for name in registry.model_names(root):
        for version in registry.versions(root, name):
            card = registry.read_card(root, name, version)
            pointer = champions.get(card["task"])
            mark = "champion" if pointer and (pointer["name"], pointer["version"]) == (name, version) else ""
            primary = card.get("primary_metric")
            score = card["metrics"].get("validation", {}).get(primary) if primary else None
            rows.append(
                [name, version, card["task"], card["created_at"], f"{score:.4f}" if score is not None else "-", mark]
            )
    if not rows:
        console.out.print(f"No models in {root}: run `clv train`.")
        return
    console.table(f"Models in {root}", ["model", "version", "task", "created", "validation primary", ""], rows)
    run = registry.last_run(root)
    if run:
        print_failures(run.get("failed"), f" of {run['created_at']}")


def _models_arguments(p: argparse.ArgumentParser) -> None:
    opt.models_dir(p)
    actions = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    actions.add_parser("list", help="every model version, its task, validation score and champion mark")
    show = actions.add_parser("show", help="print a model card")
    show.add_argument("name")
    show.add_argument("version", nargs="?", help="e.g. v3 (default: the latest)")
    promote = actions.add_parser("promote", help="make a model version the champion of its task")
    promote.add_argument("task", choices=registry.TASKS)
    promote.add_argument("name")
    promote.add_argument("version", nargs="?", help="e.g. v3 (default: the latest)")
    rollback = actions.add_parser("rollback", help="point a task's champion back at the previous one")
    rollback.add_argument("task", choices=registry.TASKS)


MODELS = Command(
    "models",
    help="list, show, promote or roll back registered models",
    arguments=_models_arguments,
    handler=_models,
)

COMMANDS = (TRAIN, EVALUATE, MODELS)
