"""Rank root-cause candidates from Finding scores, onset order, topology and change proximity."""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from agent.detectors.direction import ERROR_WORDS, infer_direction, name_tokens
from agent.evidence import ChangeNote
from agent.findings import Finding, FindingKind
from agent.reasoners.faults import LOG_KINDS, METRIC_KINDS, error_logs, metric_family
from agent.reasoners.random_walk import walk_scores

# How much each part of the evidence weighs. Chosen from first principles (documented in
# docs/reasoners.md) and checked on the simulator's development seeds, not tuned per case.
ONSET_TOLERANCE_S = 90.0  # onsets closer than this are "at the same time" (1-min samples, jitter)
ONSET_TOLERANCE_SAMPLES = 1.5  # ... or than this many samples, when the data is sampled more coarsely
SIGNIFICANT = 0.35  # a metric Finding at least this strong makes its service anomalous
VICTIM_FACTOR = 0.55  # a service whose anomalous dependency started no later is probably a victim
PASS_ON = 0.9  # calls out slowed about as clearly as the service itself: it passes a delay on
EARLIEST_BONUS = 0.15  # the first service to deviate
EXPLAINS_BONUS = 0.08  # per anomalous caller that started no earlier (capped)
CHANGE_BONUS = 0.25  # a change to the service shortly before its onset
LOG_BONUS = 0.1  # error-log bursts or new error templates on the service
TRACE_BONUS = CHANGE_BONUS  # traces leave their usual paths here: like a change, it pins the fault to a service
CHANGE_WINDOW_S = 1800.0
CALLER_SIDE = ("*client*", "*outbound*", "*upstream*", "*downstream*", "*dependency*")  # latency of calls it makes
CALLER_SIDE_WEIGHT = 0.3  # a caller-side deviation mostly points at the callee, not the caller
LESS_WORK_WEIGHT = 0.3  # a fall of an unknown-direction metric (less work done) mostly marks a victim
WORK_FAMILIES = (None, "traffic_spike")  # a fall of these is less work done (requests too: a spike's opposite)
SHARED_WEIGHT = 0.3  # a series other services report too (a host's CPU under every pod on it) names no one
RECOVERED_Z = 1.5  # a deviation this close to the baseline around the alert had recovered before it
RUN_END = 0.5  # back within this share of the detector's alarm level: the excursion's run has ended
RECOVERED_WEIGHT = 0.3
RESOURCE_FAULTS = ("cpu_saturation", "memory_leak", "disk_full")
LOAD_BONUS = 0.3  # where extra load enters, it is the cause of the saturation behind it
SATURATION_BONUS = LOAD_BONUS  # a resource used up with no more work to do: the trouble starts there too
SATURATED_SHARE = 0.8  # of a usage share's ceiling (80 %, 0.8): a resource this full is saturated
HEADROOM_WORDS = frozenset({"idle", "free", "avail", "available"})  # a rise of what is left is no saturation
TRACE_KINDS = (FindingKind.TRACE_DIVERGENCE, FindingKind.TRACE_SLOWDOWN)
BLAME = 0.5  # what a callee every slow caller calls, and that explains all the slowness, gains


def caller_side(metric: str | None) -> bool:
    """Metrics that measure calls a service makes to others (client-side latency and the like)."""
    return bool(metric) and any(fnmatch.fnmatchcase(metric.lower(), g) for g in CALLER_SIDE)


def activity(finding: Finding) -> float:
    """1 while the deviation lasts around the alert, ``RECOVERED_WEIGHT`` once it had recovered before it.

    Recovered: the series got no farther from its baseline in the minutes up to the alert than
    ``RECOVERED_Z``, nor than the level at which the onset detector ends an excursion's run
    (``RUN_END`` x its alarm level), so an earlier episode's tail does not count as present.
    """
    active = finding.numbers.get("active_z")
    if active is None:
        return 1.0
    alarm = finding.numbers.get("alarm_z") or finding.numbers.get("excursion") or 0.0  # onset / deviation
    run_end = RUN_END * alarm
    return RECOVERED_WEIGHT if active < max(RECOVERED_Z, run_end) else 1.0


