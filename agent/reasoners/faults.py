"""Name the fault kind a service's Findings point to, from metric families and nearby changes."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from functools import lru_cache

from agent.detectors.direction import accumulates, infer_direction, name_tokens, says_wait
from agent.findings import Finding, FindingKind

STORAGE_WORDS = ("byte", "used", "free", "avail", "stats", "queue", "read", "write", "idle", "inode")
# (fault, metric-name globs, bad direction) in priority order among families with similar evidence.
METRIC_FAMILIES: list[tuple[str, tuple[str, ...], str]] = [
    # a storage volume's metrics say what they measure (VolumeReadBytes, kubelet_volume_stats_used_bytes);
    # a bare "volume" is as often an amount of traffic (Twitter_volume, trade_volume)
    ("disk_full", ("*disk*", "*filesystem*", *(f"*volume*{w}*" for w in STORAGE_WORDS)), "up"),
    ("memory_leak", ("*memory*", "*mem_*", "*heap*", "*rss*"), "up"),
    ("cache_failure", ("*hit_ratio*", "*hit_rate*", "*cache_hit*"), "down"),
    # an amount of requests: these rates, and counts of requests or calls (``_counts_requests``), when the name
    # says nothing else (cpu_requests is CPU) and no bad direction of its own (failed_requests, ThrottledRequests)
    ("traffic_spike", ("*requests_per_second*", "*rps*", "*qps*", "*workload*", "*request_rate*"), "up"),
    ("cpu_saturation", ("*cpu*",), "up"),
    ("error_fault", ("*error*", "*fail*", "*5xx*"), "up"),
    ("error_fault", ("*success*",), "down"),
    ("slow_dependency", ("*latency*", "*duration*", "*response_time*"), "up"),
]
_MATCH_ORDER = sorted(METRIC_FAMILIES, key=lambda entry: entry[0] == "traffic_spike")
# whole words of a name that say a family where no glob does: short forms standing alone or ending a name
# (``mem``, ``cartservice_mem``, ``MemUsage``; ``tps``, ``Invocations``); a wait (``avg_rt``, ``cost_ms``) is
# a latency by ``says_wait``
FAMILY_WORDS = {
    ("memory_leak", "up"): frozenset({"mem", "ram"}),
    ("traffic_spike", "up"): frozenset({"tps", "throughput", "invocations"}),
    ("error_fault", "up"): frozenset({"err", "errs"}),  # err_rate, err_cnt
    ("error_fault", "down"): frozenset({"succ"}),  # succ_rate
}
_REQUEST_WORDS = frozenset({"request", "requests", "call", "calls"})
_AMOUNT_WORDS = frozenset({"total", "count", "ops", "rate"})
# requests waiting or in progress (a slowdown raises them), a timer's other parts, configured amounts
_NOT_AN_AMOUNT = frozenset({"in", "flight", "inflight", "active", "pending", "queued", "queue", "current",
                            "concurrent", "avg", "mean", "max", "min", "sum", "bucket", "resource", "limit",
                            "limits", "size", "bytes", "system"})
RESOURCE_FAULTS = ("cpu_saturation", "memory_leak", "disk_full")
UNKNOWN_FAULT = "unknown"  # no metric family, log or trace of the service names a kind
# A latency quantile speaks for the slowest requests: p99 for the slowest 1 %. When such a tail slows, callers'
# deadlines cut some of it off, so an error share that rose by less than this much of all requests beside a
# latency rise is the slow requests timing out, not a fault of its own that fails requests.
TIMEOUT_SHARE = 0.01
CHANGE_FAULTS = {"config": "bad_config", "flag": "bad_config", "deploy": "bad_release", "canary": "bad_release"}
LOG_FAULT_HINTS = (
    ("disk_full", ("no space left", "disk full", "enospc")),
    ("memory_leak", ("oom", "out of memory", "outofmemory", "gc pause")),
    ("bad_config", ("config",)),
    ("slow_dependency", ("timeout", "timed out", "deadline exceeded", "slow ")),
)
METRIC_KINDS = {
    FindingKind.ANOMALY, FindingKind.HISTORY_DEVIATION, FindingKind.THRESHOLD_BREACH, FindingKind.SLO_BURN,
    FindingKind.TREND, FindingKind.CHANGE_REGRESSION, FindingKind.CANARY_REGRESSION,
}
LOG_KINDS = {FindingKind.LOG_BURST, FindingKind.LOG_NEW_TEMPLATE}


def metric_family(metric: str | None) -> str | None:
    """The fault family a metric name belongs to, regardless of direction."""
    entry = _family_entry(metric) if metric else None
    return entry[0] if entry else None


@lru_cache(maxsize=4096)  # asked for every Finding by several ranking rules; names repeat
def _family_entry(metric: str) -> tuple[str, tuple[str, ...], str] | None:
    """The family whose globs match the name, in the order of ``METRIC_FAMILIES`` except that a request count
    comes last and only when the name says no bad direction of its own, and a latency's count or sum is none."""
    name, words = metric.lower(), set(name_tokens(metric))
    for entry in _MATCH_ORDER:
        fault, globs, bad = entry
        named = _matches(name, globs) or not FAMILY_WORDS.get((fault, bad), frozenset()).isdisjoint(words)
        if fault == "traffic_spike":
            if infer_direction(metric) == "both" and (named or _counts_requests(metric)):
                return entry
        elif fault == "slow_dependency":
            if not accumulates(metric) and (named or says_wait(metric)):
                return entry  # request_duration_seconds_count counts requests, _sum adds their time up
        elif named:
            return entry
    return None


