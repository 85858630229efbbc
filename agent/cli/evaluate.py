"""``bianque eval`` and ``bianque demo``: run labelled bundles and score them against ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent.cli.common import JsonOption, console, err_console, fail, print_json
from agent.config import PROJECT_ROOT, get_settings

RATE_COLUMNS = (
    ("pass_rate", "pass"),
    ("rca_top1", "RCA top-1"),
    ("rca_top3", "RCA top-3"),
    ("rca_fault_accuracy", "fault kind"),
    ("noise_silenced", "noise silenced"),
    ("block_precision", "block prec."),
    ("block_recall", "block recall"),
    ("good_blocked", "good blocked"),
    ("inspection_recall", "insp. recall"),
)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def summary_table(report, title: str) -> Table:
    """Per-pattern and per-Skill rates as a rich table."""
    table = Table(title=title)
    table.add_column("group")
    table.add_column("cases", justify="right")
    for _, header in RATE_COLUMNS:
        table.add_column(header, justify="right")
    rows = [("all", report.overall)] + [(f"pattern {k}", v) for k, v in sorted(report.by_pattern.items())]
    rows += [(f"skill {k}", v) for k, v in sorted(report.by_skill.items())]
    for name, summary in rows:
        rates = summary.rates()
        table.add_row(name, str(summary.cases), *(_pct(rates[key]) for key, _ in RATE_COLUMNS))
    return table


def _run_eval(bundles: list[Path], label: str, show_cases: bool, quiet: bool = False):
    from agent.eval.runner import evaluate
    from agent.runtime import open_knowledge

    settings = get_settings()
    out = err_console if quiet else console
    with out.status("opening the knowledge store (embedding the handbook on first use)…"):
        knowledge = open_knowledge(settings)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=out, transient=quiet) as progress:
        task = progress.add_task(label, total=len(bundles))

        def on_case(path: Path, score) -> None:
            if show_cases and score is not None:
                mark = "[green]✔[/]" if score.passed else "[red]✘[/]"
                progress.console.print(f"{mark} {path.name:<40} {score.pattern:<21} {score.skill:<28} {score.detail}")
            progress.advance(task)

        return evaluate(bundles, settings, knowledge=knowledge, on_case=on_case)


def eval_command(
    cases: Annotated[Path, typer.Option("--cases", help="Directory of labelled case bundles.", exists=True,
                                        file_okay=False)],
    as_json: JsonOption = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="One line per case.")] = False,
) -> None:
    """Run every labelled bundle in a directory and report pass rate and accuracy per pattern and Skill."""
    from agent.eval.runner import find_bundles

    bundles = find_bundles(cases)
    if not bundles:
        fail(f"{cases}: no case bundles (directories with event.yaml) found")
    report = _run_eval(bundles, f"evaluating {len(bundles)} bundles", verbose and not as_json, quiet=as_json)
    if as_json:
        print_json(report.to_dict())
        return
    console.print(summary_table(report, f"Offline evaluation: {cases}"))
    for name, error in report.errors.items():
        console.print(f"[yellow]skipped {name}: {error}[/]")


DEFAULT_SCENARIOS = PROJECT_ROOT / "examples" / "scenarios"


def demo(
    scenarios: Annotated[Path, typer.Option(help="Bundled scenarios to run.")] = DEFAULT_SCENARIOS,
) -> None:
    """The main job on the embedded default: all three patterns over the bundled scenarios."""
    from agent.eval.runner import find_bundles

    bundles = find_bundles(scenarios)
    if not bundles:
        fail(f"{scenarios}: no scenarios found")
    console.rule("[bold]Bian Que demo[/] — offline reasoner, embedded Chroma, SQLite, no network")
    report = _run_eval(bundles, "investigating scenarios", show_cases=True)
    console.print(summary_table(report, "Decisions against the ground truth"))
    for name, error in report.errors.items():
        console.print(f"[yellow]skipped {name}: {error}[/]")
    console.print("Try one yourself: [bold]bianque rca --bundle examples/scenarios/<name>[/]")


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
    app.command()(demo)
