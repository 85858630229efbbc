"""``bianque serve``: the HTTP service (webhook, investigations, cases), optionally with the scheduler."""

from __future__ import annotations

import ipaddress
import socket
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape

from agent.cli.common import err_console, fail, settings_errors, user_errors, warn
from agent.cli.notify import notification_line
from agent.config import get_settings
from agent.memory import DatabaseUnavailableError, DatabaseURLError


class LogLevel(StrEnum):
    """uvicorn's log levels (a name it does not know was a KeyError traceback)."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"
    TRACE = "trace"


def check_listen(host: str, port: int) -> None:
    """Exit 2 naming why ``host:port`` cannot be listened on (taken, or no address of this machine), before anything
    starts: uvicorn found out only after the workers (and the scheduler) had started, and exited 3, which this
    CLI's exit codes read as "could not judge"."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


def loopback(host: str) -> bool:
    """Whether ``host`` is this machine's loopback only: ``localhost`` or an address of 127.0.0.0/8 or ``::1``."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any address
        return False


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8765,
    with_scheduler: Annotated[
        bool, typer.Option("--with-scheduler", help="Also run scheduled inspections in this process.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Record events and cases but query no data (to test wiring).")
    ] = False,
    log_level: Annotated[LogLevel, typer.Option(help="uvicorn log level.", case_sensitive=False)] = LogLevel.INFO,
) -> None:
    """Serve the HTTP API (see docs/api.md); Ctrl-C stops it."""
    import uvicorn

    from agent.api.app import create_app
    from agent.api.dryrun import DryRunInvestigator
    from agent.api.settings import ApiSettings
    from agent.memory import Memory
    from agent.notify.digest import DigestSettingError, digest_trigger
    from agent.runtime import topology_warnings

    with settings_errors(ApiSettings):  # a bad BIANQUE_* variable: its name and why, before anything starts
        settings = get_settings()
        api = ApiSettings()
    with user_errors(DigestSettingError):  # the digest's crontab, read before anything starts
        digest_trigger(settings)
    check_listen(host, port)
    with user_errors(DatabaseURLError, DatabaseUnavailableError):
        memory = Memory(settings.resolved_database_url)
        investigator = DryRunInvestigator(memory) if dry_run else None
        app = create_app(settings, investigator, api=api, memory=memory, with_scheduler=with_scheduler)
    if not settings.prometheus_url and not dry_run:
        err_console.print("[yellow]no metric source configured (set BIANQUE_PROMETHEUS_URL): investigations see "
                          "no metrics, and one with no log lines either answers \"could not judge\" "
                          "(an alert needs attention, a change is held)[/]")
    err_console.print(escape(notification_line(settings)))
    if settings.topology_file is not None:
        for warning in topology_warnings(settings.topology_file):  # investigations' notes repeat them
            warn(warning)
    if not loopback(host) and api.token is None:
        err_console.print(f"[yellow]listening on {escape(host)} without BIANQUE_API_TOKEN: anyone reaching it can "
                          "read cases and write (investigations, corrections, changes, Skills); set "
                          "BIANQUE_API_TOKEN to require a bearer token[/]")
    try:
        # in-flight requests get the stop grace the workers get (SIGTERM had waited for the slowest request)
        uvicorn.run(app, host=host, port=port, log_level=log_level.value, timeout_graceful_shutdown=api.stop_grace_s)
    finally:
        memory.close()


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the root CLI."""
    app.command()(serve)
