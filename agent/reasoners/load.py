"""Resources used up and load that entered: a service's own CPU, memory or disk rising, how full it got, and
whether extra requests came in at it first (docs/reasoners.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agent.detectors.direction import ERROR_WORDS, infer_direction, name_tokens
from agent.findings import Finding
from agent.reasoners.faults import METRIC_KINDS, RESOURCE_FAULTS, metric_family
from agent.reasoners.service_evidence import SIGNIFICANT, ServiceEvidence, no_later, shared, weight

SATURATED_SHARE = 0.8  # of a usage share's ceiling (80 %, 0.8): a resource this full is saturated
HEADROOM_WORDS = frozenset({"idle", "free", "avail", "available"})  # a rise of what is left is no saturation


def resource_rises(ev: ServiceEvidence) -> list[Finding]:
    """The service's own significant rises of CPU, memory or disk use (not of what is left: idle, free,
    available; not a host's series every pod on it reports)."""
    return [f for f in ev.findings if f.kind in METRIC_KINDS and f.direction == "up" and weight(f) >= SIGNIFICANT
            and metric_family(f.metric) in RESOURCE_FAULTS and not shared(f)
            and not HEADROOM_WORDS & set(name_tokens(f.metric or ""))]


def own_saturation(ev: ServiceEvidence) -> bool:
    """CPU, memory or disk of the service itself deviates: a slow dependency does not cause that."""
    return bool(resource_rises(ev))


def saturated(ev: ServiceEvidence, load_above: bool) -> Finding | None:
    """The service's own CPU, memory or disk usage share that rose to at least ``SATURATED_SHARE`` of its
    ceiling while no more requests came (its request rate did not rise, nor did that of a service above
    it, ``load_above``), if any (the fullest).

    A resource used up without more work to do went to something other than the work: contention, a
    hog, a loop, a leak. Saturation that more requests explain is the load's doing (``load_origin``).
    """
    if load_above or rising_load(ev):
        return None
    return max((f for f in resource_rises(ev) if usage_share(f) >= SATURATED_SHARE), key=usage_share, default=None)


def usage_share(finding: Finding) -> float:
    """How full the resource is at the alert: its highest level in the minutes up to it over the usage share's
    ceiling (``recent_level`` / ``ceiling``, see ``graph.analysis``; 0 if either is unknown)."""
    level, ceiling = finding.numbers.get("recent_level"), finding.numbers.get("ceiling")
    return level / ceiling if level is not None and ceiling else 0.0


def load_rises(ev: ServiceEvidence) -> list[Finding]:
    """The service's significant rises of request rate."""
    return [f for f in ev.findings if f.kind in METRIC_KINDS and f.direction == "up" and weight(f) >= SIGNIFICANT
            and metric_family(f.metric) == "traffic_spike"]


def rising_load(ev: ServiceEvidence) -> bool:
    """The service's request rate rose significantly."""
    return bool(load_rises(ev))


def load_origin(ev: ServiceEvidence, anomalous: Sequence[ServiceEvidence], downstream: set[str],
                 topology: Mapping[str, Sequence[str]], tolerance: float) -> bool:
    """Request rate rose at this service (``rank_by_rules`` has checked it rose at none of its callers), nor had it
    risen more than ``tolerance`` earlier at another anomalous service that is not below it (the load came in
    there, by calls a graph read off traces or log lines may not show; a service below may show the load this one
    sends first), no
    other dependency of its callers started failing before it, and the load did something: the service's own
    CPU, memory or disk rose, or a service below it in the call graph (up to four calls down) deviated, at the
    time the load rose, within ``tolerance`` either way (``at_once``; an unknown onset counts as simultaneous):
    load above capacity slows what it reaches at once. The load entered here. When a caller's other
    dependency failed first (a cache missing, a service erroring), the extra load here is the caller's
    requests falling through to it; a rise that saturated nothing is traffic, not a cause."""
    rises = load_rises(ev)
    if not rises:
        return False
    rose = min((f.onset for f in rises if f.onset is not None), default=ev.onset)
    if any(not no_later(rose, load_rose(s), tolerance) for s in anomalous
           if s is not ev and s.service not in downstream):
        return False
    if not any(at_once(f.onset, rose, tolerance) for f in resource_rises(ev)) and not any(
        d.service in downstream and at_once(d.onset, rose, tolerance) for d in anomalous
    ):
        return False
    callers = [c for c, deps in (topology or {}).items() if ev.service in deps]
    siblings = {d for c in callers for d in topology.get(c, ()) if d != ev.service}
    failed = [failing_since(s) for s in anomalous if s.service in siblings]
    return not any(since is not None and no_later(since, rose, tolerance) for since in failed)


def led_down(ev: ServiceEvidence, anomalous: Sequence[ServiceEvidence], downstream: set[str],
             tolerance: float) -> bool:
    """The service's own CPU, memory or disk rose, and every anomalous service below it in the call graph (up to
    four calls down, ``downstream``; at least one) deviated more than ``tolerance`` after it: the trouble went
    down its calls from it. A failure travels up the calls (callers wait on what they call); what travels down
    is work, so this is load that came in through it even when its request rate, counted a few requests a
    sample, shows no significant rise (``load_origin`` needs one)."""
    below = [d for d in anomalous if d.service in downstream]
    return bool(below) and own_saturation(ev) and ev.onset is not None and all(
        d.onset is not None and d.onset > ev.onset + tolerance for d in below)


def load_rose(ev: ServiceEvidence) -> float | None:
    """When the service's request rate began to rise significantly, if it did (and the onset is known)."""
    return min((f.onset for f in load_rises(ev) if f.onset is not None), default=None)


def at_once(onset: float | None, rose: float | None, tolerance: float) -> bool:
    """A deviation at the time the load rose, within ``tolerance`` either way (an unknown onset counts as
    simultaneous): what the load did, if anything, it did at once."""
    return no_later(onset, rose, tolerance) and no_later(rose, onset, tolerance)


def failing_since(ev: ServiceEvidence) -> float | None:
    """When the service started failing its callers (a significant fall of a hit ratio or success rate, or
    a rise of errors), if it did."""
    onsets = [f.onset for f in ev.findings if f.kind in METRIC_KINDS and f.onset is not None
              and weight(f) >= SIGNIFICANT and serves_worse(f)]
    return min(onsets) if onsets else None


def serves_worse(finding: Finding) -> bool:
    """The Finding says the service answers its callers worse: a fall of a metric whose fall is bad (a success rate, a
    hit ratio) or a rise of errors."""
    bad = infer_direction(finding.metric or "")
    return (bad == "down" and finding.direction == "down") or (
        finding.direction == "up" and bool(ERROR_WORDS & set(name_tokens(finding.metric or ""))))
