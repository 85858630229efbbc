"""``bianque eval`` and ``bianque demo``: run labelled bundles and score them against ground truth."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from agent.cli.common import (
    DEFAULT_MAX_BUNDLES,
    JsonOption,
    MaxBundlesOption,
    bundles_or_exit,
    console,
    err_console,
    knowledge_errors,
    print_json,
    print_table,
    user_errors,
)
from agent.config import PROJECT_ROOT, get_settings, masked_url

PATTERN_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "rca": (("rca_top1", "top-1"), ("rca_top3", "top-3"), ("rca_fault_accuracy", "fault kind"),
            ("noise_silenced", "noise silenced")),
    "release_interception": (("block_precision", "block precision"), ("block_recall", "block recall"),
                             ("good_blocked", "good blocked")),
    "inspection": (("inspection_recall", "recall"),),
}
OPENING = "opening the knowledge store (embedding the handbook on first use)…"
EXTRA_COUNTS = {"rca": ("missed_actionable", "missed actionable"), "inspection": ("false_alarms", "false alarms")}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _cell(summary, key: str, rate: float | None) -> str:
    """A rate as a table cell; fault-kind accuracy with the cases it is over (those whose label names a fault)."""
    if key != "rca_fault_accuracy":
        return _pct(rate)
    if not summary.fault_labelled:
        return "— (no fault labelled)"
    return f"{_pct(rate)} ({summary.fault_correct}/{summary.fault_labelled} labelled)"


def pattern_tables(report) -> list[Table]:
    """One table per pattern with the measures that matter for it."""
    tables = []
    for pattern, summary in sorted(report.by_pattern.items()):
        rates = summary.rates()
        table = Table(title=pattern)
        columns = [("cases", str(summary.cases)), ("pass", _pct(rates["pass_rate"]))]
        columns += [(header, _cell(summary, key, rates[key])) for key, header in PATTERN_COLUMNS.get(pattern, ())]
        if pattern in EXTRA_COUNTS:
            key, header = EXTRA_COUNTS[pattern]
            columns.append((header, str(getattr(summary, key))))
        for header, _ in columns:
            table.add_column(header, justify="right")
        table.add_row(*(value for _, value in columns))
        tables.append(table)
    return tables


def skill_table(report) -> Table:
    """Pass rate per Skill."""
    table = Table(title="per Skill")
    for header in ("Skill", "cases", "pass"):
        table.add_column(header, justify="left" if header == "Skill" else "right")
    for name, summary in sorted(report.by_skill.items()):
        table.add_row(name, str(summary.cases), _pct(summary.rates()["pass_rate"]))
    return table


def print_summary(report, title: str) -> None:
    console.rule(title)
    console.print(f"{report.overall.cases} cases, pass rate {_pct(report.overall.rates()['pass_rate'])}")
    for table in [*pattern_tables(report), skill_table(report)]:
        print_table(table)


def print_problems(report) -> None:
    """The cases skipped and why, and what the bundle readers ignored, case by case: each one line, never folded (a
    file's path stays whole)."""
    for name, error in report.errors.items():
        console.print(f"skipped {name}: {error}", style="yellow", markup=False, highlight=False, soft_wrap=True)
    for warnings in report.warnings.values():
        for warning in warnings:  # each names its file by the bundle's path as given
            console.print(f"warning: {warning}", style="yellow", markup=False, highlight=False, soft_wrap=True)


def _opening_line(out: Console, forks: bool) -> AbstractContextManager[Any]:
    """What shows while the knowledge store opens: a spinner, or when a child process is forked under it (to open the
    store for the workers) the same words drawn once, with no display thread running across the fork."""
    if not forks:
        return out.status(OPENING)
    return Live(Text(OPENING), console=out, transient=True, auto_refresh=False)


def _run_eval(bundles: list[Path], label: str, show_cases: bool, quiet: bool = False, memory=None,
              jobs: int | None = None, skill: str | None = None):
    """Evaluate ``bundles`` with a progress bar; ``jobs`` None picks the number of worker processes; ``skill``
    answers every case of its pattern."""
    from agent.eval.cases import auto_jobs, in_workers, ready_knowledge
    from agent.eval.runner import evaluate

    settings = get_settings()
    out = err_console  # progress is not output: stdout holds the report alone, on a terminal too
    jobs = jobs or auto_jobs(bundles)
    spread = in_workers(bundles, jobs)
    with user_errors(*knowledge_errors()), _opening_line(out, forks=spread):  # a store that cannot be opened (for
        knowledge = ready_knowledge(settings, bundles, jobs)  # the workers, in a child) stops it before any progress
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    # Refreshed by hand: no display thread is running when the workers are forked.
    # stdout's lines (--verbose) are drawn above the bar only when stdout is the terminal too: redirected, they stay
    # in their file
    with user_errors(*knowledge_errors()), Progress(*columns, console=out, transient=quiet, auto_refresh=False,
                                                   redirect_stdout=console.is_terminal) as progress:
        task = progress.add_task(label + (f" in {jobs} processes" if spread else ""), total=len(bundles))

        def on_case(_path: Path, score) -> None:
            if show_cases and score is not None:  # named as the report names it: its path under the cases' folder
                mark = "[green]✔[/]" if score.passed else "[red]✘[/]"
                console.print(f"{mark} {escape(f'{score.case:<26}')} {score.skill:<24} {score.detail}"
                              f"{_gaps_said(score)}", soft_wrap=True)  # one line per case, whole, in a file too
            progress.update(task, advance=1, refresh=True)

        return evaluate(bundles, settings, knowledge=knowledge, on_case=on_case, memory=memory, jobs=jobs,
                        skill=skill)


def _gaps_said(score: Any) -> str:
    """'' or, for a case missed, the Skill's metric signals that found no data (what a Skill author checks first)."""
    if score.passed or not score.gaps:
        return ""
    return f" [yellow]({len(score.gaps)} metric signal(s) without data: {escape('; '.join(score.gaps[:3]))}" + (
        "; …)" if len(score.gaps) > 3 else ")") + "[/]"


def eval_command(
    cases: Annotated[Path, typer.Option("--cases", help="Directory of labelled case bundles.", exists=True,
                                        file_okay=False)],
    as_json: JsonOption = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="One line per case.")] = False,
    memory: Annotated[bool, typer.Option(
        "--memory", help="Weigh rankings with the stored corrections (their lessons), as live investigations "
        "do; nothing is written to memory.")] = False,
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", min=1, help="Worker processes (default: one per core, up to 4 and one per 4 bundles; "
        "each holds about 0.4 GB; 1 runs everything in this process).")] = None,
    max_bundles: MaxBundlesOption = DEFAULT_MAX_BUNDLES,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Exit 1 when any bundle was skipped (unlabelled, invalid); without it only a run that "
        "evaluated none fails (exit 2).")] = False,
    skill: Annotated[str | None, typer.Option(
        "--skill", help="Answer every case with this Skill instead of the one selection picks (a Skill author's "
        "test); cases of another pattern are skipped.")] = None,
) -> None:
    """Run every labelled bundle in a directory and report pass rate and accuracy per pattern and Skill. Skipped
    bundles are listed with the reason; exit 2 when none could be evaluated (1 with --strict when any was skipped)."""
    bundles = bundles_or_exit([cases], max_bundles, code=2)
    if skill is not None:  # a mistyped name is said before the knowledge store opens
        from agent.graph.nodes.select_skill import known_skill
        from agent.runtime import load_skills

        with user_errors(LookupError):
            known_skill(skill, load_skills(get_settings()))
    label = f"evaluating {len(bundles)} bundles" + (f" with Skill {skill}" if skill else "")
    if memory:
        from agent.runtime import open_memory

        with open_memory(get_settings()) as store:
            report = _run_eval(bundles, label, verbose and not as_json, quiet=as_json, memory=store, jobs=jobs,
                               skill=skill)
    else:
        report = _run_eval(bundles, label, verbose and not as_json, quiet=as_json, jobs=jobs, skill=skill)
    if as_json:
        print_json(report.to_dict())
    else:
        forced = f" with Skill {skill} on every case" if skill else ""
        print_summary(report, f"Offline evaluation{' with stored corrections' if memory else ''}{forced}: {cases}")
        if report.memory is not None:
            used = report.memory
            console.print(f"stored corrections: {used['lessons']} lesson(s) from {used['corrected_cases']} corrected "
                          f"case(s)" + (f"; in-sample (corrected cases themselves): {', '.join(used['in_sample'])}"
                                        if used["in_sample"] else ""))
        print_problems(report)
    _exit_on_skipped(report, len(bundles), strict)


