"""A spinner line on stderr naming the investigation's step as it runs (only on a terminal)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.status import Status

from agent.cli.common import err_console
from agent.graph.build import StepHook


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
