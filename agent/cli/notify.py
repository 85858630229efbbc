"""``bianque notify``: where background results are posted, a test post to check it arrives, and the digest of
alerts judged not needing attention."""

from __future__ import annotations

import socket
import time
from typing import Annotated

import typer
from rich.markup import escape

from agent.cli.common import console, err_console, fail, settings_errors, user_errors
from agent.config import Settings, get_settings
from agent.memory import DatabaseUnavailableError, DatabaseURLError
from agent.timeparse import to_rfc3339

notify_app = typer.Typer(help="Notifications of background results (scheduled inspections, alerts `serve` "
                              "investigates): see docs/notifications.md.", no_args_is_help=True)


def notification_line(settings: Settings) -> str:
    """One line saying where background results go: what `serve` and `schedule start` print as they start."""
    from agent.notify import Notifier

    notifier = Notifier.from_settings(settings)
    digest = f"; a digest of the alerts judged not needing attention on {settings.notify_digest!r} (UTC)" \
        if notifier.configured and settings.notify_digest else ""
    return f"notifications: {notifier.describe()}{digest}"


@notify_app.command("test")
def test() -> None:
    """Post a test notification to BIANQUE_NOTIFY_URL now and say whether it arrived (exit 1 when not, 2 when no URL
    is set)."""
    from agent.notify import Notifier, test_notice

    with settings_errors():
        settings = get_settings()
    notifier = Notifier.from_settings(settings)
    if not notifier.configured:
        fail("no notification URL is set: set BIANQUE_NOTIFY_URL to a webhook (a Slack or Mattermost incoming "
             "webhook, or any receiver of JSON), see docs/notifications.md")
    err_console.print(f"posting a test notification to {notifier.where} …")
    delivery = notifier.send(test_notice(f"`bianque notify test` on {socket.gethostname()}"), warn=False)
    if not delivery.delivered:
        fail(f"not delivered after {delivery.attempts} attempt(s): {delivery.problem}", code=1)
    console.print(f"delivered to {notifier.where}")


@notify_app.command("digest")
def digest(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be posted; post nothing, note nothing.")]
    = False,
) -> None:
    """Post the digest of the alerts judged not needing attention since the last digest now (what the scheduler posts
    on BIANQUE_NOTIFY_DIGEST), or show it (--dry-run). Nothing to list: nothing posted, exit 0; not delivered: exit
    1; no URL set (and no --dry-run): exit 2."""
    from agent.memory import Memory
    from agent.notify import Notifier
    from agent.notify.digest import pending_digest, post_digest, take_digest

    with settings_errors():
        settings = get_settings()
    notifier = Notifier.from_settings(settings)
    if not dry_run and not notifier.configured:
        fail("no notification URL is set: set BIANQUE_NOTIFY_URL (or show the digest with --dry-run), see "
             "docs/notifications.md")
    with user_errors(DatabaseURLError, DatabaseUnavailableError), Memory(settings.resolved_database_url) as memory:
        now = time.time()  # a run that posts takes its period: a scheduled digest beside it does not list it too
        pending = pending_digest(memory, now) if dry_run else take_digest(memory, now)
        if pending is None:
            console.print("nothing to post: the digest up to now was taken by another run (the scheduler's)")
            return
        if not pending.alerts:
            console.print(f"nothing to post: no alert judged not needing attention since "
                          f"{to_rfc3339(pending.since) if pending.since is not None else 'ever'}")
            return
        if dry_run:
            console.print(escape(pending.notice(settings.ui_url, settings.notify_digest_max).text))
            err_console.print(f"(dry run: not posted{f' to {notifier.where}' if notifier.configured else ''})")
            return
        delivery = post_digest(memory, notifier, pending, settings.notify_digest_max)
    if delivery is not None and not delivery.delivered:
        fail(f"not delivered after {delivery.attempts} attempt(s): {delivery.problem}", code=1)
    console.print(f"digest of {len(pending.alerts)} alert(s) delivered to {notifier.where}")


def register(app: typer.Typer) -> None:
    """Add ``notify`` to the root CLI."""
    app.add_typer(notify_app, name="notify")
