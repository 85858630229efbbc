"""``bianque cases``: list stored investigations and show one with its verdict and corrections."""

from __future__ import annotations

from typing import Annotated, get_args

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from agent.bundles.errors import InvalidBundleError
from agent.cli.common import JsonOption, console, fail, print_json, print_markdown, print_table, user_errors, warn
from agent.config import get_settings
from agent.events import Pattern
from agent.memory import DatabaseUnavailableError, DatabaseURLError, Memory, MemoryStoreError
from agent.memory.lines import SHORT_PATTERN, answer_line, correction_line, data_line
from agent.memory.records import CaseRecord, CaseStatus
from agent.timeparse import to_rfc3339, to_short_utc
from agent.topology import TopologyError

cases_app = typer.Typer(help="Stored investigations (cases) and their corrections.", no_args_is_help=True)
MEMORY_ERRORS = (MemoryStoreError, DatabaseURLError, DatabaseUnavailableError)
QUEUE_STATUSES = ("pending", "running", "done", "failed")
CASE_STATUSES = get_args(CaseStatus)


def register(app: typer.Typer) -> None:
    """Add the ``cases`` sub-app to the root CLI."""
    app.add_typer(cases_app, name="cases")


def _skill_label(case: CaseRecord) -> str:
    if not case.skill:
        return "-"
    return f"{case.skill} v{case.skill_version}" if case.skill_version is not None else case.skill


