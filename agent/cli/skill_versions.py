"""``bianque skills history | diff | rollback | record``: a Skill's stored versions, and a hand edit recorded as one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from agent.cli.common import JsonOption, print_json, print_table, with_status
from agent.cli.evolve_support import YesOption, author, evolve_errors, memory_store, say, show_diff
from agent.config import get_settings

if TYPE_CHECKING:
    from agent.evolve.record import HandEdit


def history_command(name: Annotated[str, typer.Argument(help="Skill name.")], as_json: JsonOption = False) -> None:
    """Every stored version of a Skill, oldest first; when the Skill's file no longer holds the active one (edited by
    hand, broken or gone), a line says so."""
    from agent.evolve.versions import active_elsewhere_line, history
    from agent.runtime import load_skills

    settings = get_settings()
    with evolve_errors():
        memory = memory_store()
        versions = history(memory, name)
        library = load_skills(settings)
        if not versions and library.get(name) is None:
            raise LookupError(f"no Skill named {name!r}{library.not_loaded(name)} and no stored version of one "
                              "(see `bianque skills list`)")
        elsewhere = active_elsewhere_line(memory, settings.resolved_user_skills_dir, name, library.get(name))
    if as_json:
        print_json([v.model_dump(mode="json", exclude={"yaml_text"}) for v in versions])
        return
    if not versions:
        say(f"no stored versions of {name}: its file has never been changed by Bian Que")
        return
    table = Table(title=f"{name}: versions")
    for column in ("version", "active", "reason", "author", "sha256"):
        table.add_column(column, overflow="fold")
    for v in versions:
        table.add_row(f"v{v.version}", "*" if v.active else "", v.reason, v.author or "", v.sha256[:12])
    print_table(table)
    if elsewhere is not None:
        say(elsewhere, "yellow")


def diff_command(
    name: Annotated[str, typer.Argument(help="Skill name.")],
    old: Annotated[int, typer.Argument(help="Older version number.", min=1)],
    new: Annotated[int, typer.Argument(help="Newer version number.", min=1)],
) -> None:
    """Unified diff between two stored versions of a Skill."""
    from agent.evolve.versions import diff_versions

    with evolve_errors():
        text = diff_versions(memory_store(), name, old, new)
    show_diff(text or f"v{old} and v{new} are identical\n")


def rollback_command(
    name: Annotated[str, typer.Argument(help="Skill name.")],
    version: Annotated[int, typer.Argument(help="The version to restore.", min=1)],
    yes: YesOption = False,
) -> None:
    """Restore an earlier version byte for byte (it becomes the active version; written to the user dir). When its
    text is already the active one and the file holds it, nothing is written and no version is recorded; over a
    hand edit, the edit is kept in the history first and the restored text recorded after it."""
    from agent.evolve.versions import (
        already_at,
        already_line,
        kept_edit_line,
        rollback,
        rollback_preview,
        unkept_file_line,
    )
    from agent.runtime import load_skills

    settings = get_settings()
    with evolve_errors():
        memory = memory_store()
        current = load_skills(settings).get(name)
        active = already_at(memory, name, version, current)
        if active is not None:
            say(already_line(name, version, active))
            return
        user_dir = settings.resolved_user_skills_dir
        preview = rollback_preview(memory, name, version, current, user_dir)
        say(f"preview: what `rollback` writes over the current {name} (v{version}, exactly as stored)")
        show_diff(preview or "identical to the current text\n")
        for kept in (kept_edit_line(memory, name, current), unkept_file_line(memory, user_dir, name, current)):
            if kept is not None:
                say(kept)
        if not yes:
            typer.confirm(f"Restore {name} v{version}?", abort=True)
        done = rollback(memory, user_dir, name, version, author=author(), current=current)
    if not done.written:  # made active meanwhile, by another process
        say(already_line(name, version, done.record))
        return
    say(f"{name} v{done.record.version} ({done.record.reason}, its text byte for byte) written to {done.path}"
        f"{done.set_aside_line}")


def _refused_edit_in_use(edit: HandEdit) -> str:
    """What a refused hand edit leaves: the file still holds it, and it is the Skill in use; how to put back the text
    it replaced."""
    said = f"nothing recorded, but {edit.path} still holds the edit, and it is the {edit.name} in use now " \
           "(investigations, scheduled inspections)"
    if edit.base_short.startswith("v"):
        return f"{said}: edit it again, or `bianque skills rollback {edit.name} {edit.base_short[1:]}` writes the " \
               f"active {edit.base_short} back to it"
    if edit.base_short == "overridden":
        return f"{said}: edit it again, or remove it to use {edit.base_label.removeprefix('the file it overrides, ')}"
    return f"{said}: edit it again"


def record_command(
    name: Annotated[str, typer.Argument(help="Skill name.")],
    message: Annotated[str, typer.Option("--message", "-m", help="What the edit does (kept as its reason).")] = "",
    llm_replay: Annotated[bool, typer.Option("--llm-replay", help="Replay with the LLM reasoner.")] = False,
    yes: YesOption = False,
) -> None:
    """Record a Skill file you edited by hand as its next version (the author's path: no correction needed).

    The file is validated, its diff against the active version shown, and it is replayed against the Skill's stored
    cases and its regression set: refused (exit 1, nothing recorded) when a case that passed before fails with it.
    Recorded, its text is the active version byte for byte (the file is not rewritten); `rollback` restores any.
    """
    from agent.cli.refine import _show_replay
    from agent.evolve.record import NothingToRecord, hand_edit, record_edit
    from agent.evolve.workbench import Workbench

    settings = get_settings()
    with evolve_errors():
        memory = memory_store()
        bench = Workbench.from_settings(settings, memory, use_llm_replay=llm_replay)
        try:
            edit = hand_edit(memory, bench.library, name)
        except NothingToRecord as exc:
            say(str(exc))
            return
        say(f"{edit.path or name}: {name} as v{edit.version}{edit.number_line}, against {edit.base_label}")
        show_diff(edit.diff or "identical\n")
        report = with_status(f"replaying {name} v{edit.version} against its cases and regression set ...",
                             lambda: bench.replay_hand_edit(edit))
        _show_replay(report)
        if not report.accepted:
            say(_refused_edit_in_use(edit))
            raise typer.Exit(1)
        if not yes:
            typer.confirm(f"Record {name} v{edit.version}?", abort=True)
        record = record_edit(memory, edit, message=message, author=author())
    say(f"recorded {name} v{record.version} ({record.reason}), the active version; {edit.path} is unchanged")