def _exit_on_skipped(report: Any, found: int, strict: bool) -> None:
    """Exit 2 when none of the ``found`` bundles was evaluated, 1 (``strict``) when any was skipped."""
    skipped = len(report.errors)
    if report.overall.cases == 0:
        err_console.print(f"error: none of the {found} bundle(s) could be evaluated ({skipped} skipped, reasons "
                          "above)", markup=False, highlight=False)
        raise typer.Exit(2)
    if strict and skipped:
        err_console.print(f"error: {skipped} of {found} bundle(s) skipped (reasons above); --strict fails the run",
                          markup=False, highlight=False)
        raise typer.Exit(1)


DEFAULT_SCENARIOS = PROJECT_ROOT / "examples" / "scenarios"


def demo(
    scenarios: Annotated[Path, typer.Option(help="Bundled scenarios to run.", exists=True,
                                            file_okay=False)] = DEFAULT_SCENARIOS,
    max_bundles: MaxBundlesOption = DEFAULT_MAX_BUNDLES,
) -> None:
    """The main job on the embedded default: all three patterns over the bundled scenarios."""
    bundles = bundles_or_exit([scenarios], max_bundles, code=2)  # the search of eval and bundle validate/ingest
    settings = get_settings()
    where = masked_url(settings.llm_base_url or "")  # a basic-auth password is not shown
    reasoner = (f"LLM {settings.llm_model} at {where} above the offline floor" if settings.llm_enabled
                else "offline reasoner")
    console.rule(f"[bold]Bian Que demo[/] — {reasoner}, embedded Chroma, SQLite, no network")
    report = _run_eval(bundles, "investigating scenarios", show_cases=True, jobs=1)  # the story in order
    print_summary(report, "Decisions against the ground truth")
    print_problems(report)
    console.print("Try one yourself: [bold]bianque rca --bundle examples/scenarios/<name>[/]")


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
    app.command()(demo)
