"""``clv train``, ``clv evaluate`` and ``clv models``: thin wrappers that print what happened."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from clv import console
from clv.errors import ClvError


def cmd_train(args: argparse.Namespace) -> int:
    """Train every model, register them and choose the champions."""
    from training.pipeline import FAMILIES, TrainSettings, train_models

    families = tuple(f.strip() for f in args.only.split(",")) if args.only else FAMILIES
    try:
        settings = TrainSettings(seed=args.seed, trials=args.trials, families=families)
    except ValueError as err:
        raise ClvError(str(err)) from err
    with console.progress_bar("Training") as update:
        result = train_models(
            args.db,
            args.models_dir,
            settings,
            log=_print_log_line,
            progress=lambda stage, done, total: update(done, total),
        )
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
    console.table(f"Registered in {args.models_dir}", ["model", "version", "task", "validation primary", ""], rows)
    print_failures([f.as_dict() for f in result.failures])
    if result.split:
        console.out.print(
            f"Trained on {len(result.split.train)} cutoffs up to {result.split.train[-1]}, validated on "
            f"{result.split.validation}, tested on {result.split.test}, each on its own customers. See the test "
            "figures with `clv evaluate`."
        )
    return 0


def _print_log_line(line: str) -> None:
    # Warnings (a dropped candidate, a skipped trial) stand out from the step-by-step log.
    style = "yellow" if line.startswith("warning:") else "dim"
    console.out.print(f"[{style}]{escape(line)}[/]", highlight=False)


def print_failures(failed: list[dict] | None, when: str = "") -> None:
    """The candidates a training run dropped, one line each, or nothing when none were."""
    if not failed:
        return
    console.table(
        f"Dropped in the training run{when} (the others were registered)",
        ["model", "task", "stage", "why"],
        [[f["name"], f["task"], f["stage"], f["reason"]] for f in failed],
    )


def print_evaluation(report: dict) -> None:
    """The evaluation table as the CLI and the demo print it."""
    from training.report import CHURN_COLUMNS, VALUE_COLUMNS

    for task, columns in (("value", VALUE_COLUMNS), ("churn", CHURN_COLUMNS)):
        rows = [
            [("* " if r["champion"] else "") + r["model"], r["version"], *[f"{r['metrics'][c]:.4f}" for c in columns]]
            for r in report[task]
        ]
        console.table(
            f"{task} on test cutoff {report['test_cutoff']} ({report['rows']:,} held-out customers)",
            ["model", "version", *columns],
            rows,
        )
    for check in report["targets"]:
        mark = "[green]met[/]" if check["met"] else "[red]not met[/]"
        console.out.print(f"{mark}  {check['target']}: {check['champion']:.4f} vs {check['reference']:.4f}")
    console.out.print(
        "* = champion. Champions are chosen on the validation cutoff; these test figures never choose, "
        "and no model was fitted on these customers."
    )


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Score the registered models on the test cutoff and print the table."""
    from training.report import evaluate_registry

    with console.out.status("Evaluating the registered models on the test cutoff…"):
        report = evaluate_registry(args.db, args.models_dir, ground_truth=args.ground_truth, out=args.out)
    print_evaluation(report)
    console.out.print(f"Full report: {args.out}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    """List, show, promote or roll back models in the registry."""
    from udfs import registry

    root = Path(args.models_dir)
    if args.models_command == "list":
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
                    [
                        name,
                        version,
                        card["task"],
                        card["created_at"],
                        f"{score:.4f}" if score is not None else "-",
                        mark,
                    ]
                )
        if not rows:
            console.out.print(f"No models in {root}: run `clv train`.")
            return 0
        console.table(f"Models in {root}", ["model", "version", "task", "created", "validation primary", ""], rows)
        run = registry.last_run(root)
        if run:
            print_failures(run.get("failed"), f" of {run['created_at']}")
    elif args.models_command == "show":
        import json

        card = registry.read_card(root, args.name, args.version)
        console.out.print_json(json.dumps(card))
    elif args.models_command == "promote":
        pointer = registry.promote(root, args.task, args.name, args.version, reason="promoted by hand")
        console.out.print(f"{args.task} champion is now {pointer['name']} {pointer['version']}")
    else:
        pointer = registry.rollback(root, args.task)
        console.out.print(f"{args.task} champion rolled back to {pointer['name']} {pointer['version']}")
    return 0
