"""Telling people of background results: scheduled inspections and the alerts ``bianque serve`` investigates are
posted to a webhook (``BIANQUE_NOTIFY_URL``) when they need attention, or always (``BIANQUE_NOTIFY_ON=all``).

:mod:`agent.notify.message` says what a result means in a notification; :mod:`agent.notify.delivery` posts it.
"""

from agent.notify.delivery import Delivery, Notifier, notifier_for
from agent.notify.message import Notice, failure_notice, result_notice, test_notice

__all__ = ["Delivery", "Notice", "Notifier", "failure_notice", "notifier_for", "result_notice", "test_notice"]