def weight(finding: Finding) -> float:
    """How much a Finding says about its own service being the cause."""
    w = finding.score * activity(finding)
    if caller_side(finding.metric):
        w *= CALLER_SIDE_WEIGHT
    if less_work(finding):
        w *= LESS_WORK_WEIGHT
    if shared(finding):
        w *= SHARED_WEIGHT
    return w


def shared(finding: Finding) -> bool:
    """Other services report the same series (``agent.graph.gathered.shared_metrics``): a host's figure."""
    return bool(finding.numbers.get("shared_with"))


def less_work(finding: Finding) -> bool:
    """A fall of a metric whose name does not say which way is bad (requests, bytes, syscalls, ...).

    Such a metric mostly measures work done, and during an incident work falls at every service the
    trouble upstream starves of requests: a victim's sign far more often than a cause's.
    """
    if finding.direction != "down" or not finding.metric:
        return False
    return infer_direction(finding.metric) == "both" and metric_family(finding.metric) in WORK_FAMILIES


@dataclass
class ServiceEvidence:
    """What the evidence says about one service."""

    service: str
    findings: list[Finding] = field(default_factory=list)
    strength: float = 0.0
    onset: float | None = None
    score: float = 0.0
    changes: list[ChangeNote] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    blamed_by: list[Finding] = field(default_factory=list)  # other services' Findings that implicate it

    @property
    def anomalous(self) -> bool:
        return self.strength >= SIGNIFICANT


def evidence_of_fault(finding: Finding) -> bool:
    """Findings that can make a service anomalous: metric deviations, error logs, and traces that leave
    the reference's paths at the service (an exception cuts its work short even when it logs nothing new)."""
    return finding.kind in METRIC_KINDS or error_logs(finding) or finding.kind in TRACE_KINDS


def _strength(findings: Sequence[Finding]) -> float:
    """The service's strongest metric or error-log Finding: scores are calibrated per series, so the
    strongest one says how unusual the service is, and a service with more metrics does not score higher."""
    return max((weight(f) for f in findings if evidence_of_fault(f)), default=0.0)


def _onset(findings: Sequence[Finding]) -> float | None:
    onsets = [f.onset for f in findings if evidence_of_fault(f) and f.onset is not None and weight(f) >= SIGNIFICANT]
    return min(onsets) if onsets else None


def _reachable(topology: Mapping[str, Sequence[str]], start: str, depth: int = 4) -> set[str]:
    """Services ``start`` calls, directly or through others, up to ``depth`` hops."""
    seen: set[str] = set()
    frontier = [start]
    for _ in range(depth):
        frontier = [d for s in frontier for d in topology.get(s, ()) if d not in seen and d != start]
        seen.update(frontier)
    return seen


def _candidates(topology: Mapping[str, Sequence[str]]) -> set[str] | None:
    """Every service of the call graph (callers and callees), or None (any service) without one."""
    return set(topology) | {d for deps in topology.values() for d in deps} if topology else None


def collect(
    findings: Sequence[Finding], changes: Sequence[ChangeNote], candidates: set[str] | None
) -> dict[str, ServiceEvidence]:
    """Group Findings by service; ignore services outside ``candidates`` when given, and ``missing_data``
    Findings (they are about the data, not about a service)."""
    grouped: dict[str, ServiceEvidence] = {}
    for finding in findings:
        if finding.kind == FindingKind.MISSING_DATA:
            continue
        service = finding.owner
        if candidates is not None and service not in candidates:
            continue
        grouped.setdefault(service, ServiceEvidence(service)).findings.append(finding)
    by_service: dict[str, list[ChangeNote]] = defaultdict(list)
    for change in changes:
        by_service[change.service].append(change)
    for ev in grouped.values():
        ev.strength = _strength(ev.findings)
        ev.onset = _onset(ev.findings)
        ev.changes = sorted(by_service.get(ev.service, []), key=lambda c: c.ts)
    return grouped


