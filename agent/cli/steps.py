"""While an investigation runs: a spinner line on stderr naming its step (only on a terminal), and what Ctrl-C left."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.status import Status

from agent.cli.common import err_console

if TYPE_CHECKING:  # the graph (langgraph) is imported when a command investigates, not when the CLI starts
    from agent.graph.build import StepHook

INTERRUPTED_EXIT = 130  # 128 + SIGINT, as a shell reports a command Ctrl-C stopped


@contextmanager
def investigation_steps() -> Iterator[StepHook | None]:
    """An ``on_step`` callback showing "Investigating: <what> (step/steps)" on stderr from the first step until the
    block ends (not before: a first use's embedding bar may come first, and one live display shows at a time);
    None when stderr is no terminal (a pipe or a log file gets no spinner frames)."""
    if not err_console.is_terminal:
        yield None
        return
    shown: list[Status] = []

    def show(step: int, steps: int, what: str) -> None:
        line = f"Investigating: {what} ({step}/{steps}) …"
        if shown:
            shown[0].update(line)
            return
        shown.append(err_console.status(line))
        shown[0].start()

    try:
        yield show
    finally:
        if shown:
            shown[0].stop()


@contextmanager
def interrupted_case_named() -> Iterator[None]:
    """Ctrl-C mid-investigation ends the command with exit 130 and the case it left unfinished, named with the
    command that finishes it (before the case was opened, it ends as any Ctrl-C does)."""
    from agent.investigate import InvestigationInterrupted

    try:
        yield
    except InvestigationInterrupted as exc:
        err_console.print(f"interrupted: case {exc.case_id} is left unfinished; `bianque cases resume {exc.case_id}` "
                          "finishes it from its last finished step", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(INTERRUPTED_EXIT) from None
