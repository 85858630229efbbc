"""Timestamps: Unix seconds (or milli-, micro-, nanoseconds by magnitude) or RFC 3339; a time after 2500 is refused.
Durations as Prometheus, people and ISO 8601 write them."""

from __future__ import annotations

import pytest

from agent.timeparse import NotSecondsError, parse_duration, to_epoch


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(1661142543, 1661142543.0), ("1661142543.25", 1661142543.25), ("2022-08-22T04:29:03Z", 1661142543.0),
     (0, 0.0), (-86400, -86400.0)],
)
def test_seconds_and_rfc3339_are_read(value, seconds):
    assert to_epoch(value) == seconds


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(1661142543000, 1661142543.0), ("1661142543250", 1661142543.25), ("1661142543000000", 1661142543.0),
     (1661142543250000.0, 1661142543.25), (1661142543123456789, 1661142543.123456789),
     ("1661142543000000000", 1661142543.0), (1.661e18, 1.661e9), (1e11, 1e8), (99999999999, None)],
)
def test_finer_units_are_read_by_magnitude(value, seconds):
    """From 1e11 (no second count of a real date) milliseconds, from 1e14 microseconds, from 1e17 nanoseconds;
    a number of seconds after the year 2500 is refused."""
    if seconds is None:
        with pytest.raises(NotSecondsError, match="read as Unix seconds it is after the year 2500"):
            to_epoch(value)
    else:
        assert to_epoch(value) == pytest.approx(seconds, abs=1e-6)


@pytest.mark.parametrize(
    ("value", "unit"),
    [(99999999999999, "milliseconds"), ("99999999999999999", "microseconds"), (1e20, "nanoseconds")],
)
def test_times_after_2500_in_any_unit_are_refused_by_name(value, unit):
    with pytest.raises(NotSecondsError, match=f"read as Unix {unit} it is after the year 2500"):
        to_epoch(value)


@pytest.mark.parametrize("value", [float("inf"), "nan", "-inf", "1e400"])
def test_non_finite_numbers_are_no_time(value):
    with pytest.raises(ValueError, match="not a finite time"):
        to_epoch(value)


def test_numbers_beyond_any_unit_are_refused_without_a_traceback():
    with pytest.raises(NotSecondsError, match="401-digit number is far too large"):
        to_epoch(10**400)
    with pytest.raises(NotSecondsError, match="1e\\+300 is no time"):
        to_epoch(10**300)
    with pytest.raises(NotSecondsError, match="too far before 1970 for Unix seconds"):
        to_epoch(-1661142543000)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90.0), ("7200", 7200.0), ("30s", 30.0), ("15m", 900.0), ("2h", 7200.0), ("1d", 86400.0), ("2w", 1209600.0),
     ("300ms", 0.3), ("1.5h", 5400.0), ("1h30m", 5400.0), ("1d12h", 129600.0), ("1h 30m", 5400.0),
     ("90 minutes", 5400.0), ("2 hours", 7200.0), ("90min", 5400.0), ("5 mins", 300.0), ("2H", 7200.0),
     ("PT2H", 7200.0), ("P1D", 86400.0), ("PT1H30M", 5400.0), ("pt1m", 60.0), ("02:00:00", 7200.0),
     ("1:30:00", 5400.0)],
)
def test_durations_as_prometheus_people_and_iso_8601_write_them(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "reason"),
    [("forever", "'forever'"), ("-5m", "'-5m'"), ("-PT1H", "is negative"), ("1M", "M may mean minutes or months"),
     ("2 fortnights", "'2 fortnights'"), ("", "''"), ("PT", "'PT'"), ("90:00", "'90:00'"),
     (float("inf"), "not finite"), (float("nan"), "not finite"), ("9" * 400 + "s", "not finite")],
)
def test_what_is_no_duration_is_refused_saying_what_is_read(text, reason):
    with pytest.raises(ValueError, match="not a duration") as refused:
        parse_duration(text)
    assert reason in str(refused.value) and "1h30m, 90 minutes, ISO 8601 PT2H" in str(refused.value)


def test_a_number_beyond_any_float_is_no_duration():
    with pytest.raises(ValueError, match="401 digits is far too long"):
        parse_duration(10**400)
