"""``bianque skills refine | new``: Skill patches proposed from a corrected case or an instruction, replayed first."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent.cli.common import console, fail, print_syntax, print_table, with_status
from agent.cli.evolve_support import BundleCatalog, YesOption, author, evolve_errors, memory_store, say, show_diff
from agent.config import get_settings


def _workbench(bundle: Path | None, llm_replay: bool = False):
    from agent.evolve.workbench import Workbench

    settings = get_settings()
    catalog = None
    if bundle is not None:
        from agent.sources.catalog import catalog_from_bundle

        catalog = catalog_from_bundle(bundle)
    return Workbench.from_settings(settings, memory_store(), use_llm_replay=llm_replay, catalog=catalog)


def _show_replay(report: Any) -> None:
    styles = {"regressed": "red", "fixed": "green", "skipped": "dim"}
    titles = {"corrected": "corrected cases (a fix is wanted)", "regression": "regression set (must not break)"}
    for role, rows in report.rows().items():
        table = Table(title=f"Replay of {report.skill}: {titles[role]}")
        for column in ("case", "truth", "before", "after", "result"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*row.values(), style=styles.get(row["result"]))
        if not rows:
            table.add_row("(none)", "", "", "", "", style="dim")
        print_table(table)
    for note in report.notes:
        say(note, "yellow")
    say(report.reason, "green" if report.accepted else "red")


def _show_proposal(proposal: Any) -> None:
    say(f"proposal ({proposal.source}): {proposal.summary}")
    for reason in proposal.reasons:
        say(f"  - {reason}")
    show_diff(proposal.diff)


def _show_search(result: Any) -> None:
    """Every candidate change the parameter search replayed, the kept one in green."""
    table = Table(title=f"Parameter search of {result.skill}: {len(result.tried)} candidate change(s) replayed")
    for column in ("change", "corrected fixed", "broken", "gate"):
        table.add_column(column, overflow="fold")
    for tried in result.tried:
        style = "green" if tried is result.best else ("red" if tried.broken else None)
        table.add_row(tried.describe, str(tried.fixed), str(tried.broken), tried.gate, style=style)
    print_table(table)


def _refined(bench: Any, case_id: str, skill: str | None, search: bool) -> Any:
    """:func:`agent.evolve.refinement.refine_from_case` behind a progress bar; then what it tried."""
    from agent.evolve.refinement import refine_from_case

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("refining ...", total=None)

        def step(at: Any) -> None:
            if at.stage != "search" or at.done == 0:  # a candidate's own message is too long for a bar
                progress.update(task, description=at.message)
            progress.update(task, completed=at.done, total=at.total or None)

        result = refine_from_case(bench, case_id, skill=skill, search=search, progress=step)
    if result.first is None and result.search is None:
        for note in result.notes[:-1]:
            say(note, "yellow")
        # no rule-based fix, and --no-search (bad input: 2) or no corrected case to search with (nothing fixes it: 1)
        fail(result.reason, 1 if search else 2)
    for note in result.notes[:1]:
        say(note, "yellow")
    if result.first is not None:
        _show_proposal(result.first)
        _show_replay(result.first_report)
    for note in result.notes[1:]:
        say(note, "yellow")
    if result.search is not None:
        _show_search(result.search)
        if result.search.best is not None:
            _show_proposal(result.proposal)
            _show_replay(result.report)
    return result


def refine_command(
    name: Annotated[str | None, typer.Argument(help="Skill name (default: the Skill of --from-case).")] = None,
    instruction: Annotated[str | None, typer.Option("--instruction", "-i", help="What to change, in words.")] = None,
    from_case: Annotated[str | None, typer.Option("--from-case", help="Fix what this corrected case missed.")] = None,
    search: Annotated[bool, typer.Option(
        "--search/--no-search",
        help="--from-case: when no rule-based (or LLM) patch passes the replay gate, search the Skill's parameters "
             "offline (minimum effects, directions, dependencies, log levels).")] = True,
    bundle: BundleCatalog = None,
    llm_replay: Annotated[bool, typer.Option("--llm-replay", help="Replay with the LLM reasoner.")] = False,
    yes: YesOption = False,
) -> None:
    """Propose a patch (from an instruction or a correction), replay it, and save it if it passes.

    Exit code 1 when nothing passes the replay gate (it fixes no corrected case, or breaks one that passed).
    """
    if (instruction is None) == (from_case is None):
        fail("give exactly one of --instruction TEXT or --from-case CASE_ID")
    if from_case is None and name is None:
        fail("name the Skill to refine")
    with evolve_errors():
        bench = _workbench(bundle, llm_replay)
        if from_case is None:
            proposal = bench.propose_from_instruction(name or "", instruction or "")
            _show_proposal(proposal)
            report = with_status(f"replaying {proposal.skill} v{proposal.patched.new_version} against its cases ...",
                                 lambda: bench.replay(proposal))
            _show_replay(report)
            if not report.accepted:
                if not report.regressions:  # an author's change, with no correction for it to fix
                    say(author_path_line(bench, proposal.skill), "yellow")
                raise typer.Exit(1)
            if not yes:
                typer.confirm(f"Save {proposal.skill} v{proposal.patched.new_version}?", abort=True)
            done = bench.accept(proposal, author=author())
        else:
            done = _refine_case(bench, from_case, name, search, yes)
    say(f"saved {done.record.name} v{done.record.version} to {done.path}{done.set_aside_line}")


def author_path_line(bench: Any, name: str) -> str:
    """What ``refine --instruction`` says when its patch fixes no corrected case (the gate wants one): the author's
    path, a hand edit recorded with ``skills record``, which asks only that nothing breaks."""
    from agent.evolve.versions import user_skill_path

    loaded = bench.skill(name)
    path = user_skill_path(bench.user_dir, name, loaded)
    copy = "" if path == loaded.path else (f" (a copy of {loaded.path or 'the built-in file'}: "
                                           f"`bianque skills show {name} > {path}`)")
    return (f"refine is for corrections: its patch must fix a corrected case. For an author's change with no "
            f"correction behind it, edit {path}{copy} and run `bianque skills record {name}`: the edit is validated, "
            "replayed against the Skill's cases and regression set, and refused only when it breaks one")


def _refine_case(bench: Any, case_id: str, name: str | None, search: bool, yes: bool) -> Any:
    """``refine --from-case``: the shared flow, shown; saved (after asking) when accepted, else exit 1."""
    from agent.evolve.refinement import apply_refinement

    result = _refined(bench, case_id, name, search)
    if result.search is not None and result.search.best is None:
        say(f"{result.search.shortfall()}, above; try `bianque skills refine {result.skill} --instruction ...` or "
            "configure an LLM endpoint", "red")
    if not result.accepted:
        raise typer.Exit(1)
    if not yes:
        typer.confirm(f"Save {result.skill} v{result.proposal.patched.new_version}?", abort=True)
    return apply_refinement(bench, result, author=author())


def _warn_unknown_names(new: Any, catalog: Any, bundle: Path | None) -> None:
    """Against ``--bundle``'s catalog, the metrics and log services of a Skill copied from a template that the data
    does not hold (a model's Skill is checked, and mended, as it is written)."""
    if catalog is None or new.source != "template":
        return
    from agent.skills.lint import check_against_catalog

    warnings = check_against_catalog(new.patched.loaded.skill, catalog)
    for warning in warnings:
        say(f"warning: {warning}", "yellow")
    if warnings:
        say(f"{len(warnings)} name(s) of template {new.template} are not in {bundle}: edit them after saving "
            f"(`bianque catalog --bundle {bundle}` lists what it holds)", "yellow")


def new_command(
    description: Annotated[str, typer.Option("--description", "-d", help="What the Skill is for.")],
    pattern: Annotated[str | None, typer.Option(help="rca | release_interception | inspection.")] = None,
    module: Annotated[str | None, typer.Option(
        help="Business module or service it is for; a glob ('speed-*') covers every service it matches.")] = None,
    name: Annotated[str | None, typer.Option(help="Skill name (default: derived).")] = None,
    bundle: BundleCatalog = None,
    yes: YesOption = False,
) -> None:
    """Create a Skill from a description (LLM; offline from the closest Skill of that pattern/module)."""
    from agent.evolve.versions import unkept_file_line

    if pattern is not None and pattern not in ("rca", "release_interception", "inspection"):
        fail(f"--pattern: must be rca, release_interception or inspection, got {pattern!r}")
    with evolve_errors():
        bench = _workbench(bundle)
        new = bench.new_skill(description, pattern=pattern, module=module, name=name)
        origin = f" from {new.template}" if new.template else ""
        say(f"new Skill {new.name} ({new.source}{origin}):")
        print_syntax(new.patched.text, "yaml")
        for note in new.notes:
            say(f"note: {note}", "yellow")
        _warn_unknown_names(new, bench.catalog, bundle)
        if (kept := unkept_file_line(bench.memory, bench.user_dir, new.name, None)) is not None:
            say(kept, "yellow")  # a file of that name that does not load: kept, not lost
        if not yes:
            typer.confirm(f"Save {new.name}?", abort=True)
        done = bench.save_new(new, author=author())
    say(f"saved {new.name} v{done.record.version} to {done.path}{done.set_aside_line}")
