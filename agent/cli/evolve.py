"""Self-evolution commands: ``bianque correct``, ``bianque knowledge distill`` and
``bianque skills history|diff|rollback|refine|new``.

``register`` adds ``correct`` to the root and the others to the existing ``knowledge`` and ``skills``
groups (created when their modules are absent).
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.syntax import Syntax
from rich.table import Table

from agent.cli.common import JsonOption, console, fail, print_json, with_status
from agent.config import get_settings

YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Save without asking for confirmation.")]
BundleCatalog = Annotated[
    Path | None,
    typer.Option("--bundle", "-b", help="Check names against this case bundle's data catalog.",
                 exists=True, file_okay=False, dir_okay=True),
]


def _say(message: str, style: str | None = None) -> None:
    """One plain line (no markup, no wrapping: it may hold ids and paths)."""
    console.print(message, style=style, markup=False, highlight=False, soft_wrap=True)


def _author() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return None


@contextmanager
def _errors() -> Iterator[None]:
    """Expected failures as clean messages: bad input, unknown names, model or file problems."""
    from agent.bundles.errors import InvalidBundleError
    from agent.evolve.llm_loop import GenerationFailed
    from agent.evolve.refinement import StaleRefinement
    from agent.evolve.versions import SkillFileError
    from agent.knowledge.embedding import EmbeddingModelError
    from agent.knowledge.store import KnowledgeStoreError
    from agent.llm.types import LLMError
    from agent.memory import DatabaseUnavailableError, DatabaseURLError, MemoryStoreError

    try:
        yield
    except (MemoryStoreError, DatabaseURLError, DatabaseUnavailableError, LLMError, GenerationFailed,
            SkillFileError, StaleRefinement, KnowledgeStoreError, EmbeddingModelError, InvalidBundleError,
            LookupError, ValueError) as exc:
        # a KeyError's str() is its repr (quoted); any other message is shown as it is
        fail(exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc))


def _memory():
    from agent.runtime import open_memory

    return open_memory(get_settings())


def _knowledge():
    from agent.runtime import open_knowledge

    return open_knowledge(get_settings(), ingest=False)


# --- bianque correct ------------------------------------------------------------------------


def correct(
    case_id: Annotated[str, typer.Argument(help="The case to correct (see `bianque cases list`).")],
    right: Annotated[bool, typer.Option("--right", help="The answer was right (give this or --wrong).")] = False,
    wrong: Annotated[bool, typer.Option("--wrong", help="The answer was wrong; give the truth.")] = False,
    service: Annotated[str | None, typer.Option(help="The true root-cause service (or inspected service).")] = None,
    fault: Annotated[str | None, typer.Option(help="The true fault kind, e.g. memory_leak.")] = None,
    decision: Annotated[str | None, typer.Option(help="Release cases: the right decision, pass|hold|block.")] = None,
    attention: Annotated[bool | None, typer.Option(
        "--attention/--no-attention", help="Did the alert need attention? (--no-attention: it was noise)")] = None,
    note: Annotated[str, typer.Option(help="Free text for whoever meets this again.")] = "",
    index: Annotated[bool, typer.Option(
        "--index/--no-index", help="Make the case retrievable as experience (knowledge store).")] = True,
    as_json: JsonOption = False,
) -> None:
    """Mark a case right or wrong and give the truth; the verdict itself is never changed."""
    from agent.evolve.corrections import correct_case

    if right and wrong:  # as one --right/--wrong flag the last would silently win
        fail("--right and --wrong contradict each other: give one of them")
    if not right and not wrong:
        fail("give --right or --wrong: was the case's answer right?")
    with _errors():
        memory = _memory()
        result = correct_case(
            memory, case_id, correct=right, service=service, fault=fault, decision=decision,
            needs_attention=attention, note=note, author=_author(), knowledge=_knowledge() if index else None,
        )
    if as_json:
        print_json({"correction": result.correction.model_dump(mode="json"), "truth": result.truth.describe(),
                    "indexed": result.indexed, "notes": result.notes})
        return
    verdict = "right" if right else "wrong"
    _say(f"correction {result.correction.id} stored: case {case_id} was {verdict}; truth: {result.truth.describe()}")
    for doc in result.indexed:
        _say(f"  retrievable as {doc}")
    for message in result.notes:
        _say(f"  note: {message}", "yellow")
    if not right:
        _say(f"propose a fix to the Skill that answered: bianque skills refine --from-case {case_id}")


# --- bianque knowledge distill --------------------------------------------------------------


def distill_command(
    skill: Annotated[str | None, typer.Option(help="Only this Skill's cases.")] = None,
    min_cases: Annotated[int, typer.Option(help="Smallest group that gets a note.", min=1)] = 1,
    as_json: JsonOption = False,
) -> None:
    """Merge similar corrected cases into short experience notes (one per group, never duplicated)."""
    from agent.evolve.distill import distill, notes_json

    settings = get_settings()
    with _errors():
        memory = _memory()
        if skill is not None:
            _check_distilled_skill(memory, skill)
        client = None
        if settings.llm_enabled:
            from agent.llm.client import LLMClient

            client = LLMClient(settings)
        report = distill(memory, _knowledge(), client=client, skill=skill, min_cases=min_cases)
    if as_json:
        typer.echo(notes_json(report))
        return
    table = Table(title="Experience notes")
    for column in ("note", "action", "Skill", "fault kind", "signature", "cases", "writer"):
        table.add_column(column, overflow="fold")
    for n in report.notes:
        table.add_row(n.id, n.action, n.group.skill, n.group.kind, n.group.signature, str(len(n.cases)), n.writer)
    console.print(table)
    for message in report.messages:
        _say(f"note: {message}", "yellow")
    _say(f"{report.count('created')} created, {report.count('updated')} updated, "
                  f"{report.count('unchanged')} unchanged, {report.count('removed')} removed")


def _check_distilled_skill(memory: Any, name: str) -> None:
    """LookupError unless ``name`` is a loaded Skill or one that answered a corrected case (since removed)."""
    from agent.memory.truth import case_skill
    from agent.runtime import load_skills

    library = load_skills(get_settings())
    if library.get(name) is None and all(case_skill(case) != name for case in memory.corrected_cases()):
        raise LookupError(f"no Skill named {name!r}; known: {sorted(library.skills)}")


# --- bianque skills history | diff | rollback -------------------------------------------------


def history_command(name: Annotated[str, typer.Argument(help="Skill name.")], as_json: JsonOption = False) -> None:
    """Every stored version of a Skill, oldest first."""
    from agent.evolve.versions import history
    from agent.runtime import load_skills

    with _errors():
        versions = history(_memory(), name)
        if not versions and load_skills(get_settings()).get(name) is None:
            raise LookupError(f"no Skill named {name!r} and no stored version of one (see `bianque skills list`)")
    if as_json:
        print_json([v.model_dump(mode="json", exclude={"yaml_text"}) for v in versions])
        return
    if not versions:
        _say(f"no stored versions of {name}: its file has never been changed by Bian Que")
        return
    table = Table(title=f"{name}: versions")
    for column in ("version", "active", "reason", "author", "sha256"):
        table.add_column(column, overflow="fold")
    for v in versions:
        table.add_row(f"v{v.version}", "*" if v.active else "", v.reason, v.author or "", v.sha256[:12])
    console.print(table)


def diff_command(
    name: Annotated[str, typer.Argument(help="Skill name.")],
    old: Annotated[int, typer.Argument(help="Older version number.")],
    new: Annotated[int, typer.Argument(help="Newer version number.")],
) -> None:
    """Unified diff between two stored versions of a Skill."""
    from agent.evolve.versions import diff_versions

    with _errors():
        text = diff_versions(_memory(), name, old, new)
    _show_diff(text or f"v{old} and v{new} are identical\n")


def rollback_command(
    name: Annotated[str, typer.Argument(help="Skill name.")],
    version: Annotated[int, typer.Argument(help="The version to restore.")],
    yes: YesOption = False,
) -> None:
    """Restore an earlier version byte for byte (it becomes the active version; written to the user dir)."""
    from agent.evolve.versions import rollback, rollback_preview
    from agent.runtime import load_skills

    settings = get_settings()
    with _errors():
        memory = _memory()
        current = load_skills(settings).get(name)
        preview = rollback_preview(memory, name, version, current)
        _say(f"preview: what `rollback` writes over the current {name} (v{version}, exactly as stored)")
        _show_diff(preview or "identical to the current text\n")
        if not yes:
            typer.confirm(f"Restore {name} v{version}?", abort=True)
        done = rollback(memory, settings.resolved_user_skills_dir, name, version, author=_author(), current=current)
    _say(f"{name} v{done.record.version} ({done.record.reason}, its text byte for byte) written to {done.path}")


# --- bianque skills refine | new ------------------------------------------------------------


def _workbench(bundle: Path | None, llm_replay: bool = False):
    from agent.evolve.workbench import Workbench

    settings = get_settings()
    catalog = None
    if bundle is not None:
        from agent.sources.catalog import catalog_from_bundle

        catalog = catalog_from_bundle(bundle)
    return Workbench.from_settings(settings, _memory(), use_llm_replay=llm_replay, catalog=catalog)


def _show_diff(text: str) -> None:
    console.print(Syntax(text, "diff", theme="ansi_dark", word_wrap=True))


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
        console.print(table)
    _say(report.reason, "green" if report.accepted else "red")


def _show_proposal(proposal: Any) -> None:
    _say(f"proposal ({proposal.source}): {proposal.summary}")
    for reason in proposal.reasons:
        _say(f"  - {reason}")
    _show_diff(proposal.diff)


def _show_search(result: Any) -> None:
    """Every candidate change the parameter search replayed, the kept one in green."""
    table = Table(title=f"Parameter search of {result.skill}: {len(result.tried)} candidate change(s) replayed")
    for column in ("change", "corrected fixed", "broken", "gate"):
        table.add_column(column, overflow="fold")
    for tried in result.tried:
        style = "green" if tried is result.best else ("red" if tried.broken else None)
        table.add_row(tried.describe, str(tried.fixed), str(tried.broken), tried.gate, style=style)
    console.print(table)


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
        fail(result.reason)  # no rule-based fix and --no-search
    for note in result.notes[:1]:
        _say(note, "yellow")
    if result.first is not None:
        _show_proposal(result.first)
        _show_replay(result.first_report)
    for note in result.notes[1:]:
        _say(note, "yellow")
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
    with _errors():
        bench = _workbench(bundle, llm_replay)
        if from_case is None:
            proposal = bench.propose_from_instruction(name or "", instruction or "")
            _show_proposal(proposal)
            report = with_status(f"replaying {proposal.skill} v{proposal.patched.new_version} against its cases ...",
                                 lambda: bench.replay(proposal))
            _show_replay(report)
            if not report.accepted:
                raise typer.Exit(1)
            if not yes:
                typer.confirm(f"Save {proposal.skill} v{proposal.patched.new_version}?", abort=True)
            done = bench.accept(proposal, author=_author())
        else:
            done = _refine_case(bench, from_case, name, search, yes)
    _say(f"saved {done.record.name} v{done.record.version} to {done.path}")


def _refine_case(bench: Any, case_id: str, name: str | None, search: bool, yes: bool) -> Any:
    """``refine --from-case``: the shared flow, shown; saved (after asking) when accepted, else exit 1."""
    from agent.evolve.refinement import apply_refinement

    result = _refined(bench, case_id, name, search)
    if result.search is not None and result.search.best is None:
        _say(f"no parameter change fixes a corrected case of {result.skill} without breaking one that "
             f"passed ({len(result.search.tried)} tried, above); try `bianque skills refine {result.skill} "
             "--instruction ...` or configure an LLM endpoint", "red")
    if not result.accepted:
        raise typer.Exit(1)
    if not yes:
        typer.confirm(f"Save {result.skill} v{result.proposal.patched.new_version}?", abort=True)
    return apply_refinement(bench, result, author=_author())


def new_command(
    description: Annotated[str, typer.Option("--description", "-d", help="What the Skill is for.")],
    pattern: Annotated[str | None, typer.Option(help="rca | release_interception | inspection.")] = None,
    module: Annotated[str | None, typer.Option(help="Business module or service it is for.")] = None,
    name: Annotated[str | None, typer.Option(help="Skill name (default: derived).")] = None,
    bundle: BundleCatalog = None,
    yes: YesOption = False,
) -> None:
    """Create a Skill from a description (LLM; offline from the closest Skill of that pattern/module)."""
    if pattern is not None and pattern not in ("rca", "release_interception", "inspection"):
        fail(f"--pattern: must be rca, release_interception or inspection, got {pattern!r}")
    with _errors():
        bench = _workbench(bundle)
        new = bench.new_skill(description, pattern=pattern, module=module, name=name)
        origin = f" from {new.template}" if new.template else ""
        _say(f"new Skill {new.name} ({new.source}{origin}):")
        console.print(Syntax(new.patched.text, "yaml", theme="ansi_dark", word_wrap=True))
        if not yes:
            typer.confirm(f"Save {new.name}?", abort=True)
        done = bench.save_new(new, author=_author())
    _say(f"saved {new.name} v{done.record.version} to {done.path}")


# --- bianque skills regression add | list | remove ------------------------------------------


def regression_add(directory: Annotated[Path, typer.Argument(help="A directory of labelled bundles.")]) -> None:
    """Add labelled bundles to the regression set every Skill patch must not break."""
    from agent.evolve.regression import add

    with _errors():
        bundles = add(get_settings().home, directory)
    _say(f"{len(bundles)} labelled bundle(s) under {directory.resolve()} join the regression set")


def regression_remove(directory: Annotated[Path, typer.Argument(help="A registered directory.")]) -> None:
    """Remove a directory from the regression set."""
    from agent.evolve.regression import remove

    with _errors():
        removed = remove(get_settings().home, directory)
    if not removed:
        fail(f"{directory.resolve()} is not registered (see `bianque skills regression list`)")
    _say(f"{directory.resolve()} left the regression set")


def regression_list(as_json: JsonOption = False) -> None:
    """The labelled bundles every Skill patch is replayed against (the curated scenarios by default)."""
    from agent.evolve.regression import registered, regression_bundles, summary

    with _errors():
        home = get_settings().home
        dirs, bundles = registered(home), regression_bundles(home)
    if as_json:
        print_json(summary(home))
        return
    if not dirs:
        _say("nothing registered: the curated scenarios are the regression set")
    for d in dirs:
        _say(f"registered: {d}")
    for b in bundles:
        _say(f"  {b}")


# --- registration ---------------------------------------------------------------------------


def _group(app: typer.Typer, name: str, help_text: str) -> typer.Typer:
    """The sub-app ``name`` already registered on ``app``, or a new one."""
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    group = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(group, name=name)
    return group


def register(app: typer.Typer) -> None:
    """Add ``correct`` to the root, ``distill`` to ``knowledge`` and the versioning commands to ``skills``."""
    app.command("correct")(correct)
    knowledge = _group(app, "knowledge", "The knowledge store: handbook, experience notes, past cases.")
    knowledge.command("distill")(distill_command)
    skills = _group(app, "skills", "Inspect and validate Skills (the YAML unit of orchestration).")
    skills.command("history")(history_command)
    skills.command("diff")(diff_command)
    skills.command("rollback")(rollback_command)
    skills.command("refine")(refine_command)
    skills.command("new")(new_command)
    regression = _group(skills, "regression", "The labelled bundles every Skill patch must not break.")
    regression.command("add")(regression_add)
    regression.command("remove")(regression_remove)
    regression.command("list")(regression_list)
