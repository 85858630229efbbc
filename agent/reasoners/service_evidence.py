"""What one service's Findings say: how much each weighs, how strong and how early the service deviates.

A Finding's weight is its calibrated score, discounted when it had recovered before the alert, when it measures
calls the service makes (a callee's delay seen from the caller), when it is less work done (a victim's sign) or
when other services report the same series (a host's figure). The constants are documented in docs/reasoners.md.
"""

from __future__ import annotations

import fnmatch
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from agent.detectors.direction import infer_direction
from agent.evidence import ChangeNote
from agent.findings import Finding, FindingKind
from agent.reasoners.faults import METRIC_KINDS, RESOURCE_FAULTS, bad_family, error_logs, metric_family

ONSET_TOLERANCE_S = 90.0  # onsets closer than this are "at the same time" (1-min samples, jitter)
ONSET_TOLERANCE_SAMPLES = 1.5  # ... or than this many samples, when the data is sampled more coarsely
SIGNIFICANT = 0.35  # a metric Finding at least this strong makes its service anomalous
CALLER_SIDE = ("*client*", "*outbound*", "*upstream*", "*downstream*", "*dependency*")  # latency of calls it makes
CALLER_SIDE_WEIGHT = 0.3  # a caller-side deviation mostly points at the callee, not the caller
LESS_WORK_WEIGHT = 0.3  # a fall of an unknown-direction metric (less work done) mostly marks a victim
WORK_FAMILIES = (None, "traffic_spike")  # a fall of these is less work done (requests too: a spike's opposite)
SHARED_WEIGHT = 0.3  # a series other services report too (a host's CPU under every pod on it) names no one
RECOVERED_Z = 1.5  # a deviation this close to the baseline around the alert had recovered before it
RUN_END = 0.5  # back within this share of the detector's alarm level: the excursion's run has ended
RECOVERED_WEIGHT = 0.3
UNFELT_WEIGHT = 0.3  # a silence that reached no caller (``numbers.unfelt``, set by ``ranking.unfelt_silences``)
TRACE_KINDS = (FindingKind.TRACE_DIVERGENCE, FindingKind.TRACE_SLOWDOWN)
# calls to the service break there: traces leave their paths or slow at it, or it stopped answering altogether
BREAKING_KINDS = (*TRACE_KINDS, FindingKind.WENT_SILENT)
# what a service's own trouble does to its callers: slower answers, errors, a cache that misses, a resource used up
PASSED_ON = ("slow_dependency", "error_fault", "cache_failure", *RESOURCE_FAULTS)


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
    if finding.numbers.get("unfelt"):
        w *= UNFELT_WEIGHT
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


def passed_on(finding: Finding) -> bool:
    """A deviation of a kind a service passes on to its callers: a metric of a ``PASSED_ON`` family moved its bad
    way, error logs, traces breaking at it. Not a metric of no known family that happens to move (syscalls,
    threads, open files), nor a change in the work it is sent (requests rising or falling); a service that stopped
    answering fails every call to it."""
    return error_logs(finding) or finding.kind in BREAKING_KINDS or bad_family(finding) in PASSED_ON


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
        """Its strength reaches ``SIGNIFICANT``."""
        return self.strength >= SIGNIFICANT


def in_rank_order(evidence: Iterable[ServiceEvidence]) -> list[ServiceEvidence]:
    """Services by score, highest first; equal scores by the earlier onset (none known: last), then by name.

    The one order of every ranking (the rules, the random walk, and experience's re-sort after its moves), so a
    tie is broken alike wherever the scores were last changed; the name is an arbitrary last resort."""
    return sorted(evidence, key=lambda e: (-e.score, math.inf if e.onset is None else e.onset, e.service))


def evidence_of_fault(finding: Finding) -> bool:
    """Findings that can make a service anomalous: metric deviations, error logs, traces that leave the
    reference's paths at the service (an exception cuts its work short even when it logs nothing new), and its
    series stopping while the others' went on (``detectors.silence``)."""
    return finding.kind in METRIC_KINDS or error_logs(finding) or finding.kind in BREAKING_KINDS


def _strength(findings: Sequence[Finding]) -> float:
    """The service's strongest metric or error-log Finding: scores are calibrated per series, so the
    strongest one says how unusual the service is, and a service with more metrics does not score higher."""
    return max((weight(f) for f in findings if evidence_of_fault(f)), default=0.0)


def first_onset(findings: Sequence[Finding]) -> float | None:
    """The earliest onset among the Findings that can make a service anomalous and weigh ``SIGNIFICANT``."""
    onsets = [f.onset for f in findings if evidence_of_fault(f) and f.onset is not None and weight(f) >= SIGNIFICANT]
    return min(onsets) if onsets else None


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
        reweigh(ev)
        ev.changes = sorted(by_service.get(ev.service, []), key=lambda c: c.ts)
    return grouped


def reweigh(ev: ServiceEvidence) -> None:
    """The service's strength and onset from its Findings (again, after a rule re-weighed some)."""
    ev.strength = _strength(ev.findings)
    ev.onset = first_onset(ev.findings)


def passed_on_evidence(ev: ServiceEvidence) -> list[Finding]:
    """The service's significant deviations of a kind its callers feel (``passed_on``)."""
    return [f for f in ev.findings if passed_on(f) and weight(f) >= SIGNIFICANT]


def own_findings(findings: Sequence[Finding]) -> list[Finding]:
    """One service's Findings without the series other services report too (a host's figure says nothing
    about which pod on it is at fault); all of them when that leaves none."""
    own = [f for f in findings if not shared(f)]
    return own or list(findings)


def onset_tolerance(findings: Sequence[Finding]) -> float:
    """How far apart two onsets must be to be ordered: ``ONSET_TOLERANCE_S``, or ``ONSET_TOLERANCE_SAMPLES``
    sampling intervals (the Findings' ``step_s``, their median) when the data is coarser."""
    steps = [f.numbers["step_s"] for f in findings if f.numbers.get("step_s")]
    return max(ONSET_TOLERANCE_S, ONSET_TOLERANCE_SAMPLES * float(np.median(steps))) if steps else ONSET_TOLERANCE_S


def no_later(a: float | None, b: float | None, tolerance: float = ONSET_TOLERANCE_S) -> bool:
    """True when onset ``a`` is not later than onset ``b`` (unknown onsets compare as simultaneous)."""
    if a is None or b is None:
        return True
    return a <= b + tolerance
