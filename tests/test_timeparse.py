"""Timestamps: Unix seconds or RFC 3339; a number too large for seconds is refused naming its likely unit."""

from __future__ import annotations

import pytest

from agent.timeparse import NotSecondsError, to_epoch


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(1661142543, 1661142543.0), ("1661142543.25", 1661142543.25), ("2022-08-22T04:29:03Z", 1661142543.0),
     (0, 0.0), (-86400, -86400.0)],
)
def test_seconds_and_rfc3339_are_read(value, seconds):
    assert to_epoch(value) == seconds


@pytest.mark.parametrize(
    ("value", "unit"),
    [(1661142543000, "milliseconds"), ("1661142543000000", "microseconds"), (1.661e18, "nanoseconds")],
)
def test_finer_units_are_refused_by_name(value, unit):
    with pytest.raises(NotSecondsError, match=f"too large for Unix seconds: it looks like {unit}"):
        to_epoch(value)


@pytest.mark.parametrize("value", [float("inf"), "nan", "-inf", "1e400"])
def test_non_finite_numbers_are_no_time(value):
    with pytest.raises(ValueError, match="not a finite time"):
        to_epoch(value)


def test_numbers_beyond_any_unit_are_refused_without_a_traceback():
    with pytest.raises(NotSecondsError, match="401-digit number is far too large"):
        to_epoch(10**400)
    with pytest.raises(NotSecondsError, match="too far before 1970 for Unix seconds: it looks like milliseconds"):
        to_epoch(-1661142543000)
