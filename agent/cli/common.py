"""Options and output helpers shared by every CLI command."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from agent.cli.printable import printable_console

console = printable_console()
err_console = printable_console(stderr=True)
T = TypeVar("T")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a rendered report.")]
BundleOption = Annotated[
    Path | None,
    typer.Option("--bundle", "-b", help="A case bundle directory to use as the data source.",
                 exists=True, file_okay=False, dir_okay=True),
]
SkillOption = Annotated[str | None, typer.Option("--skill", help="Use this Skill instead of selecting one.")]
DEFAULT_MAX_BUNDLES = 1000
MaxBundlesOption = Annotated[int, typer.Option(
    "--max-bundles", min=0,
    help="Stop, taking none, when the directories hold more bundles than this (0: no limit): a walk of the wrong "
         "directory (a home, /tmp) would otherwise go on for ever.")]
BAD_INPUT_EXIT = 2  # every command: what it was given cannot be used (fail's default)
COULD_NOT_JUDGE_EXIT = 3  # rca / intercept / inspect: the data could not answer (the verdict's judged is false)


def exit_if_not_judged(verdict: Any) -> None:
    """Exit with COULD_NOT_JUDGE_EXIT (saying why) when the verdict could not judge; return otherwise."""
    if not verdict.judged:
        err_console.print(f"[yellow]could not judge[/] (exit code {COULD_NOT_JUDGE_EXIT}): {escape(verdict.summary)}")
        raise typer.Exit(COULD_NOT_JUDGE_EXIT)


_ERROR_SUBJECT: ContextVar[str | None] = ContextVar("error_subject", default=None)


@contextmanager
def errors_about(subject: str) -> Iterator[None]:
    """Errors :func:`fail` prints in the block name ``subject`` first (``error: alert 2 of 3 (DiskFull, service
    gateway): …``): for a command doing several things, each of which may fail on its own."""
    token = _ERROR_SUBJECT.set(subject)
    try:
        yield
    finally:
        _ERROR_SUBJECT.reset(token)


def fail(message: str, code: int = BAD_INPUT_EXIT) -> NoReturn:
    """Print a clear error and exit non-zero (no traceback). ``message`` is plain text: brackets in it
    (``pkg[extra]``, ``alerts[3]``, a log line) are printed as they are, never read as markup."""
    subject = _ERROR_SUBJECT.get()
    message = f"{subject}: {message}" if subject else message
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def warn(message: object) -> None:
    """A warning line on stderr; ``message`` is plain text (it may quote a file or a server's answer), never markup."""
    err_console.print(f"warning: {message}", style="yellow", markup=False, highlight=False, soft_wrap=True)


def bundles_or_exit(paths: Sequence[Path], limit: int, code: int = 1) -> list[Path]:
    """The bundles at or under ``paths`` (``agent.bundles.validate.find_bundles``; a spinner counts them on a
    terminal); exit ``code`` with a message when there are none or more than ``limit`` (0: no limit)."""
    from agent.bundles.validate import TooManyBundlesError, find_bundles

    where = ", ".join(map(str, paths))
    looking = f"looking for case bundles under {where}"
    try:
        with err_console.status(Text(looking)) as status:
            bundles = find_bundles(paths, limit=limit or None,
                                   on_found=lambda count: status.update(Text(f"{looking}: {count} found")))
    except TooManyBundlesError as exc:
        fail(f"more than {limit} case bundles under {where} (stopped looking at {exc.at}): is it the right "
             "directory? Give the bundles' own directory, or --max-bundles 0 to take them all", code)
    if not bundles:
        fail(f"no case bundles (directories with an event.yaml) under {where}", code)
    return bundles


@contextmanager
def user_errors(*kinds: type[BaseException]) -> Iterator[None]:
    """Turn expected failures (bad files, bad input) into clean CLI errors."""
    try:
        yield
    except kinds as exc:
        fail(str(exc))


def knowledge_errors() -> tuple[type[Exception], ...]:
    """The knowledge store's expected failures (unreachable, unreadable, an embedding model that cannot answer),
    for :func:`user_errors`."""
    from agent.knowledge.embedding import EmbeddingModelError
    from agent.knowledge.store import KnowledgeStoreError

    return KnowledgeStoreError, EmbeddingModelError


@contextmanager
def settings_errors(*models: type[Any]) -> Iterator[None]:
    """A setting that does not validate (``get_settings``' SettingsError, or one of ``models``, pydantic-settings
    classes): a clean error naming its environment variable and what it got (never a secret's value), no
    traceback."""
    from pydantic import ValidationError

    from agent.config import SettingsError, invalid_settings

    try:
        yield
    except SettingsError as exc:
        fail(str(exc))
    except ValidationError as exc:
        model = next((m for m in models if m.__name__ == exc.title), None)
        if model is None:
            raise
        fail(str(invalid_settings(exc, model)))


@contextmanager
def database_errors() -> Iterator[None]:
    """A memory database that cannot be used (a bad URL; a server that refuses, times out, rejects the login or
    lacks the database; one that goes away mid-run; a schema that is not current) or a value it refuses to store,
    whichever command opened it: one line naming it (never its password) and why, exit 2, not a traceback (nor the
    statement and its values). A driver error mid-run names the configured
    database: the memory, the checkpointer and the job store all live there (the observability store names itself in
    its own errors)."""
    try:
        yield
    except Exception as exc:
        from agent.config import get_settings
        from agent.memory.db import DatabaseURLError, database_problem, refused_row

        if isinstance(exc, DatabaseURLError):
            fail(str(exc))
        url = get_settings().resolved_database_url
        problem = database_problem(url, exc) or refused_row(url, exc)
        if problem is None:
            raise
        fail(problem)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


UNFOLDED_MAX = 10_000  # the widest line of a table printed unfolded (a file, a pipe, `schedule list --wide`)


def print_table(table: Table, out: Console | None = None, *, unfolded: bool = False) -> None:
    """Print ``table`` on ``out`` (default :data:`console`). A terminal fits it to its width (``unfolded``: not, its
    lines as wide as the table, as ``kubectl get -o wide``); a file or a pipe always gets it unfolded, each row on
    its own lines with every word whole, never folded to 80 columns ("unkno / wn") that grep and scripts cannot
    read. Its title and cells print as written: text from the data (``gw[/]x``, ``[link=…]``) is never markup; a
    cell that is styled is a :class:`rich.text.Text`."""
    out = out or console
    literal = printable_console(file=out.file, width=out.width, force_terminal=out.is_terminal,
                                color_system=out.color_system, markup=False, emoji=False)
    if out.is_terminal and not unfolded:
        literal.print(table)
        return
    width = literal.measure(table, options=literal.options.update_width(UNFOLDED_MAX)).maximum
    printable_console(file=out.file, width=max(width, out.width), force_terminal=out.is_terminal,
                      color_system=out.color_system, markup=False, emoji=False).print(table)


def _write_as_is(out: Console, text: str) -> None:
    """``text`` to ``out``'s file exactly as it is: no wrapping, no styling, tabs and trailing spaces kept."""
    out.file.write(text)
    out.file.flush()


def print_syntax(text: str, lexer: str, out: Console | None = None) -> None:
    """Skill YAML (``lexer`` "yaml") or a unified diff ("diff") on ``out`` (default :data:`console`). A terminal
    gets it highlighted and wrapped to its width; a file or a pipe gets the text byte for byte (``skills show NAME >
    f.yaml`` writes the Skill's file, never lines folded at 80 columns that are no longer YAML)."""
    out = out or console
    if out.is_terminal:
        out.print(Syntax(text, lexer, theme="ansi_dark", word_wrap=True))
    else:
        _write_as_is(out, text)


def print_markdown(text: str, out: Console | None = None) -> None:
    """A markdown report on ``out`` (default :data:`console`): rendered on a terminal; a file or a pipe gets the
    markdown itself, its lines whole (a long path or log line is not folded at 80 columns)."""
    out = out or console
    if out.is_terminal:
        out.print(Markdown(text))
    else:
        _write_as_is(out, text if text.endswith("\n") else f"{text}\n")


def with_status(message: str, work: Callable[[], T]) -> T:
    """Run ``work`` behind a spinner (long steps always show progress)."""
    with console.status(message):
        return work()


@contextmanager
def first_use_progress(what: str) -> Iterator[Callable[[int, int, str], None]]:
    """A progress callback ``(done, total, item)`` that shows a bar on stderr only once it is first called
    (the one-time work of a first run, e.g. embedding the handbook into a new knowledge store), and goes when
    ``done`` reaches ``total`` (the work that follows in the same block prints as usual) or the block ends."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err_console,
                        transient=True)
    task: list[Any] = []

    def advance(done: int, total: int, item: str) -> None:
        if not task:
            progress.start()
            task.append(progress.add_task(what, total=total))
        progress.update(task[0], completed=done, total=total, description=f"{what}: {escape(item)}")  # a file name
        if done >= total:
            progress.stop()

    try:
        yield advance
    finally:
        if task:
            progress.stop()