def rank_services(
    findings: Sequence[Finding],
    changes: Sequence[ChangeNote],
    topology: Mapping[str, Sequence[str]],
    targets: Sequence[str] = (),
) -> list[ServiceEvidence]:
    """Services ordered by how well they explain the anomaly, most likely root cause first.

    The evidence rules below (victims, load origins, saturation, onset order, changes, logs, blame from slow
    calls); ``rank_by_walk`` is the random-walk alternative that ``benchmarks/ranking_methods.py`` compares.
    ``targets`` (the alerted services) get no place of their own: only their evidence ranks them.
    """
    return rank_by_rules(findings, changes, topology)


def rank_by_walk(
    findings: Sequence[Finding], changes: Sequence[ChangeNote], topology: Mapping[str, Sequence[str]]
) -> list[ServiceEvidence]:
    """The personalised random walk of ``random_walk``: anomaly per service, slow calls out, recent changes."""
    candidates = _candidates(topology)
    evidence = collect(findings, changes, candidates)
    anomaly = {s: e.strength for s, e in evidence.items()}
    slow = {s: outgoing_slowness(e) for s, e in evidence.items()}
    restart = {}
    for ev in evidence.values():
        if _changed_before_onset(ev):
            restart[ev.service] = CHANGE_BONUS
            ev.notes.append("changed shortly before the onset")
        if any(f.kind in LOG_KINDS and f.score >= SIGNIFICANT for f in ev.findings):
            ev.notes.append(_log_note(ev))
    scores = walk_scores(anomaly, topology or {}, slow, restart)
    for service, score in scores.items():
        ev = evidence.setdefault(service, ServiceEvidence(service))
        ev.score = score * max(ev.strength, slow_blame(service, topology, slow))
        if not ev.notes and ev.strength < SIGNIFICANT and ev.score > 0:
            ev.notes.append("its callers' calls to it got slower")
    return sorted(evidence.values(), key=lambda e: (-e.score, e.onset or float("inf"), e.service))


def slow_blame(service: str, topology: Mapping[str, Sequence[str]], slow: Mapping[str, float]) -> float:
    """How slow the calls to ``service`` got, as its callers measured them (their strongest slowness)."""
    return max((slow.get(c, 0.0) for c, callees in topology.items() if service in callees), default=0.0)


def traces_break_here(ev: ServiceEvidence) -> bool:
    """A significant ``trace_divergence`` or ``trace_slowdown``: requests stop, change course or wait at this
    service (its own new events, the events the reference expected from it missing, or the hand-offs with
    it slowed), not merely errors logged somewhere."""
    return any(f.kind in TRACE_KINDS and f.score >= SIGNIFICANT for f in ev.findings)


def _log_note(ev: ServiceEvidence) -> str:
    if any(error_logs(f) and f.score >= SIGNIFICANT for f in ev.findings):
        return "error logs: new or bursting ERROR / exception templates"
    return "a log template burst (WARN/INFO)"


def _changed_before_onset(ev: ServiceEvidence) -> bool:
    recent = [c for c in ev.changes if ev.onset is not None and ev.onset - CHANGE_WINDOW_S <= c.ts <= ev.onset + 60]
    return bool(recent) or any(f.kind == FindingKind.CHANGE_NEAR_ONSET for f in ev.findings)


