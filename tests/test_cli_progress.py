"""Progress on a first run's one-time work."""

from __future__ import annotations

import io
import shutil

import pytest
from rich.console import Console
from typer.testing import CliRunner

from agent.cli import common
from agent.cli.app import app
from agent.config import PROJECT_ROOT, get_settings

SMALL_BUNDLE = PROJECT_ROOT / "tests" / "fixtures" / "bundles" / "small-rca"


def test_first_use_progress_shows_only_when_there_is_work(monkeypatch):
    """A first run's one-time work (embedding the handbook) shows a bar on stderr; a run with none shows nothing."""
    for called in (False, True):
        out = io.StringIO()
        monkeypatch.setattr(common, "err_console", Console(file=out, force_terminal=True, width=100))
        with common.first_use_progress("embedding the handbook") as advance:
            if called:
                advance(1, 3, "runbooks/disk.md")
        assert ("embedding the handbook: runbooks/disk.md" in out.getvalue()) == called


@pytest.mark.parametrize("page", ["runbooks/[/x].md", "runbooks/notes [v2].md"])
def test_first_use_progress_shows_a_page_name_as_it_is_never_as_markup(monkeypatch, page):
    """A handbook page's name is a file name, not markup: ``[/x]`` ended the first rca with a MarkupError traceback,
    ``[v2]`` vanished from the bar."""
    out = io.StringIO()
    monkeypatch.setattr(common, "err_console", Console(file=out, force_terminal=True, width=100))
    with common.first_use_progress("embedding the handbook") as advance:
        advance(1, 3, page)
    assert f"embedding the handbook: {page}" in out.getvalue()


def test_first_use_progress_goes_once_the_work_is_done(monkeypatch):
    """The bar is gone as soon as the one-time work is done, not left up through the work that follows."""
    out = io.StringIO()
    monkeypatch.setattr(common, "err_console", Console(file=out, force_terminal=True, width=100))
    with common.first_use_progress("embedding the handbook") as advance:
        advance(3, 3, "runbooks/disk.md")
        done = out.getvalue()
    assert "embedding the handbook" in done and out.getvalue() == done


def test_ask_shows_the_handbook_being_embedded_on_first_use(monkeypatch, bianque_home, tmp_path):
    handbook = tmp_path / "handbook" / "runbooks"
    handbook.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "knowledge" / "runbooks" / "slow-dependency.md", handbook)
    monkeypatch.setenv("BIANQUE_KNOWLEDGE_DIR", str(handbook.parent))
    get_settings.cache_clear()
    out = io.StringIO()
    monkeypatch.setattr(common, "err_console", Console(file=out, force_terminal=True, width=100))
    result = CliRunner().invoke(app, ["ask", "why is ranking slow?", "--bundle", str(SMALL_BUNDLE)])
    assert result.exit_code == 0, result.output
    assert "embedding the handbook (first use of this knowledge store): runbooks/slow-dependency.md" in out.getvalue()