def _matches(name: str, globs: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, g) for g in globs)


def _counts_requests(metric: str) -> bool:
    """A count or rate of requests or calls (http_requests_total, RequestCount, calls_total, a histogram's
    _count), not requests in flight, queued or configured, nor a timer's sum or maximum."""
    words = set(name_tokens(metric))
    return bool(words & _REQUEST_WORDS and words & _AMOUNT_WORDS and not words & _NOT_AN_AMOUNT)


def error_logs(finding: Finding) -> bool:
    """A log Finding about errors: ERROR/FATAL lines or exception and stack-trace text at any level.

    Code faults (an exception thrown, a wrong value returned) barely move metrics but show as errors in
    the faulty service's logs; a WARN or INFO template that got more frequent is routine far more often.
    """
    return finding.kind in LOG_KINDS and finding.numbers.get("level_weight", 0.0) >= 1.0


def hinted_faults(text: str) -> list[str]:
    """The fault families a log text names by their key words (``LOG_FAULT_HINTS``), in that order."""
    lowered = text.lower()
    return [fault for fault, hints in LOG_FAULT_HINTS if any(h in lowered for h in hints)]


def hinted_fault(text: str) -> str | None:
    """The first fault family a log text names by its key words, if any."""
    return next(iter(hinted_faults(text)), None)


def bad_family(finding: Finding) -> str | None:
    """The fault family of a metric Finding that moved its family's bad way (latency up, a hit ratio down), or None."""
    if finding.kind not in METRIC_KINDS or not finding.metric:
        return None
    entry = _family_entry(finding.metric)
    if entry is None or (finding.direction and entry[2] != finding.direction):
        return None
    return entry[0]


def family_evidence(findings: Sequence[Finding]) -> dict[str, float]:
    """Strongest evidence per fault family: metric Findings in the family's bad direction, and the service's own
    error logs for the family their text names (``LOG_FAULT_HINTS``: no space left -> disk, out of memory ->
    memory, ...), else for ``error_fault`` (an exception it throws is an error whether or not a metric counts it);
    a service that stopped answering (``went_silent``) for ``error_fault`` too: calls to it fail."""
    evidence: dict[str, float] = {}
    for finding in findings:
        if finding.kind == FindingKind.WENT_SILENT:  # calls to a service that stopped answering fail
            evidence["error_fault"] = max(evidence.get("error_fault", 0.0), finding.score)
            continue
        if error_logs(finding):
            fault = hinted_fault(finding.summary) or "error_fault"
            evidence[fault] = max(evidence.get(fault, 0.0), finding.score)
            continue
        fault = bad_family(finding)
        if fault is None:
            continue
        weight = 1.2 if finding.kind == FindingKind.TREND and fault in ("memory_leak", "disk_full") else 1.0
        evidence[fault] = max(evidence.get(fault, 0.0), finding.score * weight)
    return evidence


def timeouts(finding: Finding) -> bool:
    """An error or success share (a ratio whose ceiling is known, ``numbers.ceiling``) that moved by less than
    ``TIMEOUT_SHARE`` of all requests: what the tail of a slowed service loses to its callers' deadlines."""
    if finding.kind not in METRIC_KINDS or metric_family(finding.metric) != "error_fault":
        return False
    ceiling = finding.numbers.get("ceiling")
    before, after = finding.numbers.get("baseline_median"), finding.numbers.get("post_median")
    if not ceiling or before is None or after is None:
        return False
    return abs(after - before) < TIMEOUT_SHARE * ceiling


def classify_fault(findings: Sequence[Finding], change_types: Sequence[str] = ()) -> str:
    """The most likely fault kind for one service's Findings and the changes made to it before onset.

    Beside a latency rise, an error share that rose by less than ``TIMEOUT_SHARE`` of requests (``timeouts``)
    is no error evidence: a service several times slower loses a few of its slowest requests to timeouts,
    while a fault that fails requests fails a visible share of them.
    """
    for change_type in change_types:
        fault = CHANGE_FAULTS.get(change_type)
        if fault:
            return fault
    evidence = family_evidence(findings)
    if "slow_dependency" in evidence:
        evidence = family_evidence([f for f in findings if not timeouts(f)])
    log_text = " ".join(f.summary.lower() for f in findings if f.kind in LOG_KINDS)
    for fault in hinted_faults(log_text):
        evidence[fault] = evidence.get(fault, 0.0) + 0.3
    if not evidence:  # only logs: errors, or requests breaking off at the service (a code fault either way)
        broken = any(f.kind == FindingKind.TRACE_DIVERGENCE for f in findings)
        if log_text or broken:
            return "error_fault"
        # requests only wait at it (a network delay leaves its own metrics flat): its callers' slow dependency
        return "slow_dependency" if any(f.kind == FindingKind.TRACE_SLOWDOWN for f in findings) else UNKNOWN_FAULT
    strongest = max(evidence.values())
    for fault, _, _ in METRIC_FAMILIES:
        if evidence.get(fault, 0.0) >= 0.7 * strongest:
            return fault
    return max(evidence, key=evidence.__getitem__)
