"""Consoles that never pass a control character from the data to the terminal.

Rich escapes markup, not terminal control sequences: an alert annotation, a log line or a PromQL server's help text
holding ``ESC]52;c;…`` (write the clipboard), ``ESC]0;…`` (the window title), ``ESC[2J`` or a carriage return reached
the terminal as written. Every segment of text a console renders has its control characters replaced by U+FFFD; the
styles and cursor moves rich itself emits are not text and stay as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from rich.console import Console, ConsoleOptions, ConsoleRenderable, RenderHook, RichCast
from rich.segment import Segment

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 but tab and newline, DEL, C1
SHOWN = "\ufffd"


class _Printable:
    """``inner`` rendered with the control characters of its text replaced."""

    def __init__(self, inner: ConsoleRenderable | RichCast | str) -> None:
        self.inner = inner

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        for segment in console.render(self.inner, options):
            text, style, control = segment
            yield segment if control or not CONTROL.search(text) else Segment(CONTROL.sub(SHOWN, text), style)


class _PrintableHook(RenderHook):
    def process_renderables(self, renderables: list[ConsoleRenderable]) -> list[ConsoleRenderable]:
        return [_Printable(renderable) for renderable in renderables]


def printable_console(**options: Any) -> Console:
    """A :class:`rich.console.Console` (``options`` as its own) that prints no control character from the data."""
    console = Console(**options)
    console.push_render_hook(_PrintableHook())
    return console