def rank_by_rules(
    findings: Sequence[Finding], changes: Sequence[ChangeNote], topology: Mapping[str, Sequence[str]]
) -> list[ServiceEvidence]:
    """The evidence rules of docs/reasoners.md: strength, victims, load origins, saturation, onset order, changes,
    logs."""
    candidates = _candidates(topology)
    evidence = collect(findings, changes, candidates)
    anomalous = [e for e in evidence.values() if e.anomalous]
    tolerance = onset_tolerance(findings)
    onsets = [e.onset for e in anomalous if e.onset is not None]
    earliest = min(onsets) if onsets else None
    first = {e.service for e in anomalous if earliest is not None and e.onset is not None
             and e.onset <= earliest + tolerance}  # among the first to deviate: they share the bonus
    for ev in evidence.values():
        ev.score = ev.strength
        if not ev.anomalous:
            continue
        downstream = _reachable(topology, ev.service) if topology else set()
        upstream = {s for s in topology if ev.service in _reachable(topology, s)} if topology else set()
        earlier_deps = [
            d.service for d in anomalous
            if d.service in downstream and _no_later(d.onset, ev.onset, tolerance) and d.strength >= 0.6 * ev.strength
        ]
        load_above = any(c.service in upstream and _rising_load(c) for c in anomalous)
        if not load_above and _load_origin(ev, anomalous, downstream, topology, tolerance):
            ev.score += LOAD_BONUS
            ev.notes.append("incoming load rose here first: the traffic explains the saturation downstream")
        elif earlier_deps and not _own_saturation(ev):
            ev.score *= VICTIM_FACTOR
            ev.notes.append(f"dependencies {sorted(earlier_deps)} deviated no later: likely a victim")
        elif _passes_on_delay(ev, topology):
            ev.score *= VICTIM_FACTOR
            ev.notes.append("its own calls out slowed as much as it did: it passes a dependency's delay on")
        if (full := _saturated(ev, load_above)) is not None:
            ev.score += SATURATION_BONUS
            ev.notes.append(f"its {full.metric} reached {_share(full):.0%} of capacity with no rise in requests")
        explained = [c.service for c in anomalous if c.service in upstream and _no_later(ev.onset, c.onset, tolerance)]
        if explained:
            ev.score += min(3, len(explained)) * EXPLAINS_BONUS
            ev.notes.append(f"explains anomalies in callers {sorted(explained)}")
        if ev.service in first:
            ev.score += EARLIEST_BONUS / len(first)
            ev.notes.append("among the first to deviate")
        if _changed_before_onset(ev):
            ev.score += CHANGE_BONUS
            ev.notes.append("changed shortly before the onset")
        if any(f.kind in LOG_KINDS and f.score >= SIGNIFICANT for f in ev.findings):
            ev.score += LOG_BONUS
            ev.notes.append(_log_note(ev))
        if traces_break_here(ev):
            ev.score += TRACE_BONUS
            ev.notes.append("traces through it leave the paths they took in the reference")
    _blame_callees(evidence, topology)
    _blame_callers(evidence, topology)
    return sorted(evidence.values(), key=lambda e: (-e.score, e.onset or float("inf"), e.service))


def _slowest_call(ev: ServiceEvidence) -> Finding | None:
    """The service's strongest caller-side deviation (its calls to others got slower), if any."""
    calls = [f for f in ev.findings if caller_side(f.metric) and f.kind in METRIC_KINDS]
    return max(calls, key=_call_slowness, default=None)


def _call_slowness(finding: Finding) -> float:
    return finding.score * activity(finding)


def outgoing_slowness(ev: ServiceEvidence) -> float:
    """How clearly the service's own calls to others got slower: its strongest caller-side deviation, 0..1."""
    call = _slowest_call(ev)
    return _call_slowness(call) if call is not None else 0.0


def _blame_callees(evidence: dict[str, ServiceEvidence], topology: Mapping[str, Sequence[str]]) -> None:
    """Slow calls out implicate the callees.

    A callee gains ``BLAME`` x consistency x coverage x (1 - its own outgoing slowness): consistency is how
    slow its callers found their calls on average (a callee that some callers find fine is less likely),
    coverage the share of all the slowness its callers show (a callee that explains every slow caller beats
    one that explains a few), and a callee whose own calls out slowed is passing the delay on.
    """
    slowest = {s: call for s, e in evidence.items() if (call := _slowest_call(e)) is not None}
    slowness = {s: _call_slowness(call) for s, call in slowest.items()}
    passing_on = {s: 0.0 if calls_nothing(s, topology) else v for s, v in slowness.items()}
    total = sum(v for s, v in slowness.items() if topology.get(s))
    if total <= 0:
        return
    callers_of: dict[str, list[str]] = defaultdict(list)
    for caller, callees in topology.items():
        for callee in callees:
            callers_of[callee].append(caller)
    for callee, callers in sorted(callers_of.items()):
        felt = [slowness.get(c, 0.0) for c in callers]
        share = (sum(felt) / len(callers)) * (sum(felt) / total) * (1.0 - min(1.0, passing_on.get(callee, 0.0)))
        if share <= 0:
            continue
        slow = [c for c in callers if slowness.get(c, 0.0) > 0]
        target = evidence.setdefault(callee, ServiceEvidence(callee))
        target.score += BLAME * share
        target.blamed_by += [slowest[c] for c in slow]
        target.notes.append(f"calls to it from {slow} got slower ({share:.2f} of the blame)")


