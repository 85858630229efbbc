"""Per-trace event paths: which (service, template) events follow which in the reference, and where a
trace first leaves those paths. ``trace_logs`` turns the blame into Findings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

Event = tuple[str, int]  # (service, template key) of one log line
START: Event = ("", -1)  # before a trace's first line
END: Event = ("", -2)  # after its last line


@dataclass(frozen=True)
class Step:
    """One event of a trace and when it was logged."""

    event: Event
    ts: float


@dataclass(frozen=True)
class Divergence:
    """Where a trace first took a step the reference never took, and the service blamed for it."""

    service: str
    after: Event  # the last event still on a known path
    seen: Event  # what came instead (END: the trace stopped)
    expected: Event  # what most often came next in the reference
    ts: float


@dataclass
class PathModel:
    """Successor counts and, per event, how many traces hold it, learned from reference traces."""

    successors: dict[Event, Counter[Event]] = field(default_factory=dict)
    traces_with: Counter[Event] = field(default_factory=Counter)

    @classmethod
    def learn(cls, traces: Iterable[Sequence[Step]]) -> PathModel:
        model = cls()
        for trace in traces:
            events = path(trace)
            model.traces_with.update(set(events[1:-1]))
            for a, b in pairwise(events):
                model.successors.setdefault(a, Counter())[b] += 1
        return model

    def first_divergence(self, trace: Sequence[Step], leave_out: bool = False) -> Divergence | None:
        """The first step the reference never took, blamed on a service; None when the trace follows known
        paths or begins in a way the reference never did (a request it cannot judge).

        Blame: a service logging something it never logged, right after its own event, is itself off its
        path; otherwise the service whose event the reference expected next (a callee that should have
        answered), or the last service when the reference expected the trace to end there.
        ``leave_out`` judges a reference trace against the reference without it (its own normal novelty).
        """
        events = path(trace)
        own = Counter(pairwise(events)) if leave_out else Counter()
        held = set(events) if leave_out else set()
        for i, (a, b) in enumerate(pairwise(events)):
            nexts = self.successors.get(a, Counter())
            if nexts[b] - own[(a, b)] > 0:
                continue
            if a == START or self.traces_with[a] - (a in held) <= 0:
                return None
            expected = max(((n - own[(a, e)], e) for e, n in nexts.items() if n - own[(a, e)] > 0), default=None)
            if expected is None:
                return None
            ts = trace[min(i, len(trace) - 1)].ts
            new_here = b != END and b[0] == a[0] and self.traces_with[b] - (b in held) <= 0
            if new_here or expected[1] == END:
                return Divergence(a[0], a, b, expected[1], ts)
            return Divergence(expected[1][0], a, b, expected[1], ts)
        return None


def path(trace: Sequence[Step]) -> list[Event]:
    """The trace's events in time order between the START and END markers."""
    return [START, *(s.event for s in trace), END]


def services_in(trace: Sequence[Step]) -> set[str]:
    """The services that logged in the trace."""
    return {s.event[0] for s in trace}
