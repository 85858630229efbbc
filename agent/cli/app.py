"""Root of the ``bianque`` CLI; sub-apps register themselves from their own modules."""

from __future__ import annotations

import faulthandler
import importlib
import signal

import typer

app = typer.Typer(
    name="bianque",
    help="Bian Que: an ops assistant for release interception, inspection and alert root-cause analysis.",
    no_args_is_help=True,
    add_completion=False,
)

# Each module exposes ``register(app)``; a module not written yet is simply absent.
COMMAND_MODULES = (
    "agent.cli.skills",
    "agent.cli.catalog",
    "agent.cli.sim",
    "agent.cli.knowledge",
    "agent.cli.bundles",
    "agent.cli.changes",
    "agent.cli.investigate",
    "agent.cli.evaluate",
    "agent.cli.cases",
    "agent.cli.schedule",
    "agent.cli.serve",
    "agent.cli.evolve",
    "agent.cli.ui",
    "agent.cli.llm",
    "agent.cli.notify",
)


def _register_all() -> None:
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        module.register(app)


_register_all()


def _print_version(value: bool) -> None:
    if value:
        from agent.version import __version__

        typer.echo(f"bianque {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Bian Que: an ops assistant for release interception, inspection and alert root-cause analysis."""


def dump_stacks_on_sigusr1() -> None:
    """Let ``kill -USR1 PID`` print every thread's stack to stderr (for a process that seems stuck)."""
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True, chain=False)


def main() -> None:
    """Console-script entry point. A ``BIANQUE_*`` variable that does not validate, whichever command first reads the
    settings, ends it with one line naming the variable and what it got (exit 2), not a traceback; so does a memory
    database that cannot be used (``common.database_errors``), naming it and why."""
    from agent.cli.common import database_errors, settings_errors

    dump_stacks_on_sigusr1()
    try:
        with settings_errors(), database_errors():
            app()
    except typer.Exit as exc:  # the clean exit of settings_errors or database_errors, raised outside any command
        raise SystemExit(exc.exit_code) from None
