"""A log answer thinned to its line limit keeps the rates the detectors compare (agent.sources.sampling)."""

from __future__ import annotations

import numpy as np
import pytest

from agent.bundles.reader import CaseBundle
from agent.detectors.logs import detect_logs
from agent.detectors.trace_logs import detect_trace_evidence
from agent.events import Event, Pattern
from agent.series import LogRecord
from agent.sources.base import LogRequest
from agent.sources.bundle import BundleLogSource
from agent.sources.sampling import evenly, fair_quotas, kept, whole_traces, within_limit

T0 = 1_772_445_600.0
REFERENCE, CURRENT = (T0, T0 + 3300.0), (T0 + 3300.0, T0 + 3600.0)  # 55 minutes, then the 5 before the event


def test_evenly_keeps_exactly_the_limit_spread_over_the_whole_span_newest_included():
    items = list(range(1000))
    chosen, truncated = evenly(items, 10)
    assert truncated and len(chosen) == 10
    assert chosen[-1] == 999 and chosen[0] < 100  # both ends of the window are there
    assert set(np.diff(chosen)) == {100}
    assert evenly(items, 1000) == (items, False)
    assert [i for i in range(7) if kept(i, 7, 7)] == list(range(7))


def stream(rate_per_min: float, start: float, end: float, message: str, service: str = "orders",
           level: str = "INFO") -> list[LogRecord]:
    count = int(round(rate_per_min * (end - start) / 60.0))
    return [LogRecord(float(t), service, level, message) for t in np.linspace(start, end, count, endpoint=False)]


def bundle_of(lines: list[LogRecord]) -> CaseBundle:
    event = Event(pattern=Pattern.RCA, time=CURRENT[1], service="orders")
    return CaseBundle(path=None, event=event, series=[], logs=sorted(lines, key=lambda r: r.ts), changes=[])


def read(lines: list[LogRecord], limit: int, whole: bool = False) -> list[LogRecord]:
    request = LogRequest(("*",), REFERENCE[0], CURRENT[1], levels=(), limit=limit, whole_traces=whole)
    result = BundleLogSource(bundle_of(lines)).query(request)
    assert result.truncated == (len(lines) > limit)
    return result.data


def test_a_steady_busy_stream_cut_to_the_limit_shows_no_burst():
    """10,000 lines of a steady template in an hour, read 1,000 at most: no window looks busier than another
    (a cut keeping the oldest and newest halves made the last five minutes a 5x burst)."""
    lines = stream(10_000 / 60, REFERENCE[0], CURRENT[1], "GET /orders served in <NUM> ms")
    assert detect_logs(read(lines, 1000), baseline=REFERENCE, current=CURRENT) == []


def test_a_real_burst_in_a_busy_stream_survives_the_limit():
    lines = stream(100, REFERENCE[0], CURRENT[1], "GET /orders served in <NUM> ms")
    lines += stream(2, *REFERENCE, "retrying payment call", level="WARN")
    lines += stream(40, *CURRENT, "retrying payment call", level="WARN")
    findings = detect_logs(read(lines, 800), baseline=REFERENCE, current=CURRENT)
    assert [(f.kind.value, f.service) for f in findings] == [("log_burst", "orders")]
    assert "retrying payment call" in findings[0].summary


def traced(start: float, end: float, every: float, hops: list[str], prefix: str) -> list[LogRecord]:
    """One trace every ``every`` seconds, a line at each service of ``hops`` 10 ms apart."""
    lines = []
    for i, t in enumerate(np.arange(start, end, every)):
        trace = f"{prefix}{i:012x}"
        lines += [LogRecord(float(t) + 0.01 * k, svc, "INFO", f"{svc} handled call", trace_id=trace)
                  for k, svc in enumerate(hops)]
    return lines


def test_whole_traces_are_kept_whole_and_thinned_alike_in_both_windows():
    usual = ["gateway", "orders", "payment"]
    lines = traced(REFERENCE[0], CURRENT[1], 1.0, usual, "a" * 8)
    lines += stream(30, REFERENCE[0], CURRENT[1], "heartbeat", service="scheduler")  # no trace
    chosen = read(lines, 1200, whole=True)
    by_trace: dict[str, list[str]] = {}
    for line in chosen:
        if line.trace_id:
            by_trace.setdefault(line.trace_id, []).append(line.service)
    assert by_trace and all(hops == usual for hops in by_trace.values())
    assert len(chosen) <= 1200
    heartbeats = [line for line in chosen if line.service == "scheduler"]
    share = len(chosen) / len(lines)
    assert len(heartbeats) == pytest.approx(share * 1800, rel=0.1)  # untraced lines at the same share
    in_current = [t for t in by_trace if any(CURRENT[0] <= line.ts < CURRENT[1] for line in chosen
                                             if line.trace_id == t)]
    assert len(in_current) / len(by_trace) == pytest.approx(300 / 3600, rel=0.15)