def _blame_callers(evidence: dict[str, ServiceEvidence], topology: Mapping[str, Sequence[str]]) -> None:
    """Callees that suddenly did less work implicate the callers that stopped sending it.

    A caller gains ``BLAME`` x starvation x coverage: starvation is how clearly its most starved callee's
    work fell (a significant ``less_work`` Finding, present at the alert), coverage the share of all the
    starvation in the event its callees hold (the caller common to every starved service explains it best).
    """
    falls = {s: max((f for f in e.findings if less_work(f)), key=_call_slowness, default=None)
             for s, e in evidence.items()}
    fell = {s: f for s, f in falls.items() if f is not None and _call_slowness(f) >= SIGNIFICANT}
    starved = {s: _call_slowness(f) for s, f in fell.items()}
    total = sum(starved.values())
    if total <= 0:
        return
    for caller, callees in sorted(topology.items()):
        felt = [starved[c] for c in callees if c in starved and c != caller]
        if not felt:
            continue
        share = max(felt) * sum(felt) / total
        target = evidence.setdefault(caller, ServiceEvidence(caller))
        target.score += BLAME * share
        target.blamed_by += [fell[c] for c in callees if c in fell and c != caller]
        target.notes.append(f"callees {sorted(c for c in callees if c in starved)} did less work: it stopped "
                            f"sending it ({share:.2f} of the blame)")


def implication(ev: ServiceEvidence) -> float:
    """How strongly the evidence points at the service, 0..1: its own strength, or the strongest Finding of
    another service that implicates it (a caller's slow calls to it, a callee's fall in work), discounted
    like any recovered deviation, when that is stronger. A callee blamed only by its callers has no strength
    of its own, yet the ranking rests on that Finding."""
    return max([ev.strength, *(_call_slowness(f) for f in ev.blamed_by)])


def _passes_on_delay(ev: ServiceEvidence, topology: Mapping[str, Sequence[str]]) -> bool:
    """The service's calls to others slowed at least ``PASS_ON`` as clearly as anything of its own deviates,
    and its own CPU, memory and disk did not: a dependency's delay seen from the caller's side. A service
    the call graph shows calling nothing has no dependency to pass a delay on from: the slowness is its own."""
    if calls_nothing(ev.service, topology):
        return False
    return outgoing_slowness(ev) >= PASS_ON * ev.strength and not _own_saturation(ev)


def calls_nothing(service: str, topology: Mapping[str, Sequence[str]]) -> bool:
    """The call graph shows ``service`` calling no other service: slowness of its calls out cannot be a
    dependency's delay passed on (it is its own, e.g. its CPU starved). False without a call graph."""
    return bool(topology) and not any(d != service for d in topology.get(service, ()))


def _resource_rises(ev: ServiceEvidence) -> list[Finding]:
    """The service's own significant rises of CPU, memory or disk use (not of what is left: idle, free,
    available; not a host's series every pod on it reports)."""
    return [f for f in ev.findings if f.kind in METRIC_KINDS and f.direction == "up" and weight(f) >= SIGNIFICANT
            and metric_family(f.metric) in RESOURCE_FAULTS and not shared(f)
            and not HEADROOM_WORDS & set(name_tokens(f.metric or ""))]


def _own_saturation(ev: ServiceEvidence) -> bool:
    """CPU, memory or disk of the service itself deviates: a slow dependency does not cause that."""
    return bool(_resource_rises(ev))


def _saturated(ev: ServiceEvidence, load_above: bool) -> Finding | None:
    """The service's own CPU, memory or disk usage share that rose to at least ``SATURATED_SHARE`` of its
    ceiling while no more requests came (its request rate did not rise, nor did that of a service above
    it, ``load_above``), if any (the fullest).

    A resource used up without more work to do went to something other than the work: contention, a
    hog, a loop, a leak. Saturation that more requests explain is the load's doing (``_load_origin``).
    """
    if load_above or _rising_load(ev):
        return None
    return max((f for f in _resource_rises(ev) if _share(f) >= SATURATED_SHARE), key=_share, default=None)


