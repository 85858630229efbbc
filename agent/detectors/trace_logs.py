"""Trace-aware log evidence: services after whose events traces now leave the paths of the reference.

Lines are grouped by trace id into per-trace sequences of (service, drain3 template) events. The
reference traces say which event follows which; an incident trace that first steps off those paths is
blamed on a service (``trace_paths.PathModel.first_divergence``). A service is reported when far more of
its traces diverge than the reference's own traces do when each is judged against the others.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from scipy.stats import binom

from agent.detectors.emit import make_finding
from agent.detectors.log_templates import MinedLines, ServiceMiners, mine_windows
from agent.detectors.scoring import combine, p_confidence
from agent.detectors.trace_ids import with_trace_ids
from agent.detectors.trace_paths import END, Divergence, PathModel, Step, services_in
from agent.detectors.trace_timing import detect_trace_slowdown
from agent.detectors.wording import untrusted
from agent.findings import Finding, FindingKind
from agent.series import LogRecord

DETECTOR = "trace_logs"
MIN_REFERENCE_TRACES = 10  # fewer traces in the reference say too little about the usual paths


def traces_by_window(mined: MinedLines) -> tuple[dict[str, list[Step]], dict[str, list[Step]]]:
    """Per-trace steps of the baseline and of the current window, in time order (a trace belongs to its
    first line's window); lines without a trace id are left out."""
    windows: dict[str, dict[str, list[Step]]] = {"baseline": defaultdict(list), "current": defaultdict(list)}
    owner: dict[str, str] = {}
    for record, window, key in mined.lines:
        if record.trace_id:
            trace = str(record.trace_id)
            windows[owner.setdefault(trace, window)][trace].append(Step(key, record.ts))
    for traces in windows.values():
        for steps in traces.values():
            steps.sort(key=lambda s: s.ts)
    return windows["baseline"], windows["current"]


def _blame(model: PathModel, traces: Sequence[list[Step]], leave_out: bool
           ) -> tuple[Counter[str], Counter[str], dict[str, list[Divergence]]]:
    """Per service: traces blamed on it, traces it took part in (logged or blamed), the divergences."""
    blamed: Counter[str] = Counter()
    involved: Counter[str] = Counter()
    found: dict[str, list[Divergence]] = defaultdict(list)
    for trace in traces:
        divergence = model.first_divergence(trace, leave_out=leave_out)
        services = services_in(trace)
        if divergence is not None:
            blamed[divergence.service] += 1
            found[divergence.service].append(divergence)
            services.add(divergence.service)
        involved.update(services)
    return blamed, involved, found


def _judged_traces(records: Sequence[LogRecord], baseline: tuple[float, float], current: tuple[float, float]
                   ) -> tuple[MinedLines, dict[str, list[Step]], dict[str, list[Step]]] | None:
    """The mined lines and the reference's and the incident's traces; None when there is nothing to judge
    (no trace ids, fewer than ``MIN_REFERENCE_TRACES`` reference traces, or no incident trace). A line with no
    ``trace_id`` of its own takes the one its text carries (``trace_ids``)."""
    if baseline[1] <= baseline[0] or current[1] <= current[0]:
        raise ValueError(f"log windows must have end > start, got baseline={baseline} current={current}")
    records = with_trace_ids(records)
    if not any(r.trace_id for r in records):
        return None
    mined = mine_windows([r for r in records if r.trace_id], baseline, current)
    reference, incident = traces_by_window(mined)
    if len(reference) < MIN_REFERENCE_TRACES or not incident:
        return None
    return mined, reference, incident


def detect_trace_evidence(
    records: Sequence[LogRecord],
    *,
    baseline: tuple[float, float],
    current: tuple[float, float],
    min_count: int = 3,
    alpha: float = 1e-3,
    signal: str | None = None,
    source: str = "",
) -> list[Finding]:
    """Both trace detectors on the same traces, the lines mined once: ``trace_divergence``
    (``detect_trace_divergence``) and ``trace_slowdown`` (``trace_timing.detect_trace_slowdown``)."""
    traces = _judged_traces(records, baseline, current)
    if traces is None:
        return []
    common = {"min_count": min_count, "alpha": alpha, "signal": signal, "source": source}
    return [*_divergences(*traces, current=current, **common),
            *detect_trace_slowdown(traces[1], traces[2], window=current, **common)]


def detect_trace_divergence(
    records: Sequence[LogRecord],
    *,
    baseline: tuple[float, float],
    current: tuple[float, float],
    min_count: int = 3,
    alpha: float = 1e-3,
    signal: str | None = None,
    source: str = "",
) -> list[Finding]:
    """``trace_divergence`` Findings: services blamed for far more diverging traces than the reference shows.

    The reference's own rate for a service is leave-one-out (each reference trace judged against the
    others), smoothed ``(k + 1) / (n + 2)``; the current count is tested against it (binomial, one-sided).
    A service needs ``>= min_count`` blamed traces and ``p < alpha``. Severity is the excess share of its
    traces that diverged, ``(share - p0) / (1 - p0)``; confidence ``p_confidence(p, alpha)``. No trace ids,
    or fewer than ``MIN_REFERENCE_TRACES`` reference traces: no judgement (no Findings).
    """
    traces = _judged_traces(records, baseline, current)
    if traces is None:
        return []
    return _divergences(*traces, current=current, min_count=min_count, alpha=alpha, signal=signal, source=source)


def _divergences(mined: MinedLines, reference: dict[str, list[Step]], incident: dict[str, list[Step]], *,
                 current: tuple[float, float], min_count: int, alpha: float, signal: str | None, source: str
                 ) -> list[Finding]:
    model = PathModel.learn(reference.values())
    ref_blamed, ref_involved, _ = _blame(model, list(reference.values()), leave_out=True)
    blamed, involved, found = _blame(model, list(incident.values()), leave_out=False)
    findings = []
    for service in sorted(blamed):
        k, n = blamed[service], involved[service]
        p0 = (ref_blamed[service] + 1) / (ref_involved[service] + 2)
        p_value = float(binom.sf(k - 1, n, p0))
        if k < min_count or p_value >= alpha:
            continue
        excess = max(0.0, (k / n - p0) / (1.0 - p0))
        numbers = {"diverged": k, "traces": n, "share": k / n, "reference_diverged": ref_blamed[service],
                   "reference_traces": ref_involved[service], "reference_share": p0, "p_value": p_value}
        finding = make_finding(
            FindingKind.TRACE_DIVERGENCE, detector=DETECTOR, subject=service, service=service, window=current,
            score=combine(excess, p_confidence(p_value, alpha)), summary=_summary(service, numbers, found[service],
                                                                                   mined.miners),
            numbers=numbers, direction="up", onset=min(d.ts for d in found[service]),
        )
        findings.append(finding.model_copy(update={"signal": signal, "source": source}))
    return findings


def _summary(service: str, numbers: dict[str, float], divergences: list[Divergence], miners: ServiceMiners) -> str:
    """One line: how many of its traces diverged, and the most common divergence (templates quoted)."""
    after, seen, expected = Counter((d.after, d.seen, d.expected) for d in divergences).most_common(1)[0][0]

    def name(event: tuple[str, int]) -> str:
        return "the trace's end" if event == END else f"{event[0]} {untrusted(miners.template(event), 80)}"

    return (
        f"{service}: {numbers['diverged']:.0f} of {numbers['traces']:.0f} traces through it left the reference's "
        f"paths ({numbers['reference_diverged']:.0f} of {numbers['reference_traces']:.0f} there); mostly after "
        f"{name(after)} came {name(seen)} instead of {name(expected)}"
    )
