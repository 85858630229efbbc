"""``agent.cli.common.print_table``: a table written to a file or a pipe keeps each row on one line, its words whole;
a terminal fits it to its width as before."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from agent.cli.common import print_table

LONG = "a-service-name-long-enough-that-two-of-them-pass-80-columns"


def printed(*, terminal: bool, unfolded: bool = False) -> list[str]:
    """The lines of a table of long names printed to an 80-column file, or terminal."""
    table = Table(title="services")
    for name in ("caller", "callee", "state"):
        table.add_column(name, overflow="fold")
    table.add_row(LONG, LONG, "unknown")
    out = io.StringIO()
    print_table(table, Console(file=out, width=80, force_terminal=terminal, color_system=None), unfolded=unfolded)
    return out.getvalue().splitlines()


def test_a_file_or_pipe_gets_each_row_on_one_line_with_its_words_whole():
    [row] = [line for line in printed(terminal=False) if LONG in line]
    assert row.count(LONG) == 2 and "unknown" in row


def test_a_terminal_gets_the_table_fitted_to_its_width_unless_unfolded():
    lines = printed(terminal=True)
    assert max(map(len, lines)) <= 80 and not any(LONG in line for line in lines)
    [row] = [line for line in printed(terminal=True, unfolded=True) if LONG in line]
    assert row.count(LONG) == 2


def test_cells_and_title_from_the_data_print_as_written_never_as_markup():
    """A service name or help text from a bundle or a PromQL server (``gw[/]x``, ``[link=…]``) is text: it ended
    ``bianque catalog`` with a MarkupError, or became a hidden terminal hyperlink."""
    for terminal in (True, False):
        table = Table(title="bundle [/]x")
        table.add_column("service")
        table.add_row("gw[/]x")
        table.add_row("[link=http://evil.example]gw[/link] :smile:")
        out = io.StringIO()
        print_table(table, Console(file=out, width=80, force_terminal=terminal, color_system=None))
        text = out.getvalue()
        assert "bundle [/]x" in text and "gw[/]x" in text
        assert "[link=http://evil.example]gw[/link] :smile:" in text and "\x1b]8;" not in text
