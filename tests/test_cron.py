"""Crontab expressions read as crontab(5) reads them (agent.cron), not as APScheduler 3's from_crontab."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from agent.cron import cron_trigger, weekday_names

SATURDAY = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def next_days(cron: str, count: int = 7) -> list[str]:
    """The weekdays of the next ``count`` runs after a Saturday noon."""
    trigger, moment, days = cron_trigger(cron), SATURDAY, []
    for _ in range(count):
        moment = trigger.get_next_fire_time(None, moment)
        days.append(moment.strftime("%a"))
        moment = moment.replace(second=1)
    return days


@pytest.mark.parametrize(("cron", "days"), [
    ("0 2 * * 1", ["Mon"] * 3),
    ("0 2 * * 0", ["Sun"] * 3),
    ("0 2 * * 7", ["Sun"] * 3),
    ("0 2 * * 1-5", ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"]),
    ("0 2 * * mon-fri", ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"]),
    ("0 2 * * 6,0", ["Sun", "Sat", "Sun"]),
    ("0 2 * * sat-sun", ["Sun", "Sat", "Sun"]),
    ("0 2 * * sun-sun", ["Sun"] * 3),  # a range from Sunday to Sunday is Sunday, not the week
    ("0 2 * * 0-sun", ["Sun"] * 3),
    ("0 2 * * 5-7", ["Sun", "Fri", "Sat", "Sun"]),
    ("0 2 * * */2", ["Sun", "Tue", "Thu", "Sat", "Sun"]),
    ("0 2 1-31 * 1", ["Sun", "Mon", "Tue"]),  # every day of the month, or Mondays: every day
    ("0 2 */2 * 1", ["Mon"] * 2),  # a day field starting with '*' restricts nothing: Mondays only
    ("0 2 29 2 *", ["Tue"]),  # a leap day: rare, not never (29 February 2028)
    ("0 2 30 2 1", ["Mon"]),  # no 30 February, but every Monday
])
def test_weekdays_are_numbered_from_sunday_as_in_crontab(cron, days):
    assert next_days(cron, len(days)) == days


def test_a_day_of_the_month_or_a_weekday_fires_when_both_are_given():
    trigger, moment, runs = cron_trigger("0 9 1 * 1"), SATURDAY, []
    for _ in range(6):
        moment = trigger.get_next_fire_time(None, moment)
        runs.append(moment.strftime("%a %d %b %H:%M"))
        moment = moment.replace(second=1)
    assert runs == ["Mon 07 Dec 09:00", "Mon 14 Dec 09:00", "Mon 21 Dec 09:00", "Mon 28 Dec 09:00",
                    "Fri 01 Jan 09:00", "Mon 04 Jan 09:00"]


def test_weekday_fields_become_apscheduler_weekday_names():
    assert weekday_names("1-5") == "mon,tue,wed,thu,fri"
    assert weekday_names("0,7") == "sun"
    assert weekday_names("*") == weekday_names("0-7") == weekday_names("*/1") == "*"


@pytest.mark.parametrize(("cron", "message"), [
    ("0 2 * *", "expected 5 fields (minute hour day month weekday), got 4"),
    ("0 2 * * 8", "weekday '8': '8' is no weekday (0-7, 0 and 7 Sunday"),
    ("5 5 5 13 5", "month '13': the last value (13) is higher than the maximum value (12)"),
    ("5 5 0 5 5", "day of the month '0': the first value (0) is lower than the minimum value (1)"),
    ("61 * * * *", "minute '61': the last value (61) is higher than the maximum value (59)"),
    ("0 24 * * *", "hour '24': the last value (24) is higher than the maximum value (23)"),
    ("x * * * *", 'minute \'x\': Unrecognized expression "x" for field "minute"'),
    ("0 2 * * fri-mon", "weekday 'fri-mon': the range 'fri-mon' runs backwards"),
    ("0 2 * * */0", "weekday '*/0': the step '0' is not a whole number above 0"),
    ("0 2 30 2 *", "never fires: no month '2' has a day '30'"),
    ("0 2 31 4,6,9,11 *", "never fires: no month '4,6,9,11' has a day '31'"),
])
def test_malformed_crons_are_refused_saying_why(cron, message):
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        cron_trigger(cron)
