"""Timestamps and durations as the bundle contract defines them."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

_UNITS = {  # Prometheus / Go letters and the words people write
    **dict.fromkeys(("ms", "msec", "millisecond", "milliseconds"), 0.001),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600.0),
    **dict.fromkeys(("d", "day", "days"), 86400.0),
    **dict.fromkeys(("w", "wk", "week", "weeks"), 604800.0),
}
_PART = r"(\d+(?:\.\d+)?)\s*(" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")(?![a-z])"
_COMPOUND = re.compile(rf"^\s*(?:{_PART}\s*,?\s*)+$", re.IGNORECASE)
_PARTS = re.compile(_PART, re.IGNORECASE)
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")  # seconds
_ISO_OR_CLOCK = re.compile(r"^(-?P[0-9.WDTHMS]+|\d+:\d{2}:\d{2}(\.\d+)?)$", re.IGNORECASE)  # PT2H, 02:00:00
_MONTHS = re.compile(r"^(?![-pP])(?:.*\d)\s*M(?![a-zA-Z])")  # "1M" outside ISO 8601 (where P1M is a month)
DURATION_HELP = "use e.g. 30s, 15m, 2h, 1d, 1h30m, 90 minutes, ISO 8601 PT2H or 02:00:00"
LATEST_SECONDS = 1e11  # Unix seconds in the year 5138: a larger number counts milliseconds (or finer)
EPOCH_UNITS = ((1e17, 1e9, "nanoseconds"), (1e14, 1e6, "microseconds"), (LATEST_SECONDS, 1e3, "milliseconds"))
"""(least number, units a second, name): an epoch number read by its magnitude, the finest unit it reaches."""
LAST_TIME = 16725225600.0  # 2500-01-01T00:00:00Z: a later time is no timestamp of real data
LONGEST_DURATION_S = 3660 * 86400.0  # ten years: a longer window or offset is a slip (1e30 s had overflowed dates)


class NotSecondsError(ValueError):
    """A number that is a time in no epoch unit: beyond the year 2500 in seconds, milli-, micro- or nanoseconds,
    or too far before 1970."""


def checked_seconds(ts: float | int) -> float:
    """Unix seconds from an epoch number in seconds, or by its magnitude in milliseconds (from 1e11: no second
    count of a real date is that large), microseconds (from 1e14) or nanoseconds (from 1e17). ``ValueError`` for
    NaN or an infinity, ``NotSecondsError`` for a number that lands after the year 2500 (or, negative, before
    1970 by more than 1e11 seconds)."""
    if not math.isfinite(ts):
        raise ValueError(f"not a finite time: {ts!r}")
    if ts <= -LATEST_SECONDS:
        raise NotSecondsError(f"{_shown(ts)} is too far before 1970 for Unix seconds (or any finer unit)")
    seconds, unit = float(ts), "seconds"
    for least, per_second, name in EPOCH_UNITS:
        if ts >= least:
            seconds, unit = ts / per_second, name  # an int divides exactly rounded: nanoseconds keep their digits
            break
    if seconds > LAST_TIME:
        raise NotSecondsError(f"{_shown(ts)} is no time: read as Unix {unit} it is after the year 2500; write seconds "
                              "(fractions allowed), milli-, micro- or nanoseconds, or RFC 3339 text")
    return seconds


def written(value: object) -> str:
    """``value`` in a message as YAML and JSON write it (``true``, ``false``, ``null``), not as Python's ``True``;
    anything else as its ``repr`` (text quoted)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else repr(value)


def _shown(number: float | int) -> str:
    """A number in an error message: its digits, or its magnitude when there are too many."""
    return f"{number:.0f}" if abs(number) < 1e21 else f"{number:.3g}"


def to_epoch(value: object) -> float:
    """Unix seconds from an int/float (seconds, or milli-, micro- or nanoseconds by magnitude: ``checked_seconds``),
    a numeric string, an RFC 3339 string or a datetime."""
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {written(value)}")
    if isinstance(value, int | float):
        try:
            return checked_seconds(value)
        except OverflowError:  # an integer beyond any float: no unit makes it a time
            raise NotSecondsError(f"a {len(str(abs(value)))}-digit number is far too large for a time") from None
    if isinstance(value, datetime):
        return _before_2500((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp(), value)
    if isinstance(value, str):
        text = value.strip()
        try:
            number = int(text) if text.isdigit() else float(text)
        except ValueError:
            pass
        else:
            return to_epoch(number)
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"not a Unix or RFC 3339 timestamp: {written(value)}") from exc
        return _before_2500((dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp(), value)
    raise ValueError(f"not a timestamp: {written(value)}")


def _before_2500(seconds: float, value: object) -> float:
    """``seconds`` of a date written out, unless it is after the year 2500 (no timestamp of real data; read back as
    a number it would be taken for milliseconds)."""
    if seconds > LAST_TIME:
        raise NotSecondsError(f"{written(str(value))} is after the year 2500: no time of real data")
    return seconds


def to_rfc3339(epoch: float) -> str:
    """RFC 3339 UTC text for Unix seconds."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_short_utc(epoch: float) -> str:
    """A time in a narrow table cell: month, day, hour and minute in UTC (``12-14 02:00``), no year or seconds."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%m-%d %H:%M")


def parse_duration(value: str | int | float) -> float:
    """Seconds from a number of seconds (``90``), a Prometheus duration (``"30m"``, ``"2h"``, ``"1d"``, compound
    ``"1h30m"``), unit words (``"90 minutes"``, ``"2 hours"``), ISO 8601 (``"PT2H"``, ``"P1D"``) or
    ``"HH:MM:SS"``. A negative duration is refused."""
    text = str(value).strip()
    try:
        if isinstance(value, int | float) and not isinstance(value, bool) or _NUMBER.match(text):
            seconds = float(value)
        elif _MONTHS.search(text):
            raise ValueError(f"not a duration ({DURATION_HELP}): {written(value)}: M may mean minutes or months; "
                             "write m or min")
        elif _COMPOUND.match(text):
            seconds = sum(float(number) * _UNITS[unit.lower()] for number, unit in _PARTS.findall(text))
        elif _ISO_OR_CLOCK.match(text):
            seconds = _iso_or_clock(text)
        else:
            raise ValueError(f"not a duration ({DURATION_HELP}): {written(value)}")
    except OverflowError:  # an integer beyond any float
        raise ValueError(f"not a duration: {len(text)} digits is far too long") from None
    if not math.isfinite(seconds):
        raise ValueError(f"not a duration ({DURATION_HELP}): {written(value)} is not finite")
    if seconds < 0:
        raise ValueError(f"not a duration ({DURATION_HELP}): {written(value)} is negative")
    if seconds > LONGEST_DURATION_S:
        raise ValueError(f"not a duration ({DURATION_HELP}): {written(value)} is longer than ten years")
    return seconds


def _iso_or_clock(text: str) -> float:
    """Seconds from ISO 8601 (``PT2H``) or ``HH:MM:SS`` text (pydantic's reading of a timedelta)."""
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(timedelta).validate_python(text.upper()).total_seconds()
    except ValidationError:
        raise ValueError(f"not a duration ({DURATION_HELP}): {text!r}") from None
