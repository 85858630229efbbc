"""An HTTP status in a series' labels says what the series counts: ``http_requests_total{code="503"}`` counts
failed requests, not work.

Prometheus-native systems count requests in one metric split by a status label (``code``, ``status``,
``response_code``, OpenTelemetry's ``http_response_status_code``): the 5xx series of a request counter is an
error count, the 2xx series the work done. Metric names alone say "requests" for both, so a rise of failures read
as a rise of traffic. The detectors read such a series under its name prefixed with the status class,
``5xx:http_requests_total``, as recording rules prefix a name (``graph.gathered.as_detected``, after a cumulative
counter is made a rate; the name's suffixes, ``_total`` or a unit, still say what they say): its words then say
what it is (``detectors.direction``: 5xx is bad when it rises; ``reasoners.faults``: an error family). What was
gathered keeps the source's names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# label names that carry an HTTP status (as exporters write them), in the order they are read
STATUS_LABELS = ("code", "status", "status_code", "response_code", "http_status", "http_code", "status_class",
                 "http_status_code", "http_response_status_code")
_STATUS_VALUE = re.compile(r"([1-5])(?:\d\d|[xX]{2})")  # 503, or a class: 5xx, 5XX


def status_class(labels: Mapping[str, str]) -> tuple[str, str] | None:
    """The first status label (``STATUS_LABELS``) whose value is an HTTP status or class, as (label, ``Nxx``); None
    without one."""
    for label in STATUS_LABELS:
        value = labels.get(label)
        if value and (found := _STATUS_VALUE.fullmatch(value.strip())):
            return label, f"{found[1]}xx"
    return None


def status_label(label_names: Iterable[str]) -> str | None:
    """The first of ``label_names`` that may carry an HTTP status (``STATUS_LABELS``), for a catalog that knows a
    metric's label names but not their values."""
    names = set(label_names)
    return next((label for label in STATUS_LABELS if label in names), None)


def status_named(metric: str, labels: Mapping[str, str]) -> str:
    """``metric`` prefixed with the status class its labels carry (``status_class``), ``Nxx:name``; the name as it
    is when they carry none."""
    found = status_class(labels)
    return f"{found[1]}:{metric}" if found else metric
