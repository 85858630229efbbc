"""Log findings: templates new in the current window, and templates bursting above their baseline rate."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
from scipy.stats import poisson

from agent.detectors.emit import make_finding
from agent.detectors.log_templates import TemplateCount, count_templates
from agent.detectors.scoring import combine, p_confidence, saturate
from agent.detectors.wording import fmt_duration, fmt_time, untrusted
from agent.findings import Finding, FindingKind
from agent.series import LogRecord

DETECTOR = "logs"
LEVEL_WEIGHT = {"FATAL": 1.0, "ERROR": 1.0, "WARN": 0.7, "INFO": 0.4, "DEBUG": 0.2}
DEFAULT_WEIGHT = 0.4
NEW_TEMPLATE_MIN_WEIGHT = 0.7  # a new INFO/DEBUG template is routine variety, not evidence (unless it is an exception)
# Exceptions and stack traces are logged at any level (a caught exception at INFO, a trace line at
# DEBUG): their text, not their level, says something broke. Java/Python/Go/.NET shapes, Node.js's
# `Error: ...` and its frames `at fn (/app/x.js:10:5)`, Rust's `panicked at`.
EXCEPTION_TEXT = re.compile(
    r"exception\b|\w+(error|exception):|traceback \(most recent call last\)|^\s*at [\w.$<>]+\(|caused by:|"
    r"\bpanic:|\bgoroutine\b|stack ?trace|\bthrew\b|\bfailed\b|\bfailure\b|"
    r"(?-i:(^|\s)Error: )|^\s*at \S.* \(\S+:(\d+|<NUM>|<\*>):(\d+|<NUM>|<\*>)\)|\bpanicked at\b",  # masked or not
    re.IGNORECASE,
)


def level_weight(level: str, template: str) -> float:
    """How much a template says "something broke": by level, and 1 for exception or stack-trace text."""
    if EXCEPTION_TEXT.search(template):
        return 1.0
    return LEVEL_WEIGHT.get(level, DEFAULT_WEIGHT)


def detect_logs(
    records: Sequence[LogRecord],
    *,
    baseline: tuple[float, float],
    current: tuple[float, float],
    min_count: int = 3,
    min_ratio: float = 3.0,
    alpha: float = 1e-3,
    test_new: bool = False,
    store_begins: float | None = None,
    signal: str | None = None,
    source: str = "",
) -> list[Finding]:
    """``log_new_template`` and ``log_burst`` Findings from lines in the two windows (drain3 templates).

    New: a template seen ``>= min_count`` times now and never in the baseline, at WARN or above or with
    exception / stack-trace text at any level; severity ``saturate(count / min_count)`` x level weight
    (ERROR/FATAL 1, WARN 0.7, INFO 0.4, DEBUG 0.2; exception text 1 whatever the level).
    With ``test_new`` (an inspection: it scans every service with no alert or change saying something happened
    there), a new template is also tested like a burst: its confidence comes from the chance that all its lines
    would fall in the current window were the template as frequent before, ``share ** count`` (``share``: the
    current window's part of both), against ``alpha``; a few new lines in a long window are then no finding.
    ``store_begins``: the log store's first line when it holds none of the baseline; a new template's summary
    then says there was nothing to compare it with.
    Burst: a baseline template whose current count is at least ``min_count`` and ``min_ratio`` x the
    count expected from its baseline rate, with Poisson ``P(X >= count) < alpha``; severity
    ``saturate(log(ratio) / log(min_ratio))`` x level weight, confidence from the p-value.
    Summaries quote the template (log text is untrusted: flattened, truncated, quoted).
    """
    if baseline[1] <= baseline[0] or current[1] <= current[0]:
        raise ValueError(f"log windows must have end > start, got baseline={baseline} current={current}")
    if min_ratio <= 1.0:
        raise ValueError(f"min_ratio must be > 1, got {min_ratio!r}")
    scale = (current[1] - current[0]) / (baseline[1] - baseline[0])
    share = scale / (1.0 + scale)  # the current window's part of both
    findings: list[Finding] = []
    for entry in sorted(count_templates(records, baseline, current), key=lambda e: (e.service, e.template)):
        if entry.current < min_count:
            continue
        if entry.baseline == 0:
            weight = level_weight(entry.level, entry.template)
            if weight < NEW_TEMPLATE_MIN_WEIGHT:
                continue
            confidence = p_confidence(share ** entry.current, alpha) if test_new else 1.0
            if confidence <= 0.0:
                continue
            finding = _new_template(entry, weight, min_count, current, confidence, store_begins)
        else:
            finding = _burst(entry, entry.baseline * scale, min_ratio, alpha, current)
        if finding is not None:
            findings.append(finding.model_copy(update={"signal": signal, "source": source}))
    return findings


def _new_template(
    entry: TemplateCount, weight: float, min_count: int, window: tuple[float, float], confidence: float,
    store_begins: float | None,
) -> Finding:
    baseline = ("none in baseline" if store_begins is None else
                f"the log store begins {fmt_time(store_begins)}, after the baseline: nothing to compare with")
    summary = (
        f"{entry.service} new {entry.level} log template {untrusted(entry.template)} x{entry.current} in "
        f"{fmt_duration(window[1] - window[0])} ({baseline}), first {fmt_time(entry.first_current)}"
    )
    return make_finding(
        FindingKind.LOG_NEW_TEMPLATE, detector=DETECTOR, subject=entry.service, service=entry.service,
        window=window, score=combine(saturate(entry.current / min_count) * weight, confidence), summary=summary,
        numbers={"count": entry.current, "baseline_count": 0, "level_weight": weight},
        direction="up", onset=entry.first_current,
    )


def burst_start(times: Sequence[float], start: float, end: float) -> float | None:
    """Where a burst began: the split of ``[start, end)`` at a line that best fits "rate r1, then a higher
    rate r2" (maximum Poisson-process likelihood ``n1 log(n1/d1) + n2 log(n2/d2)``)."""
    ordered = np.sort(np.asarray(times, dtype=float))
    if ordered.size == 0:
        return None
    before = np.arange(ordered.size, dtype=float)  # lines before each candidate split
    after = ordered.size - before
    d1 = np.maximum(ordered - start, 1e-9)
    d2 = np.maximum(end - ordered, 1e-9)
    with np.errstate(divide="ignore", invalid="ignore"):
        loglik = np.where(before > 0, before * np.log(before / d1), 0.0) + after * np.log(after / d2)
    loglik[after / d2 <= np.where(before > 0, before / d1, 0.0)] = -np.inf  # must be a rise
    return float(ordered[int(np.argmax(loglik))]) if np.isfinite(loglik).any() else float(ordered[0])


def _burst(
    entry: TemplateCount, expected: float, min_ratio: float, alpha: float, window: tuple[float, float]
) -> Finding | None:
    ratio = entry.current / expected
    p_value = float(poisson.sf(entry.current - 1, expected))
    if ratio < min_ratio or p_value >= alpha:
        return None
    weight = level_weight(entry.level, entry.template)
    severity = saturate(math.log(ratio) / math.log(min_ratio)) * weight
    summary = (
        f"{entry.service} {entry.level} log burst {untrusted(entry.template)} x{entry.current} vs "
        f"{expected:.1f} expected ({ratio:.0f}x baseline rate), p={p_value:.1g}"
    )
    return make_finding(
        FindingKind.LOG_BURST, detector=DETECTOR, subject=entry.service, service=entry.service,
        window=window, score=combine(severity, p_confidence(p_value, alpha)), summary=summary,
        numbers={
            "count": entry.current, "baseline_count": entry.baseline, "expected": expected,
            "ratio": ratio, "p_value": p_value, "level_weight": weight,
        },
        direction="up", onset=burst_start(entry.current_times, *window),
    )
