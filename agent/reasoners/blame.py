"""Blame carried along the call graph: slow calls out implicate the callee every slow caller calls, and callees
that suddenly did less work implicate the caller that stopped sending it (docs/reasoners.md)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from agent.findings import Finding
from agent.reasoners.faults import METRIC_KINDS
from agent.reasoners.load import own_saturation
from agent.reasoners.service_evidence import SIGNIFICANT, ServiceEvidence, activity, caller_side, less_work

PASS_ON = 0.9  # calls out slowed about as clearly as the service itself: it passes a delay on
BLAME = 0.5  # what a callee every slow caller calls, and that explains all the slowness, gains


def slowest_call(ev: ServiceEvidence) -> Finding | None:
    """The service's strongest caller-side deviation (its calls to others got slower), if any."""
    calls = [f for f in ev.findings if caller_side(f.metric) and f.kind in METRIC_KINDS]
    return max(calls, key=call_slowness, default=None)


def call_slowness(finding: Finding) -> float:
    """How clearly a Finding that implicates another service deviates: its score while it lasts at the alert."""
    return finding.score * activity(finding)


def outgoing_slowness(ev: ServiceEvidence) -> float:
    """How clearly the service's own calls to others got slower: its strongest caller-side deviation, 0..1."""
    call = slowest_call(ev)
    return call_slowness(call) if call is not None else 0.0


def blame_callees(evidence: dict[str, ServiceEvidence], topology: Mapping[str, Sequence[str]]) -> None:
    """Slow calls out implicate the callees.

    A callee gains ``BLAME`` x consistency x coverage x (1 - its own outgoing slowness): consistency is how
    slow its callers found their calls on average (a callee that some callers find fine is less likely),
    coverage the share of all the slowness its callers show (a callee that explains every slow caller beats
    one that explains a few), and a callee whose own calls out slowed is passing the delay on.
    """
    slowest = {s: call for s, e in evidence.items() if (call := slowest_call(e)) is not None}
    slowness = {s: call_slowness(call) for s, call in slowest.items()}
    passing_on = {s: 0.0 if calls_nothing(s, topology) else v for s, v in slowness.items()}
    total = sum(v for s, v in slowness.items() if topology.get(s))
    if total <= 0:
        return
    for callee, callers in sorted(callers_of(topology).items()):
        felt = [slowness.get(c, 0.0) for c in callers]
        share = (sum(felt) / len(callers)) * (sum(felt) / total) * (1.0 - min(1.0, passing_on.get(callee, 0.0)))
        if share <= 0:
            continue
        slow = [c for c in callers if slowness.get(c, 0.0) > 0]
        target = evidence.setdefault(callee, ServiceEvidence(callee))
        target.score += BLAME * share
        target.blamed_by += [slowest[c] for c in slow]
        target.notes.append(f"calls to it from {slow} got slower ({share:.2f} of the blame)")


def callers_of(topology: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Each callee's callers in the call graph."""
    callers: dict[str, list[str]] = defaultdict(list)
    for caller, callees in topology.items():
        for callee in callees:
            callers[callee].append(caller)
    return callers


def blame_callers(evidence: dict[str, ServiceEvidence], topology: Mapping[str, Sequence[str]]) -> None:
    """Callees that suddenly did less work implicate the callers that stopped sending it.

    A caller gains ``BLAME`` x starvation x coverage: starvation is how clearly its most starved callee's
    work fell (a significant ``less_work`` Finding, present at the alert), coverage the share of all the
    starvation in the event its callees hold (the caller common to every starved service explains it best).
    A callee that several services call may have been starved by any of them: its fall counts towards each
    caller's coverage in equal parts, so only a fall at a callee one caller alone calls pins that caller.
    """
    falls = {s: max((f for f in e.findings if less_work(f)), key=call_slowness, default=None)
             for s, e in evidence.items()}
    fell = {s: f for s, f in falls.items() if f is not None and call_slowness(f) >= SIGNIFICANT}
    starved = {s: call_slowness(f) for s, f in fell.items()}
    total = sum(starved.values())
    if total <= 0:
        return
    senders = {c: len([s for s in callers if s != c]) for c, callers in callers_of(topology).items()}
    for caller, callees in sorted(topology.items()):
        quiet = [c for c in callees if c in starved and c != caller]
        if not quiet:
            continue
        share = max(starved[c] for c in quiet) * sum(starved[c] / senders[c] for c in quiet) / total
        target = evidence.setdefault(caller, ServiceEvidence(caller))
        target.score += BLAME * share
        target.blamed_by += [fell[c] for c in quiet]
        target.notes.append(f"callees {sorted(c for c in callees if c in starved)} did less work: it stopped "
                            f"sending it ({share:.2f} of the blame)")


def implication(ev: ServiceEvidence) -> float:
    """How strongly the evidence points at the service, 0..1: its own strength, or the strongest Finding of
    another service that implicates it (a caller's slow calls to it, a callee's fall in work), discounted
    like any recovered deviation, when that is stronger. A callee blamed only by its callers has no strength
    of its own, yet the ranking rests on that Finding."""
    return max([ev.strength, *(call_slowness(f) for f in ev.blamed_by)])


def slow_blame(service: str, topology: Mapping[str, Sequence[str]], slow: Mapping[str, float]) -> float:
    """How slow the calls to ``service`` got, as its callers measured them (their strongest slowness)."""
    return max((slow.get(c, 0.0) for c, callees in topology.items() if service in callees), default=0.0)


def passes_on_delay(ev: ServiceEvidence, topology: Mapping[str, Sequence[str]]) -> bool:
    """The service's calls to others slowed at least ``PASS_ON`` as clearly as anything of its own deviates,
    and its own CPU, memory and disk did not: a dependency's delay seen from the caller's side. A service
    the call graph shows calling nothing has no dependency to pass a delay on from: the slowness is its own."""
    if calls_nothing(ev.service, topology):
        return False
    return outgoing_slowness(ev) >= PASS_ON * ev.strength and not own_saturation(ev)


def calls_nothing(service: str, topology: Mapping[str, Sequence[str]]) -> bool:
    """The call graph shows ``service`` calling no other service: slowness of its calls out cannot be a
    dependency's delay passed on (it is its own, e.g. its CPU starved). False without a call graph."""
    return bool(topology) and not any(d != service for d in topology.get(service, ()))
