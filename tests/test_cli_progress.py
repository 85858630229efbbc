"""Progress on a first run's one-time work."""

from __future__ import annotations

import io

from rich.console import Console

from agent.cli import common


def test_first_use_progress_shows_only_when_there_is_work(monkeypatch):
    """A first run's one-time work (embedding the handbook) shows a bar on stderr; a run with none shows nothing."""
    for called in (False, True):
        out = io.StringIO()
        monkeypatch.setattr(common, "err_console", Console(file=out, force_terminal=True, width=100))
        with common.first_use_progress("embedding the handbook") as advance:
            if called:
                advance(1, 3, "runbooks/disk.md")
        assert ("embedding the handbook: runbooks/disk.md" in out.getvalue()) == called
