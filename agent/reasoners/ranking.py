"""Rank root-cause candidates from Finding scores, onset order, topology and change proximity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agent.evidence import ChangeNote
from agent.findings import Finding, FindingKind
from agent.reasoners.blame import blame_callees, blame_callers, outgoing_slowness, passes_on_delay, slow_blame
from agent.reasoners.faults import LOG_KINDS, error_logs
from agent.reasoners.load import led_down, load_origin, own_saturation, rising_load, saturated, usage_share
from agent.reasoners.random_walk import walk_scores
from agent.reasoners.service_evidence import (
    SIGNIFICANT,
    TRACE_KINDS,
    ServiceEvidence,
    collect,
    first_onset,
    in_rank_order,
    no_later,
    onset_tolerance,
    passed_on_evidence,
    reweigh,
)
from agent.topology import Topology

# How much each part of the evidence weighs. Chosen from first principles (documented in
# docs/reasoners.md) and checked on the simulator's development seeds, not tuned per case.
VICTIM_FACTOR = 0.55  # a service whose anomalous dependency started no later is probably a victim
EARLIEST_BONUS = 0.15  # the first service to deviate, when no call graph orders the onsets (see rank_by_rules);
# with one, a service whose own resources rose before everything anomalous below it (``led_down``)
EXPLAINS_BONUS = 0.08  # per anomalous caller that started no earlier (capped)
CHANGE_BONUS = 0.25  # a change to the service shortly before its onset
LOG_BONUS = 0.1  # error-log bursts or new error templates on the service
TRACE_BONUS = CHANGE_BONUS  # traces leave their usual paths here: like a change, it pins the fault to a service
CHANGE_WINDOW_S = 1800.0
LOAD_BONUS = 0.3  # where extra load enters, it is the cause of the saturation behind it
SATURATION_BONUS = LOAD_BONUS  # a resource used up with no more work to do: the trouble starts there too
REACH_HOPS = 4  # calls followed from a service, either way, when asking what lies below or above it


def _candidates(topology: Mapping[str, Sequence[str]]) -> set[str] | None:
    """Every service of the call graph (callers and callees), or None (any service) without one."""
    return set(topology) | {d for deps in topology.values() for d in deps} if topology else None


def rank_services(
    findings: Sequence[Finding],
    changes: Sequence[ChangeNote],
    topology: Mapping[str, Sequence[str]],
    targets: Sequence[str] = (),
) -> list[ServiceEvidence]:
    """Services ordered by how well they explain the anomaly, most likely root cause first.

    The evidence rules below (victims, load origins, saturation, onset order, changes, logs, blame from slow
    calls); ``rank_by_walk`` is the random-walk alternative that ``benchmarks/ranking_methods.py`` compares.
    ``targets`` (the alerted services) get no place of their own: only their evidence ranks them, an alerted
    service's silence being felt by whoever raised the alert (``unfelt_silences``).
    """
    return rank_by_rules(findings, changes, topology, targets)


def blamed_evidence(
    findings: Sequence[Finding], changes: Sequence[ChangeNote], topology: Mapping[str, Sequence[str]]
) -> dict[str, ServiceEvidence]:
    """Each service's evidence with what the call graph's blame adds (``blamed_by``), without the ranking's rules:
    how others implicate a service, which experience and fault naming read, computed as ``rank_by_rules`` does."""
    evidence = collect(findings, changes, _candidates(topology))
    _blame(evidence, topology)
    return evidence


def _blame(evidence: dict[str, ServiceEvidence], topology: Mapping[str, Sequence[str]]) -> None:
    blame_callees(evidence, topology)
    blame_callers(evidence, topology)


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
        if changed_before_onset(ev):
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
    return in_rank_order(evidence.values())


def traces_break_here(ev: ServiceEvidence) -> bool:
    """A significant ``trace_divergence`` or ``trace_slowdown``: requests stop, change course or wait at this
    service (its own new events, the events the reference expected from it missing, or the hand-offs with
    it slowed), not merely errors logged somewhere."""
    return any(f.kind in TRACE_KINDS and f.score >= SIGNIFICANT for f in ev.findings)


def _log_note(ev: ServiceEvidence) -> str:
    if any(error_logs(f) and f.score >= SIGNIFICANT for f in ev.findings):
        return "error logs: new or bursting ERROR / exception templates"
    return "a log template burst (WARN/INFO)"


def changes_near_onset(ev: ServiceEvidence) -> list[ChangeNote]:
    """The service's changes from ``CHANGE_WINDOW_S`` before its onset to a minute after it (none without an onset)."""
    return [c for c in ev.changes if ev.onset is not None and ev.onset - CHANGE_WINDOW_S <= c.ts <= ev.onset + 60]


def changed_before_onset(ev: ServiceEvidence) -> bool:
    """The service had a change near its onset (:func:`changes_near_onset`, or a Finding saying so): the ranking's
    change rule, and part of the shape experience's lessons compare."""
    return bool(changes_near_onset(ev)) or any(f.kind == FindingKind.CHANGE_NEAR_ONSET for f in ev.findings)


def explained_callers(ev: ServiceEvidence, callers: Sequence[ServiceEvidence], tolerance: float) -> list[str]:
    """The anomalous ``callers`` (above ``ev`` in the call graph) that its own trouble explains: they deviated no
    earlier than a deviation of a kind a callee passes on to its callers (``passed_on``: slower answers, errors,
    a resource used up, error logs, traces breaking at it). A metric of no known family that happens to move,
    or more or less work sent to it, explains no caller's trouble."""
    passed = passed_on_evidence(ev)
    if not passed:
        return []
    since = first_onset(passed)
    return [c.service for c in callers if no_later(since, c.onset, tolerance)]


