"""Human-readable pieces of Finding summaries: values with units, changes, times, untrusted text."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from agent.series import Series

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def fmt_value(metric: str | None, value: float, per_second: bool = False) -> str:
    """A value in the metric's unit: ``0.42s``, ``180ms`` (of ``_seconds``, ``_milliseconds``, ``_ms``), ``1.2GiB``,
    ``93.0%``, else 3 significant digits; ``/s`` after it for a count read as its rate (``per_second``, or a
    ``_total``: ``agent.detectors.counters``)."""
    name = (metric or "").lower()
    if math.isnan(value) or math.isinf(value):
        return str(value)
    text = _in_unit(name, value)
    return f"{text}/s" if per_second or name.endswith("_total") else text


def fmt_of(series: Series, value: float) -> str:
    """``value`` in the unit of ``series`` (``fmt_value``), per second when it is a count read as its rate."""
    return fmt_value(series.metric, value, series.per_second)


def _in_unit(name: str, value: float) -> str:
    if name.endswith("_seconds"):
        return _duration(value)
    if name.endswith(("_milliseconds", "_ms")):  # istio's request_duration_milliseconds, gc_pause_ms
        return _duration(value / 1000.0)
    if name.endswith("_bytes"):
        size, unit = abs(value), 0
        while size >= 1024 and unit < len(_BYTE_UNITS) - 1:
            size, unit = size / 1024, unit + 1
        return f"{'-' if value < 0 else ''}{size:.1f}{_BYTE_UNITS[unit]}"
    if name.endswith("_percent"):
        return f"{value:.1f}%"
    return f"{value:.3g}"


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f}ms" if abs(seconds) < 1 else f"{seconds:.2f}s"


def fmt_change(rel: float) -> str:
    """``+133%`` / ``-40%`` / ``from 0``."""
    if math.isinf(rel):
        return "from 0"
    return f"{rel * 100:+.0f}%"


def fmt_time(ts: float | None) -> str:
    """``HH:MM`` in UTC (the window is on the Finding; the summary only needs the clock time)."""
    if ts is None:
        return "?"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%H:%M")


def fmt_duration(seconds: float) -> str:
    """``45s``, ``12m``, ``3.5h``, ``2.0d``."""
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def untrusted(text: str, limit: int = 120) -> str:
    """Log text made safe for a one-line summary: control characters collapsed, length capped, quoted."""
    flat = _CONTROL.sub(" ", text).strip()
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return '"' + flat.replace('"', "'") + '"'


def subject_of(series: Series) -> str:
    """``service/instance`` when the series is one instance's, else the service (or the metric)."""
    service = series.service or series.metric
    instance = series.labels.get("instance") or series.labels.get("pod")
    return f"{service}/{instance}" if instance else service


def fmt_offset(seconds: float) -> str:
    """A history offset as a compact tag: ``1d``, ``7d``, ``2h``, ``30m``, ``45s``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
