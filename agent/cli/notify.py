"""``bianque notify``: where background results are posted, and a test post to check it arrives."""

from __future__ import annotations

import socket

import typer

from agent.cli.common import console, err_console, fail, settings_errors
from agent.config import Settings, get_settings

notify_app = typer.Typer(help="Notifications of background results (scheduled inspections, alerts `serve` "
                              "investigates): see docs/notifications.md.", no_args_is_help=True)


def notification_line(settings: Settings) -> str:
    """One line saying where background results go: what `serve` and `schedule start` print as they start."""
    from agent.notify import Notifier

    return f"notifications: {Notifier.from_settings(settings).describe()}"


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


def register(app: typer.Typer) -> None:
    """Add ``notify`` to the root CLI."""
    app.add_typer(notify_app, name="notify")