def unfelt_silences(evidence: Mapping[str, ServiceEvidence], graph: Topology, targets: Sequence[str] = ()) -> None:
    """Mark ``unfelt`` (weighed ``UNFELT_WEIGHT``: ``service_evidence.weight``) the ``went_silent`` Findings of a
    service the call graph places but gives no caller, and that is not an alerted one: what it stopped answering
    reached no one (a batch job that finished, a consumer scaled to zero), so its silence explains no one's alert
    as a called service's does. Without a call graph nothing is known either way and the silence keeps its weight.

    Reading the callers' evidence (a silence felt: callers deviating after it) was tried and not kept
    (docs/history.md): on the real sets a silent cause's callers look no different from a silent bystander's."""
    if not graph.has_edges():
        return
    for ev in evidence.values():
        silences = [f for f in ev.findings if f.kind == FindingKind.WENT_SILENT]
        if not silences or ev.service in targets or ev.service not in graph or graph.dependents(ev.service):
            continue
        ev.findings = [f.model_copy(update={"numbers": {**f.numbers, "unfelt": 1.0}}) if f in silences else f
                       for f in ev.findings]
        reweigh(ev)
        ev.notes.append("nothing calls it: its silence reached no one and weighs less")


def rank_by_rules(
    findings: Sequence[Finding], changes: Sequence[ChangeNote], topology: Mapping[str, Sequence[str]],
    targets: Sequence[str] = (),
) -> list[ServiceEvidence]:
    """The evidence rules of docs/reasoners.md: strength, victims, load origins, saturation, onset order, changes,
    logs.

    Onset order counts along the call graph (a dependency that deviated no later makes a victim; callers that
    deviated no earlier are explained). Only without a call graph does being first anywhere earn a bonus: with
    one, a service that deviated first but apart from the others' calls is no likelier the cause (the earliest
    onsets of real incidents are often an earlier incident's or noise)."""
    candidates = _candidates(topology)
    evidence = collect(findings, changes, candidates)
    graph = Topology(topology)
    tolerance = onset_tolerance(findings)
    unfelt_silences(evidence, graph, targets)
    anomalous = [e for e in evidence.values() if e.anomalous]
    onsets = [e.onset for e in anomalous if e.onset is not None]
    earliest = min(onsets) if onsets else None
    # among the first to deviate, sharing the bonus; with a call graph, the victim and explains-callers rules order
    # the onsets along its calls instead
    first = set() if topology else {e.service for e in anomalous if earliest is not None and e.onset is not None
                                    and e.onset <= earliest + tolerance}
    for ev in evidence.values():
        ev.score = ev.strength
        if not ev.anomalous:
            continue
        downstream = set(graph.dependencies(ev.service, depth=REACH_HOPS))
        upstream = set(graph.dependents(ev.service, depth=REACH_HOPS))
        earlier_deps = [
            d.service for d in anomalous
            if d.service in downstream and no_later(d.onset, ev.onset, tolerance) and d.strength >= 0.6 * ev.strength
        ]
        load_above = any(c.service in upstream and rising_load(c) for c in anomalous)
        breaks_here = traces_break_here(ev)  # the traces locate the break here: no victim, nor passing a delay on
        # its requests rose with its callers': it carries load that entered above it, and its callers' trouble
        # is that load's doing, not its own (unless its traces break there)
        carried = load_above and rising_load(ev) and not breaks_here
        origin = not load_above and load_origin(ev, anomalous, downstream, topology, tolerance)
        if origin:
            ev.score += LOAD_BONUS
            ev.notes.append("incoming load rose here first: the traffic explains the saturation downstream")
        elif carried:
            ev.score *= VICTIM_FACTOR
            ev.notes.append("its requests rose with its callers': the load came from above")
        elif earlier_deps and not own_saturation(ev) and not breaks_here:
            ev.score *= VICTIM_FACTOR
            ev.notes.append(f"dependencies {sorted(earlier_deps)} deviated no later: likely a victim")
        elif passes_on_delay(ev, topology) and not breaks_here:
            ev.score *= VICTIM_FACTOR
            ev.notes.append("its own calls out slowed as much as it did: it passes a dependency's delay on")
        if (full := saturated(ev, load_above)) is not None:
            ev.score += SATURATION_BONUS
            ev.notes.append(f"its {full.metric} reached {usage_share(full):.0%} of capacity with no rise in requests")
        explained = explained_callers(ev, [c for c in anomalous if c.service in upstream], tolerance)
        if explained and not carried:
            ev.score += min(3, len(explained)) * EXPLAINS_BONUS
            ev.notes.append(f"explains anomalies in callers {sorted(explained)}")
        if not carried and not origin and led_down(ev, anomalous, downstream, tolerance):
            ev.score += EARLIEST_BONUS
            ev.notes.append("its own resources rose and everything anomalous below it deviated after it")
        if ev.service in first:
            ev.score += EARLIEST_BONUS / len(first)
            ev.notes.append("among the first to deviate")
        if changed_before_onset(ev):
            ev.score += CHANGE_BONUS
            ev.notes.append("changed shortly before the onset")
        if any(f.kind in LOG_KINDS and f.score >= SIGNIFICANT for f in ev.findings):
            ev.score += LOG_BONUS
            ev.notes.append(_log_note(ev))
        if breaks_here:
            ev.score += TRACE_BONUS
            ev.notes.append("traces through it leave the paths they took in the reference")
    _blame(evidence, topology)
    return in_rank_order(evidence.values())