def test_a_trace_path_change_is_found_in_a_busy_stream_read_to_the_limit():
    usual, broken = ["gateway", "orders", "payment"], ["gateway", "orders", "orders"]
    lines = traced(REFERENCE[0], CURRENT[0], 0.5, usual, "b" * 8)
    lines += traced(CURRENT[0], CURRENT[1], 0.5, broken, "c" * 8)
    every = detect_trace_evidence(lines, baseline=REFERENCE, current=CURRENT)
    thinned = detect_trace_evidence(read(lines, 2000, whole=True), baseline=REFERENCE, current=CURRENT)
    assert every and {f.service for f in thinned} == {f.service for f in every}
    steady = traced(REFERENCE[0], CURRENT[1], 0.5, usual, "d" * 8)
    assert detect_trace_evidence(read(steady, 2000, whole=True), baseline=REFERENCE, current=CURRENT) == []


def test_whole_traces_takes_a_trace_id_from_the_text_when_the_line_has_no_field():
    lines = [LogRecord(T0 + i, "orders", "INFO", f"handled TraceID: {i // 3:032x} step {i % 3}") for i in range(300)]
    chosen, truncated = whole_traces(lines, 30, lambda r: r.message.split()[2])
    assert truncated and len(chosen) == 30
    assert all(sum(1 for c in chosen if c.message.split()[2] == line.message.split()[2]) == 3 for line in chosen)
    from_source = read([LogRecord(T0 + i, "orders", "INFO", f"handled TraceID: {1 + i // 3:032x} step {i % 3}")
                        for i in range(300)], 30, whole=True)
    assert len(from_source) == 30
    assert {line.message.split()[-1] for line in from_source} == {"0", "1", "2"}


def test_traces_longer_than_the_share_shrink_the_budget_until_whole_traces_fit():
    """A share of the traces may hold more lines than that share of the lines: the budget shrinks in
    proportion, so whole traces are dropped rather than cut."""
    asked: list[int] = []

    def pick(budget: int) -> list[int]:  # the chosen traces are three times the average length
        asked.append(budget)
        return list(range(3 * budget))

    assert within_limit(60, pick) == list(range(60)) and asked == [60, 20]
    lines = []
    for i in range(200):
        hops = 20 if i % 10 == 0 else 2
        lines += [LogRecord(T0 + i + 0.01 * k, f"svc-{k}", "INFO", "handled", trace_id=f"{i:016x}")
                  for k in range(hops)]
    chosen, truncated = whole_traces(lines, 60, lambda r: r.trace_id)
    sizes: dict[str, int] = {}
    for line in chosen:
        sizes[line.trace_id] = sizes.get(line.trace_id, 0) + 1
    assert truncated and 0 < len(chosen) <= 60
    assert all(size == (20 if int(trace, 16) % 10 == 0 else 2) for trace, size in sizes.items())


def test_a_few_error_lines_beside_a_busy_stream_are_kept_whole_and_found():
    """12,000 steady WARN lines and six lines of a new ERROR template in the last minutes, read 2,000 at most:
    the small group keeps all its lines (thinned with the rest, none would be left)."""
    lines = stream(12_000 / 60, REFERENCE[0], CURRENT[1], "slow call to inventory", level="WARN")
    lines += stream(6 / 5, *CURRENT, "payment DB connection refused", level="ERROR")
    chosen = read(lines, 2000)
    assert sum(1 for line in chosen if line.level == "ERROR") == 6
    findings = detect_logs(chosen, baseline=REFERENCE, current=CURRENT)
    assert [(f.kind.value, "connection refused" in f.summary) for f in findings] == [("log_new_template", True)]
    assert fair_quotas({"error": 6, "warn": 12_000, "info": 50_000}, 2000) == {"error": 6, "warn": 997, "info": 997}