def _share(finding: Finding) -> float:
    """How full the resource is at the alert: its highest level in the minutes up to it over the usage share's
    ceiling (``recent_level`` / ``ceiling``, see ``graph.analysis``; 0 if either is unknown)."""
    level, ceiling = finding.numbers.get("recent_level"), finding.numbers.get("ceiling")
    return level / ceiling if level is not None and ceiling else 0.0


def _load_rises(ev: ServiceEvidence) -> list[Finding]:
    """The service's significant rises of request rate."""
    return [f for f in ev.findings if f.kind in METRIC_KINDS and f.direction == "up" and weight(f) >= SIGNIFICANT
            and metric_family(f.metric) == "traffic_spike"]


def _rising_load(ev: ServiceEvidence) -> bool:
    return bool(_load_rises(ev))


def _load_origin(ev: ServiceEvidence, anomalous: Sequence[ServiceEvidence], downstream: set[str],
                 topology: Mapping[str, Sequence[str]], tolerance: float) -> bool:
    """Request rate rose at this service (``rank_by_rules`` has checked it rose at none of its callers), no
    other dependency of its callers started failing before it, and the load did something: the service's own
    CPU, memory or disk rose, or a service below it in the call graph (up to four calls down) deviated no
    earlier (an unknown onset counts as simultaneous). The load entered here. When a caller's other
    dependency failed first (a cache missing, a service erroring), the extra load here is the caller's
    requests falling through to it; a rise that saturated nothing is traffic, not a cause."""
    rises = _load_rises(ev)
    if not rises:
        return False
    if not _own_saturation(ev) and not any(
        d.service in downstream and _no_later(ev.onset, d.onset, tolerance) for d in anomalous
    ):
        return False
    callers = [c for c, deps in (topology or {}).items() if ev.service in deps]
    siblings = {d for c in callers for d in topology.get(c, ()) if d != ev.service}
    rose = min((f.onset for f in rises if f.onset is not None), default=ev.onset)
    failed = [_failing_since(s) for s in anomalous if s.service in siblings]
    return not any(since is not None and _no_later(since, rose, tolerance) for since in failed)


def _failing_since(ev: ServiceEvidence) -> float | None:
    """When the service started failing its callers (a significant fall of a hit ratio or success rate, or
    a rise of errors), if it did."""
    onsets = [f.onset for f in ev.findings if f.kind in METRIC_KINDS and f.onset is not None
              and weight(f) >= SIGNIFICANT and _serves_worse(f)]
    return min(onsets) if onsets else None


def _serves_worse(finding: Finding) -> bool:
    bad = infer_direction(finding.metric or "")
    return (bad == "down" and finding.direction == "down") or (
        finding.direction == "up" and bool(ERROR_WORDS & set(name_tokens(finding.metric or ""))))


def onset_tolerance(findings: Sequence[Finding]) -> float:
    """How far apart two onsets must be to be ordered: ``ONSET_TOLERANCE_S``, or ``ONSET_TOLERANCE_SAMPLES``
    sampling intervals (the Findings' ``step_s``, their median) when the data is coarser."""
    steps = [f.numbers["step_s"] for f in findings if f.numbers.get("step_s")]
    return max(ONSET_TOLERANCE_S, ONSET_TOLERANCE_SAMPLES * float(np.median(steps))) if steps else ONSET_TOLERANCE_S


def _no_later(a: float | None, b: float | None, tolerance: float = ONSET_TOLERANCE_S) -> bool:
    """True when onset ``a`` is not later than onset ``b`` (unknown onsets compare as simultaneous)."""
    if a is None or b is None:
        return True
    return a <= b + tolerance


def own_findings(findings: Sequence[Finding]) -> list[Finding]:
    """One service's Findings without the series other services report too (a host's figure says nothing
    about which pod on it is at fault); all of them when that leaves none."""
    own = [f for f in findings if not shared(f)]
    return own or list(findings)
