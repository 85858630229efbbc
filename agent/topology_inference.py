"""A call graph read off the logs, for data that comes without one: the order of log lines in traces, and the
services log lines name.

Many exports hold logs with trace ids but no call graph. Without one, every service with data is a possible
dependency of every other, and the ranking loses the rules that need to know who calls whom. Within one trace
a service's first line comes after a line of its caller (the call is made, then served), so the service whose
line last precedes another service's first line is taken as its caller. A call seen so in at least
``MIN_TRACES`` traces is an edge: one trace's order can be a coincidence of concurrent calls or of clocks a
few milliseconds apart; lines that share a timestamp have no order, so they name no caller of each other. No span
parent ids are needed (most logs print none). Measured on nezha-tt-dev against
its given call graphs: 86 % of the calls read off are in them, and 66 % of theirs are read off (the rest are
calls no trace of the window exercised); see docs/skills.md for what it does to the answers.

A client's log lines name the service they call ("retrying call to cache", "upstream timeout calling
user-profile", ``http://ts-order-service:12031/api/v1/...``) far more often than a server's name its callers:
:func:`calls_named` reads a line of one service naming another service with data (a whole word of it: not inside
a longer name, nor a URL's path segment: ``/v2/search`` is a route, ``http://search:8080/`` a host; nor in a
sentence the named service writes too) in at least ``MIN_LINES`` lines as a call from the first to the second. A
pair named both ways is ambiguous and left out, and so is a call that would close a cycle with calls named more
often (requests flow one way: a callee's line that names its caller, ``client api disconnected``, says who called,
not whom it calls). On nezha-tt-dev 52 of the 57 pairs so read are calls of the given graphs and none is one
reversed; with services named by common words (``api``, ``search``, ``user``) fewer are (docs/skills.md).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter

from agent.call_labels import ReadCalls
from agent.detectors.trace_ids import trace_of
from agent.series import LogRecord
from agent.topology import Topology

MIN_TRACES = 2  # traces that must show a call before it is an edge
MIN_LINES = 2  # log lines of a service that must name another before it is taken as calling it
CONTEXT_WORDS = 2  # words either side of a name that make the sentence it is named in


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


@dataclass(frozen=True)
class NamedCalls(ReadCalls):
    """Callers and what they call, as their log lines named the callees."""

    lines: int = 0  # log lines naming another service with data

    def describe(self, why: str = "no call graph given") -> str:
        """One sentence for the report's notes, after ``why`` a call graph was read off the lines."""
        return (f"{why}: {self.calls} call(s) among {len(self.services())} services read off {self.lines} log "
                f"line(s) of one service naming another ({MIN_LINES}+ lines a pair; pairs named both ways left out)")


def calls_named(records: Iterable[LogRecord], services: Collection[str], min_lines: int = MIN_LINES) -> NamedCalls:
    """The calls the log lines of ``records`` name: a line of one service naming another of ``services`` as a whole
    word (not inside a longer name, nor as a URL's path segment), written as a host or in a sentence the named
    service does not write itself, in ``min_lines``+ lines, never the other way round, and closing no cycle with
    calls named more often (kept most named first).

    A sentence the named service writes too (``client app-3 uses deprecated api version v1``, in every service's
    lines and in ``api``'s) is about a word, not a call: a client's ``cache lookup miss`` is not in the cache's lines.
    """
    names = sorted((s for s in services if s), key=len, reverse=True)  # the longest name first where names nest
    if not names:
        return NamedCalls()
    # not inside a longer name, nor a path segment (/v2/search): a URL's host (//host:port) is
    pattern = re.compile(r"(?<![\w.-])(?<![^/]/)(" + "|".join(map(re.escape, names)) + r")(?![\w-])")
    mentions = [m for line, record in enumerate(records) for m in _mentions(line, record, pattern)]
    own = {(m.caller, m.sentence) for m in mentions if m.caller == m.callee}  # sentences naming their own service
    calls = [m for m in mentions if m.caller != m.callee and (m.host or (m.callee, m.sentence) not in own)]
    seen = Counter((caller, callee) for _, caller, callee in {(m.line, m.caller, m.callee) for m in calls})  # lines
    naming = {pair: count for pair, count in seen.items() if count >= min_lines}
    kept: dict[str, set[str]] = {}
    for caller, callee in sorted(naming, key=lambda pair: (-naming[pair], pair)):  # the most named first
        if (callee, caller) not in naming and caller not in Topology(kept).dependencies(callee, depth=None):
            kept.setdefault(caller, set()).add(callee)
    return NamedCalls({caller: sorted(kept[caller]) for caller in sorted(kept)}, len({m.line for m in calls}))


@dataclass(frozen=True)
class _Mention:
    """A service named in a line of a service (another, or itself)."""

    line: int
    caller: str
    callee: str
    sentence: str  # the words around the name, numbers and ids masked, the name blanked
    host: bool  # written as a host: after "//", or before ":port" or ".domain"


def _mentions(line: int, record: LogRecord, pattern: re.Pattern[str]) -> list[_Mention]:
    """The services ``pattern`` finds in the record's message, its own included (``calls_named`` reads a sentence
    a service writes naming itself as one that names no call)."""
    if not record.service:
        return []
    found = []
    for match in pattern.finditer(record.message):
        before, after = record.message[:match.start()], record.message[match.end():]
        words = [*before.split()[-CONTEXT_WORDS:], "\0", *after.split()[:CONTEXT_WORDS]]
        sentence = " ".join(re.sub(r"\S*\d\S*", "N", word) for word in words)  # numbers, ids, versions masked
        host = before.endswith("//") or re.match(r"[:.]\w", after) is not None
        found.append(_Mention(line, record.service, match.group(1), sentence, host))
    return found

