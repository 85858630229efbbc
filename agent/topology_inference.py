"""A call graph read off the order of log lines in traces, for data that comes without one.

Many exports hold logs with trace ids but no call graph. Without one, every service with data is a possible
dependency of every other, and the ranking loses the rules that need to know who calls whom. Within one trace
a service's first line comes after a line of its caller (the call is made, then served), so the service whose
line last precedes another service's first line is taken as its caller. A call seen so in at least
``MIN_TRACES`` traces is an edge: one trace's order can be a coincidence of concurrent calls or of clocks a
few milliseconds apart; lines that share a timestamp have no order, so they name no caller of each other. No span
parent ids are needed (most logs print none). Measured on nezha-tt-dev against
its given call graphs: 86 % of the calls read off are in them, and 66 % of theirs are read off (the rest are
calls no trace of the window exercised); see docs/skills.md for what it does to the answers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter

from agent.call_labels import ReadCalls
from agent.detectors.trace_ids import trace_of
from agent.series import LogRecord

MIN_TRACES = 2  # traces that must show a call before it is an edge


@dataclass(frozen=True)
class InferredCalls(ReadCalls):
    """Callers and what they call, as read off ``traces`` traces."""

    traces: int = 0  # traces with lines of at least two services

    def describe(self, why: str = "no call graph given") -> str:
        """One sentence for the report's notes, after ``why`` a call graph was read off the traces."""
        return (f"{why}: {self.calls} call(s) among {len(self.services())} services read off the order "
                f"of log lines in {self.traces} traces (a caller's line precedes its callee's first; seen in "
                f"{MIN_TRACES}+ traces)")


def calls_from_traces(records: Iterable[LogRecord], min_traces: int = MIN_TRACES) -> InferredCalls:
    """The call graph the traces of ``records`` show (their ``trace_id``, else an id written in the message)."""
    traces: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for record in records:
        trace = trace_of(record)
        if trace and record.service:
            traces[trace].append((record.ts, record.service))
    seen: Counter[tuple[str, str]] = Counter()
    used = 0
    for lines in traces.values():
        lines.sort(key=itemgetter(0))
        edges = _first_calls(lines)
        used += bool(edges) or len({service for _, service in lines}) > 1
        seen.update(edges)
    depends_on: dict[str, list[str]] = {}
    for (caller, callee), count in sorted(seen.items()):
        if count >= min_traces:
            depends_on.setdefault(caller, []).append(callee)
    return InferredCalls(depends_on, used)


def _first_calls(lines: list[tuple[float, str]]) -> set[tuple[str, str]]:
    """(caller, callee) for each service's first line in one trace's time-ordered lines: the service of the lines
    at the latest earlier timestamp. Lines that share a timestamp have no order: a first line sharing it with another
    service's line is not called by it, and when the latest earlier timestamp holds lines of several services (one
    called them all at once, or clocks agree to the millisecond) none of them is named its caller."""
    found: set[tuple[str, str]] = set()
    met: set[str] = set()
    previous: set[str] = set()  # the services of the lines at the latest earlier timestamp
    for _, group in groupby(lines, key=itemgetter(0)):
        services = {service for _, service in group}
        if len(previous) == 1:
            (caller,) = previous
            found.update((caller, service) for service in services - met - previous)
        met |= services
        previous = services
    return found
