"""``agent.cli.common.print_syntax`` and ``print_markdown``: a file or a pipe gets the text exactly as it is (no
folding at 80 columns, no styling); a terminal gets it highlighted or rendered, fitted to its width."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from rich.console import Console
from rich.text import Text

from agent.cli.common import print_markdown, print_syntax

LONG = "a-value-long-enough-that-the-line-passes-eighty-columns-of-any-narrow-terminal-or-pipe"
YAML = f"name: x\ndescription: {LONG}  # a comment [bold]not markup[/bold]\nlabels:\n  key:\t'{LONG}'  \n"
MARKDOWN = f"# rca: alert X\n\n- a note naming /var/log/{LONG}/{LONG}.log\n\n| a | b |\n|---|---|\n| {LONG} | x |\n"


def printed(show: Callable[..., None], text: str, *, terminal: bool) -> str:
    """What ``show`` prints of ``text`` to an 80-column file, or terminal."""
    out = io.StringIO()
    show(text, out=Console(file=out, width=80, force_terminal=terminal, color_system="standard" if terminal else None))
    return out.getvalue()


@pytest.mark.parametrize("lexer", ["yaml", "diff"])
def test_syntax_out_of_a_terminal_is_the_text_byte_for_byte(lexer):
    assert printed(lambda text, out: print_syntax(text, lexer, out), YAML, terminal=False) == YAML
    assert printed(lambda text, out: print_syntax(text, lexer, out), "no final newline", terminal=False) == (
        "no final newline")


def test_syntax_on_a_terminal_is_highlighted_and_wrapped_to_its_width():
    shown = printed(lambda text, out: print_syntax(text, "yaml", out), YAML, terminal=True)
    assert "\x1b[" in shown and max(map(len, Text.from_ansi(shown).plain.splitlines())) <= 80


def test_markdown_out_of_a_terminal_is_the_markdown_itself_unwrapped():
    assert printed(print_markdown, MARKDOWN, terminal=False) == MARKDOWN
    assert printed(print_markdown, "no final newline", terminal=False) == "no final newline\n"


def test_markdown_on_a_terminal_is_rendered_to_its_width():
    shown = Text.from_ansi(printed(print_markdown, MARKDOWN, terminal=True)).plain
    assert "# rca" not in shown and "|---|" not in shown and max(map(len, shown.splitlines())) <= 80
