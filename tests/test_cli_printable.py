"""The CLI's consoles print no control character from the data: rich escapes markup, not terminal sequences."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from agent.cli import common, knowledge, sim, skills
from agent.cli.common import print_table
from agent.cli.printable import printable_console

# an alert annotation: write the clipboard (OSC 52, ended by ST), set the window title, clear the screen, and a
# carriage return that would print over the line's start
HOSTILE = "p99 high\x1b]52;c;ZWNobyBoaQ==\x1b\\ \x1b]0;owned\x1b\\ \x1b[2J\rfake line\x9b1m"


def _clean(text: str) -> bool:
    return not any(ch in text for ch in "\x1b\r\x9b") and "p99 high" in text and "fake line" in text


def test_a_console_replaces_the_datas_control_characters_but_prints_its_own_styles():
    out = io.StringIO()
    console = printable_console(file=out, force_terminal=True, color_system="standard", width=200)
    console.print(Markdown(f"# Report\n\nsummary: {HOSTILE}"))
    console.print(f"[bold]error:[/] {HOSTILE.replace('[', '')}")
    text = out.getvalue()
    assert "\x1b[1m" in text  # rich's own bold
    assert "]52;" in text and "\x1b]52" not in text and "\x1b]0" not in text and "\x1b[2J" not in text
    assert "\r" not in text and "\x9b" not in text and "\ufffd" in text
    plain = Console(file=io.StringIO(), force_terminal=True)
    plain.print(HOSTILE, markup=False, highlight=False)
    assert "\x1b]52" in plain.file.getvalue()  # what a plain rich console lets through


@pytest.mark.parametrize("module", [common, knowledge, sim, skills])
def test_every_cli_console_is_one(module):
    for console in (module.console, module.err_console):
        with console.capture() as captured:
            console.print(HOSTILE, markup=False)
            console.print(Markdown(HOSTILE))
        assert _clean(captured.get()), repr(captured.get())


@pytest.mark.parametrize("terminal", [True, False])
def test_a_table_cell_from_the_data_prints_no_control_character(terminal):
    table = Table(title=f"bundle {HOSTILE}")
    table.add_column("summary")
    table.add_row(HOSTILE)
    out = io.StringIO()
    print_table(table, Console(file=out, width=300, force_terminal=terminal, color_system=None))
    assert _clean(out.getvalue()), repr(out.getvalue())
