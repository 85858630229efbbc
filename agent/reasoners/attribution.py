"""Name a ranked root-cause candidate's fault kind: from its own Findings and recent changes, or else from how
its callers measured their calls to it. (``faults`` names the kind a set of Findings points to; this module
chooses which Findings of a ranked candidate to ask.)"""

from __future__ import annotations

from collections.abc import Sequence

from agent.findings import Finding
from agent.reasoners.faults import UNKNOWN_FAULT, classify_fault, family_evidence, metric_family
from agent.reasoners.ranking import CHANGE_WINDOW_S
from agent.reasoners.service_evidence import ServiceEvidence, caller_side, own_findings

CALL_FAULTS = ("error_fault", "slow_dependency")  # what callers' measurements of their calls to a service can name


def fault_for(ev: ServiceEvidence) -> str:
    """The fault kind for a ranked service (``attributed_fault``)."""
    return attributed_fault(ev)[0]


def attributed_fault(ev: ServiceEvidence) -> tuple[str, list[str]]:
    """The fault kind for a ranked service, using changes made shortly before its onset, and the services it was
    read off (empty when its own evidence named it): when its own Findings name no kind (it has none, or only
    ones of no fault family: syscalls, bytes sent), the kind the Findings that implicate it name
    (``implicated_fault``), read off the callers whose calls to it name that kind."""
    change_types = [
        c.type for c in ev.changes
        if ev.onset is None or ev.onset - CHANGE_WINDOW_S <= c.ts <= ev.onset + 60
    ]
    own = classify_fault(own_findings(ev.findings), change_types)
    if own != UNKNOWN_FAULT:
        return own, []
    fault = implicated_fault(ev.blamed_by)
    return fault, [] if fault == UNKNOWN_FAULT else implicating_callers(ev.blamed_by, fault)


def _calls_to(blamed_by: Sequence[Finding]) -> list[Finding]:
    """The Findings among ``blamed_by`` that measure calls to the service (caller-side, of a call fault's family)."""
    return [f for f in blamed_by if caller_side(f.metric) and metric_family(f.metric) in CALL_FAULTS]


def implicated_fault(blamed_by: Sequence[Finding]) -> str:
    """The fault kind a service with no Finding of its own gets from its callers' measurements of their calls to
    it: slower calls (a delay on its network, its pod paused: its own metrics stay flat) -> ``slow_dependency``,
    failing calls -> ``error_fault``, weighed as ``classify_fault`` weighs a service's own metrics (a latency rise's
    timed-out tail is no error). ``unknown`` when they name neither, as a callee's fall in work does (the caller
    stopped sending it, not why)."""
    fault = classify_fault(_calls_to(blamed_by))
    return fault if fault in CALL_FAULTS else UNKNOWN_FAULT


def implicating_callers(blamed_by: Sequence[Finding], fault: str) -> list[str]:
    """The services whose measurements of their calls to a service name ``fault`` (in its bad direction), sorted."""
    return sorted({f.owner for f in _calls_to(blamed_by) if fault in family_evidence([f])})
