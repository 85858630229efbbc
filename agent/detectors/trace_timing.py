"""Slow hand-offs in traces: the service common to the hand-offs that now take far longer than usual.

A hand-off is two consecutive lines of one trace logged by different services; its gap is the time the
request took to travel from one to the other (a call arriving, an answer coming back). A network delay
at a service slows every hand-off out of it and into it — its answers and its calls — while its own
metrics stay flat; a starved CPU slows the moment it starts working. Either way the slow hand-offs share
one service. Each slow hand-off names two services; the one common to most of them explains them (its
callers' slow hand-offs are all with it, while its own are with every partner), so the slow hand-offs
are explained away greedily, the service explaining the most first, and a service is reported when far
more of its hand-offs are slow than in the reference.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from scipy.stats import binom

from agent.detectors.emit import make_finding
from agent.detectors.scoring import combine, p_confidence, saturate
from agent.detectors.trace_paths import Step
from agent.findings import Finding, FindingKind

DETECTOR = "trace_timing"
SLOWDOWN = 4.0  # a hand-off is slow beyond this multiple of the usual long hand-off (the reference's 90th pct)
USUAL_QUANTILE = 0.9
MIN_GAP_S = 0.02  # below this, gaps are timestamp granularity and scheduling noise, never "slow"
MIN_REFERENCE_HANDOFFS = 5  # fewer reference hand-offs between two services: judge them by the pooled ones
SLOW_SHARE = 0.1  # one hand-off in ten slow is the severity threshold (score 0.5 before confidence)


@dataclass(frozen=True)
class Handoff:
    """Two consecutive lines of a trace from different services, and the time between them."""

    pair: frozenset[str]
    gap: float
    ts: float  # when the later line was logged


def handoffs(traces: Iterable[Sequence[Step]]) -> list[Handoff]:
    """Every hand-off of the traces (their steps in time order)."""
    found = []
    for trace in traces:
        for a, b in pairwise(trace):
            if a.event[0] != b.event[0]:
                found.append(Handoff(frozenset((a.event[0], b.event[0])), b.ts - a.ts, b.ts))
    return found


@dataclass(frozen=True)
class SlowLimits:
    """Per pair of services, the gap beyond which a hand-off is slow, and the limit for pairs the reference
    saw too rarely (from all its hand-offs)."""

    by_pair: Mapping[frozenset[str], float]
    pooled: float

    def slow(self, handoff: Handoff) -> bool:
        return handoff.gap > self.by_pair.get(handoff.pair, self.pooled)


def slow_limits(reference: Sequence[Handoff]) -> SlowLimits:
    """The reference's limits: ``SLOWDOWN`` x its usual long gap, at least ``MIN_GAP_S``, per pair with
    ``MIN_REFERENCE_HANDOFFS`` or more hand-offs, else pooled."""
    by_pair: dict[frozenset[str], list[float]] = defaultdict(list)
    for h in reference:
        by_pair[h.pair].append(h.gap)

    def limit(gaps: Sequence[float]) -> float:
        return max(SLOWDOWN * float(np.quantile(gaps, USUAL_QUANTILE)), MIN_GAP_S)

    pooled = limit([h.gap for h in reference]) if reference else MIN_GAP_S
    return SlowLimits({p: limit(g) for p, g in by_pair.items() if len(g) >= MIN_REFERENCE_HANDOFFS}, pooled)


def explain_away(slow: Sequence[Handoff], total: Mapping[str, int]) -> dict[str, list[Handoff]]:
    """Assign each slow hand-off to one of its two services: repeatedly the service in most of the slow
    hand-offs not yet explained, until every one is explained. Ties (two services slow only with each other)
    go to the one with the larger share of its ``total`` hand-offs slow: its partner is fast with others."""
    left = list(slow)
    explained: dict[str, list[Handoff]] = {}
    while left:
        counts = Counter(s for h in left for s in h.pair)
        service = min(counts, key=lambda s: (-counts[s], -counts[s] / max(total.get(s, 0), 1), s))
        explained[service] = [h for h in left if service in h.pair]
        left = [h for h in left if service not in h.pair]
    return explained


def _per_service(items: Iterable[Handoff], limits: SlowLimits) -> tuple[Counter[str], Counter[str]]:
    """Hand-offs per service, all and slow."""
    total: Counter[str] = Counter()
    slow: Counter[str] = Counter()
    for h in items:
        total.update(h.pair)
        if limits.slow(h):
            slow.update(h.pair)
    return total, slow


def detect_trace_slowdown(
    reference: Mapping[str, Sequence[Step]],
    incident: Mapping[str, Sequence[Step]],
    *,
    window: tuple[float, float],
    min_count: int = 3,
    alpha: float = 1e-3,
    signal: str | None = None,
    source: str = "",
) -> list[Finding]:
    """``trace_slowdown`` Findings: services whose hand-offs in the incident's traces are far more often slow.

    Slow: the gap exceeds the limit ``slow_limits`` learned for that pair of services. The slow hand-offs
    are explained away (``explain_away``); a service needs ``>= min_count`` of them and a one-sided binomial
    ``p < alpha`` against the share of its reference hand-offs that were slow, smoothed ``(k + 1) / (n + 2)``.
    Severity ``saturate(excess share / SLOW_SHARE)``, confidence ``p_confidence(p, alpha)``.
    """
    before = handoffs(reference.values())
    now = handoffs(incident.values())
    if not before or not now:
        return []
    limits = slow_limits(before)
    ref_total, ref_slow = _per_service(before, limits)
    total = Counter(s for h in now for s in h.pair)
    findings = []
    for service, mine in sorted(explain_away([h for h in now if limits.slow(h)], total).items()):
        k, n = len(mine), total[service]
        p0 = (ref_slow[service] + 1) / (ref_total[service] + 2)
        p_value = float(binom.sf(k - 1, n, p0))
        if k < min_count or p_value >= alpha:
            continue
        excess = max(0.0, (k / n - p0) / (1.0 - p0))
        partners = sorted({s for h in mine for s in h.pair if s != service})
        numbers = {"slow": k, "handoffs": n, "share": k / n, "reference_slow": ref_slow[service],
                   "reference_handoffs": ref_total[service], "reference_share": p0, "p_value": p_value,
                   "median_slow_gap_s": float(np.median([h.gap for h in mine]))}
        finding = make_finding(
            FindingKind.TRACE_SLOWDOWN, detector=DETECTOR, subject=service, service=service, window=window,
            score=combine(saturate(excess / SLOW_SHARE), p_confidence(p_value, alpha)),
            summary=(f"{service}: {k} of {n} hand-offs in traces with it were slow (median "
                     f"{numbers['median_slow_gap_s'] * 1000:.0f} ms; {ref_slow[service]} of {ref_total[service]} in "
                     f"the reference), with {len(partners)} partner service(s): {', '.join(partners[:5])}"),
            numbers=numbers, direction="up", onset=min(h.ts for h in mine),
        )
        findings.append(finding.model_copy(update={"signal": signal, "source": source}))
    return findings
