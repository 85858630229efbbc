"""Crontab expressions (5 fields, UTC) read as crontab(5) reads them, as APScheduler 3 triggers.

APScheduler 3's ``CronTrigger.from_crontab`` numbers weekdays from Monday (0) where crontab numbers them
from Sunday (0, and 7 too): ``0 2 * * 1``, Mondays at 02:00 in crontab, fired on Tuesdays, and ``7`` was
refused. The weekday field is therefore translated to weekday names before APScheduler reads it. And where
crontab runs a command when the day of the month *or* the weekday matches (both restricted: neither starts
with ``*``), a CronTrigger needs both: ``0 9 1 * 1`` is then the union of two triggers.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

TIMEZONE = "UTC"
FIELDS = ("minute", "hour", "day", "month", "day_of_week")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab's numbering: 0 (and 7) is Sunday


def cron_trigger(cron: str) -> BaseTrigger:
    """A 5-field crontab in UTC as an APScheduler trigger (ValueError when it is not one)."""
    if len(fields := cron.split()) != 5:
        raise ValueError(f"expected 5 fields (minute hour day month weekday), got {len(fields)}")
    values = dict(zip(FIELDS, fields, strict=True))
    for field, label in zip(FIELDS[:4], ("minute", "hour", "day of the month", "month"), strict=True):
        try:
            CronTrigger(**{field: values[field]}, timezone=TIMEZONE)
        except ValueError as exc:  # APScheduler's message names the value but not which field it is
            detail = re.sub(r"^Error validating expression '[^']*': ", "", str(exc))
            raise ValueError(f"{label} {values[field]!r}: {detail}") from None
    values["day_of_week"] = weekday_names(values["day_of_week"])
    trigger = CronTrigger(**values, timezone=TIMEZONE)
    if values["day"].startswith("*") or fields[4].startswith("*"):
        if trigger.get_next_fire_time(None, datetime.now(UTC)) is None:  # else stored as a job that never runs
            raise ValueError(f"never fires: no month {fields[3]!r} has a day {fields[2]!r}")
        return trigger
    return OrTrigger([CronTrigger(**{**values, "day_of_week": "*"}, timezone=TIMEZONE),
                      CronTrigger(**{**values, "day": "*"}, timezone=TIMEZONE)])


def weekday_names(field: str) -> str:
    """A crontab weekday field (``0``-``7``, 0 and 7 Sunday; names; ranges, lists, steps) as the weekday names
    APScheduler reads (``1-5`` -> ``mon,tue,wed,thu,fri``; ``*`` stays ``*``)."""
    if field == "*":
        return field
    days: set[int] = set()
    for item in field.split(","):
        span, slash, step_text = item.partition("/")
        step = _step(step_text, field) if slash else 1
        if span == "*":
            first, last = 0, 7
        else:
            start, dash, end = span.partition("-")
            first = _weekday(start, field)
            last = _weekday(end, field, end_of_range=first > 0) if dash else (7 if slash else first)
            if last < first:
                raise ValueError(f"weekday {field!r}: the range {span!r} runs backwards (0 and 7 are Sunday)")
        days.update(day % 7 for day in range(first, last + 1, step))
    return "*" if len(days) == 7 else ",".join(WEEKDAYS[day] for day in sorted(days))


def _weekday(text: str, field: str, *, end_of_range: bool = False) -> int:
    """A weekday number 0-7 or name (``sun``, ``Mon``); a range from Monday on ending in ``sun`` ends at 7
    (``sat-sun``; ``sun-sun`` is Sunday alone)."""
    name = text.lower()
    if name in WEEKDAYS:
        return 7 if end_of_range and name == "sun" else WEEKDAYS.index(name)
    if text.isdigit() and int(text) <= 7:
        return int(text)
    raise ValueError(f"weekday {field!r}: {text!r} is no weekday (0-7, 0 and 7 Sunday, or sun, mon, ... sat)")


def _step(text: str, field: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise ValueError(f"weekday {field!r}: the step {text!r} is not a whole number above 0")
    return int(text)
