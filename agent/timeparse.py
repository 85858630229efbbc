"""Timestamps and durations as the bundle contract defines them."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
LATEST_SECONDS = 1e11  # Unix seconds in the year 5138: a larger number counts milliseconds (or finer)


class NotSecondsError(ValueError):
    """A number far too large for Unix seconds: milliseconds, microseconds or nanoseconds."""


def checked_seconds(ts: float) -> float:
    """``ts`` when it can be Unix seconds; ``ValueError`` for NaN or an infinity, ``NotSecondsError`` naming the
    likely unit for a number too far from 1970 (epoch milliseconds, micro- or nanoseconds)."""
    if not math.isfinite(ts):
        raise ValueError(f"not a finite time: {ts!r}")
    if abs(ts) < LATEST_SECONDS:
        return ts
    unit = "milliseconds" if abs(ts) < LATEST_SECONDS * 1e3 else (
        "microseconds" if abs(ts) < LATEST_SECONDS * 1e6 else "nanoseconds")
    where = "large" if ts > 0 else "far before 1970"
    raise NotSecondsError(f"{ts:.0f} is too {where} for Unix seconds: it looks like {unit}; write seconds "
                          "(fractions allowed) or RFC 3339 text")


def to_epoch(value: object) -> float:
    """Unix seconds from an int/float, a numeric string, an RFC 3339 string or a datetime.

    A number too large for seconds (epoch milliseconds, as many exporters write) raises ``NotSecondsError``
    rather than being read as a date thousands of years ahead."""
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        try:
            return checked_seconds(float(value))
        except OverflowError:  # an integer beyond any float: no unit makes it a time
            raise NotSecondsError(f"a {len(str(abs(value)))}-digit number is far too large for Unix seconds") from None
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return dt.timestamp()
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            pass
        else:
            return checked_seconds(number)
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"not a Unix or RFC 3339 timestamp: {value!r}") from exc
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()
    raise ValueError(f"not a timestamp: {value!r}")


def to_rfc3339(epoch: float) -> str:
    """RFC 3339 UTC text for Unix seconds."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_duration(value: str | int | float) -> float:
    """Seconds from ``90``, ``"30m"``, ``"2h"``, ``"1d"``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"not a duration (use e.g. 30s, 15m, 2h, 1d): {value!r}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