@cases_app.command("list")
def list_cases(
    skill: Annotated[str | None, typer.Option("--skill", help="Only cases this Skill answered.")] = None,
    pattern: Annotated[Pattern | None, typer.Option("--pattern", help="Only cases of this pattern.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="running, done or failed.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10_000, help="At most this many.")] = 50,
    interrupted: Annotated[bool, typer.Option(
        "--interrupted", help="Only cases left running by a process that stopped, which `bianque cases resume` "
        "can finish (oldest first).")] = False,
    as_json: JsonOption = False,
) -> None:
    """List stored cases, newest first."""
    if status is not None and status not in CASE_STATUSES:
        raise typer.BadParameter(f"must be one of {', '.join(CASE_STATUSES)}, got {status!r}", param_hint="--status")
    with user_errors(*MEMORY_ERRORS), Memory() as memory:
        if interrupted:
            from agent.investigator import interrupted_cases

            cases = interrupted_cases(get_settings(), memory, limit)
        else:
            cases = memory.list_cases(
                skill=skill, pattern=pattern.value if pattern else None, status=status, limit=limit
            )
    if as_json:
        print_json([case.model_dump(mode="json", exclude={"evidence", "gathered"}) for case in cases])
        return
    if not cases and interrupted:
        console.print("No interrupted cases: nothing to resume.")
        return
    filters = [f"--{name} {value}" for name, value in (("skill", skill), ("pattern", pattern and pattern.value),
                                                         ("status", status)) if value]
    if not cases and filters:
        console.print(f"No case matches {' '.join(filters)} (`bianque cases list` lists them all).", markup=False)
        return
    if not cases:
        console.print("No cases stored yet. Investigate an event first: `bianque rca`, `bianque intercept`, "
                      "`bianque inspect` or `bianque ask`.")
        return
    table = Table(title=f"Cases ({len(cases)}, newest first; times UTC)", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("id", "created", "pattern", "service", "skill", "status"):
        table.add_column(column, no_wrap=column in ("id", "created", "pattern"))
    table.add_column("answer", ratio=1, overflow="fold")  # no min_width: a table wider than the terminal is cut
    for case in cases:
        latest = case.latest_correction
        marked = "" if latest is None else (" ✓" if latest.correct else " ✗")
        table.add_row(
            case.id,
            to_short_utc(case.created_at),
            SHORT_PATTERN.get(case.pattern, case.pattern),
            case.service or "-",
            _skill_label(case),
            case.status + marked,
            answer_line(case.verdict) if case.status != "failed" else (case.error or "")[:200],
        )
    if any(case.corrections for case in cases):
        table.caption = "✓ confirmed by a correction, ✗ corrected as wrong (see `bianque cases show ID`)"
    print_table(table)


@cases_app.command("resume")
def resume_cases(
    case_ids: Annotated[list[str] | None, typer.Argument(
        help="Cases to finish (see `bianque cases list --interrupted`).", show_default=False)] = None,
    every: Annotated[bool, typer.Option("--all", help="Finish every interrupted case.")] = False,
) -> None:
    """Finish investigations a stopped process left unfinished, from their last checkpoint.

    Steps already done (gathering, analysis) are not run again. A case a live process of this host is
    still investigating is refused; one started on another host cannot be checked from here, so resume
    it only once that host's process has stopped. A case that failed with an error is finished as a
    new case of the same event.
    """
    from agent.investigator import interrupted_cases, resume_case

    if bool(case_ids) == every:
        fail("give case ids or --all (not both)")
    settings = get_settings()
    with user_errors(*MEMORY_ERRORS, ValueError, InvalidBundleError, TopologyError), Memory() as memory:
        ids = case_ids or [case.id for case in interrupted_cases(settings, memory)]
        if not ids:
            console.print("No interrupted cases: nothing to resume.")
            return
        for number, case_id in enumerate(ids, 1):
            console.print(f"[{number}/{len(ids)}] resuming case {escape(case_id)} …", highlight=False)
            result = resume_case(case_id, settings, memory=memory)
            console.print(f"case {escape(str(result.case_id))} done: {escape(answer_line(result.verdict))}",
                          highlight=False)


@cases_app.command("show")
def show_case(
    case_id: Annotated[str, typer.Argument(help="The case id (see `bianque cases list`).")],
    as_json: JsonOption = False,
) -> None:
    """Show one case: the event, the Skill, the report, the verdict and every correction."""
    with user_errors(*MEMORY_ERRORS), Memory() as memory:
        case = memory.get_case(case_id)
    if as_json:
        print_json(case.model_dump(mode="json"))
        return
    _print_header(case)
    if case.report:
        print_markdown(case.report)
    if case.verdict is not None:
        reasoner = case.verdict.reasoner or case.reasoner or "unknown reasoner"
        console.print(
            f"[bold]Verdict[/] ({escape(reasoner)}): {escape(answer_line(case.verdict))}", highlight=False
        )
        console.print(case.verdict.summary, markup=False, highlight=False)
    if case.error:
        console.print(f"[bold red]Failed:[/] {escape(case.error)}", highlight=False)
    console.print(f"[bold]Corrections[/] ({len(case.corrections)})", highlight=False)
    for correction in case.corrections:
        console.print("  " + correction_line(correction), markup=False, highlight=False)
    if not case.corrections:
        console.print("  none yet")


def _print_header(case: CaseRecord) -> None:
    rows = [
        ("case", case.id),
        ("event", case.event.describe()),
        ("created", to_rfc3339(case.created_at)),
        ("status", case.status),
        ("skill", _skill_label(case) + (f" ({case.selection_reason})" if case.selection_reason else "")),
        ("reasoner", case.reasoner or "-"),
        ("prompt tokens", str(case.prompt_tokens)),
        ("duration", f"{case.duration_ms} ms" if case.duration_ms is not None else "-"),
        ("findings", str(len(case.findings))),
        ("data", _data(case)),
        ("thread", case.thread_id or "-"),
    ]
    for label, value in rows:
        console.print(f"[bold]{label:>13}[/] {escape(value)}", highlight=False, soft_wrap=True)


def _data(case: CaseRecord) -> str:
    """Where the case's data is: its bundle (:func:`data_line`), else what is stored."""
    if case.bundle_path:
        return data_line(case.bundle_path)
    return "gathered data stored" if case.gathered else "-"


@cases_app.command("queue")
def list_queue(
    status: Annotated[
        str | None, typer.Option("--status", help="pending, running, done or failed (default: all).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10_000, help="At most this many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List queued investigations (alerts the service took in), newest first; failed ones say why."""
    if status is not None and status not in QUEUE_STATUSES:
        raise typer.BadParameter(f"must be one of {', '.join(QUEUE_STATUSES)}, got {status!r}", param_hint="--status")
    with user_errors(*MEMORY_ERRORS), Memory() as memory:
        items = memory.list_queued(status, limit)
        stats = memory.queue_stats()
    if as_json:
        print_json([item.model_dump(mode="json") for item in items])
        return
    counts = f"{stats.pending} pending, {stats.running} running, {stats.done} done, {stats.failed} failed"
    if not items:
        console.print(f"No queued investigations{f' with status {status}' if status else ''} ({counts}).")
        return
    table = Table(title=f"Investigation queue ({counts}; times UTC)", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("id", "queued", "service", "status", "tries", "case"):
        table.add_column(column, no_wrap=True)
    table.add_column("last error", min_width=12, ratio=1, overflow="fold")
    for item in items:
        table.add_row(
            item.id,
            to_short_utc(item.created_at),
            item.event.primary_service or "-",
            item.status,
            str(item.attempts),
            item.case_id or "-",
            (item.last_error or "")[:200],
        )
    if stats.failed:
        table.caption = "failed items ran out of attempts: POST /queue/ID/retry (or a repeat alert) queues one again"
    print_table(table)


@cases_app.command("prune-data")
def prune_data(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say which cases' data would go; remove nothing.")] = False,
    orphans: Annotated[bool, typer.Option(
        "--orphans", help="Also remove the old data of cases this database does not hold (listed either way): only "
        "when no other database shares this BIANQUE_HOME, since they may be its cases'.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Remove the kept data of old live cases no one corrected ($BIANQUE_HOME/case-data, BIANQUE_CASE_DATA_DAYS).

    Live runs and `bianque serve --with-scheduler` do this about hourly on their own; this command runs whenever
    asked (after a prune under way in another process ends) and counts as this database's prune of the hour (not
    with --dry-run). Only cases this database holds are pruned: another database's cases in a shared BIANQUE_HOME
    are left alone. The old folders of cases it does not hold (orphans: another database's, or of cases no database
    holds any more) are listed, and removed with --orphans. Exit code 1 when a case's data could not be removed
    (each said on stderr).
    """
    from agent.bundles.case_data import prune_case_data

    kept = get_settings().case_data
    if kept is None:
        fail("BIANQUE_CASE_DATA_DAYS is 0: no live case keeps data, so there is none to prune")
    failed: dict[str, str] = {}
    found_orphans: set[str] = set()
    with user_errors(*MEMORY_ERRORS, OSError), Memory() as memory:

        def to_go(case_ids: list[str]) -> set[str]:  # one look at the database for both kinds
            of = memory.kept_data_of(case_ids)
            found_orphans.update(of.orphans)
            return of.prunable | of.orphans if orphans else of.prunable

        gone = prune_case_data(kept, to_go, dry_run=dry_run, failed=failed, store=memory.url)
    removed = [case_id for case_id in gone if case_id not in found_orphans]
    strays = [case_id for case_id in gone if case_id in found_orphans] if orphans else sorted(found_orphans)
    if as_json:
        print_json({"dry_run": dry_run, "cases": removed, "failed": failed, "orphans": strays,
                    "orphans_removed": orphans and not dry_run})
    else:
        verb = "would remove" if dry_run else "removed"
        days = f"{kept.keep_s / 86400:g}"
        said = [f"{verb} the kept data of {len(removed)} uncorrected case(s) older than {days} day(s) from "
                f"{escape(str(kept.root))}", *(f"  {escape(c)}" for c in removed)]
        if strays:
            said.append(f"{verb} the kept data of {len(strays)} case(s) this database does not hold, older than {days} "
                        "day(s)" if orphans else
                        f"kept the data of {len(strays)} case(s) older than {days} day(s) this database does not hold "
                        "(another database's sharing this home, or of cases no database holds any more): "
                        "--orphans removes it")
            said += [f"  {escape(c)}" for c in strays]
        console.print("\n".join(said), highlight=False)
    for case_id, problem in failed.items():
        warn(f"{case_id}: not removed: {problem}")
    if failed:
        raise typer.Exit(1)
