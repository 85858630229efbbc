"""``bianque correct`` (an engineer's verdict on a case), ``bianque knowledge distill`` (notes from corrections) and
``bianque knowledge kinds`` (the fault kinds corrections taught)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from agent.cli.common import JsonOption, fail, print_json, print_table
from agent.cli.evolve_support import author, evolve_errors, knowledge_store, memory_store, say
from agent.config import get_settings


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
    who: Annotated[str | None, typer.Option(
        "--author", help="Who gives the correction (default: your login name).")] = None,
    index: Annotated[bool, typer.Option(
        "--index/--no-index", help="Index the case and refresh its experience note in the knowledge store now "
        "(similar-case retrieval). --no-index is stored with the correction: the case stays out of experience "
        "(its record from an earlier correction is removed from the knowledge store), so a later `knowledge "
        "distill` and the ranking's lessons skip it too, until a later correction of it without --no-index.")] = True,
    as_given: Annotated[bool, typer.Option(
        "--as-given", help="Store --service as given though the case never mentions it and one of its names is close "
        "(refused otherwise as a likely typo): a cause outside the case's data.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Mark a case right or wrong and give the truth; the verdict itself is never changed."""
    from agent.evolve.corrections import correct_case

    if right and wrong:  # as one --right/--wrong flag the last would silently win
        fail("--right and --wrong contradict each other: give one of them")
    if not right and not wrong:
        fail("give --right or --wrong: was the case's answer right?")
    with evolve_errors():
        memory = memory_store()
        result = correct_case(
            memory, case_id, correct=right, service=service, fault=fault, decision=decision,
            needs_attention=attention, note=note, author=author() if who is None else who, index=index,
            as_given=as_given,
            knowledge=knowledge_store,  # opened once the correction is stored: a store down never loses it
        )
    if as_json:
        print_json({"correction": result.correction.model_dump(mode="json"), "truth": result.truth.describe(),
                    "indexed": result.indexed, "removed": result.removed, "notes": result.notes,
                    "repeated": result.repeated})
        return
    verdict = "right" if right else "wrong"
    stored = "already stored" if result.repeated else "stored"
    say(f"correction {result.correction.id} {stored}: case {case_id} was {verdict}; truth: {result.truth.describe()}")
    for doc in result.indexed:
        say(f"  retrievable as {doc}")
    for doc in result.removed:
        say(f"  no longer retrievable: {doc} removed from the knowledge store")
    for message in result.notes:
        say(f"  note: {message}", "yellow")
    if not right:
        say(f"propose a fix to the Skill that answered: bianque skills refine --from-case {case_id}")


def forget_case_command(
    case_id: Annotated[str, typer.Argument(help="The case whose record to remove (see `bianque cases list`).")],
) -> None:
    """Remove a case's record from the knowledge store's cases collection, where similar-case retrieval finds it
    (e.g. one left there when `correct --no-index` could not open the store), and refresh its group's note.

    Exit 1 when no record of the case is stored. A later correction of the case without --no-index indexes it
    again."""
    from agent.evolve.casebase import forget_case
    from agent.evolve.distill import refresh_note_for
    from agent.memory import CaseNotFoundError

    with evolve_errors():
        store = knowledge_store()
        removed = forget_case(store, case_id)
        memory = memory_store()
        try:
            case = memory.get_case(case_id)
        except CaseNotFoundError:
            case = None  # a record of a case memory no longer holds: nothing else to refresh
        if case is not None:
            refresh_note_for(memory, store, case)
    if removed is None:
        say(f"no record of case {case_id} in the knowledge store's cases collection: nothing removed", "yellow")
        raise typer.Exit(1)
    say(f"removed {removed}: similar-case retrieval no longer finds case {case_id}")
    if case is not None and case.latest_correction is not None and case.in_experience:
        say(f"  note: case {case_id}'s latest correction keeps it in experience (the ranking's lessons, distilled "
            f"notes); `bianque correct {case_id} ... --no-index` keeps it out", "yellow")


def distill_command(
    skill: Annotated[str | None, typer.Option(help="Only this Skill's cases.")] = None,
    min_cases: Annotated[int, typer.Option(
        help="Write notes only for groups of at least this many cases (a smaller group keeps the note it has).",
        min=1)] = 1,
    as_json: JsonOption = False,
) -> None:
    """Merge similar corrected cases into short experience notes (one per group, never duplicated)."""
    from agent.evolve.distill import distill, notes_json

    settings = get_settings()
    with evolve_errors():
        memory = memory_store()
        if skill is not None:
            _check_distilled_skill(memory, skill)
        client = None
        if settings.llm_enabled:
            from agent.llm.client import LLMClient

            client = LLMClient(settings)
        report = distill(memory, knowledge_store(), client=client, skill=skill, min_cases=min_cases)
    if as_json:
        typer.echo(notes_json(report))
        return
    table = Table(title="Experience notes")
    for column in ("note", "action", "Skill", "fault kind", "signature", "cases", "writer"):
        table.add_column(column, overflow="fold")
    for n in report.notes:
        table.add_row(n.id, n.action, n.group.skill, n.group.kind, n.group.signature, str(len(n.cases)), n.writer)
    print_table(table)
    for message in report.messages:
        say(f"note: {message}", "yellow")
    say(f"{report.count('created')} created, {report.count('updated')} updated, "
                  f"{report.count('unchanged')} unchanged, {report.count('removed')} removed")


def kinds_command(as_json: JsonOption = False) -> None:
    """The fault kinds corrections named: the team's own and the agent's, what the agent called each, and their
    signatures (where the cause sat, the shape of its evidence)."""
    from agent.reasoners.lessons import memory_vocabulary

    with evolve_errors():
        learned = memory_vocabulary(memory_store()).learned()
    if as_json:
        print_json({"kinds": learned})
        return
    if not learned:
        say("no corrected RCA case names a fault kind yet: `bianque correct CASE --wrong --service S --fault KIND`")
        return
    table = Table(title="Fault kinds learned from corrections")
    for column in ("fault kind", "team's own", "corrections", "the agent called it", "signatures (cases)"):
        table.add_column(column, overflow="fold")
    for row in learned:
        table.add_row(Text(str(row["kind"])), "yes" if row["team"] else "", str(row["corrections"]),
                      Text(_counted(row["seen_as"])), Text(_counted(row["signatures"], "\n")))
    print_table(table)


def _counted(counts: Any, sep: str = ", ") -> str:
    return sep.join(f"{name} ({n})" for name, n in counts.items())


def _check_distilled_skill(memory: Any, name: str) -> None:
    """LookupError unless ``name`` is a loaded Skill or one that answered a corrected case (since removed)."""
    from agent.memory.truth import case_skill
    from agent.runtime import load_skills

    library = load_skills(get_settings())
    if library.get(name) is None and all(case_skill(case) != name for case in memory.corrected_cases()):
        raise LookupError(f"no Skill named {name!r}{library.not_loaded(name)}; known: {sorted(library.skills)}")
