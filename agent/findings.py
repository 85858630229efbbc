"""Findings: the currency between detectors and reasoners."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class FindingKind(StrEnum):
    """What a detector saw."""

    CANARY_REGRESSION = "canary_regression"  # canary worse than baseline
    CHANGE_REGRESSION = "change_regression"  # after a change worse than before
    HISTORY_DEVIATION = "history_deviation"  # unlike the same time yesterday / last week
    THRESHOLD_BREACH = "threshold_breach"  # over/under a fixed limit
    SLO_BURN = "slo_burn"  # error budget burning faster than allowed
    ANOMALY = "anomaly"  # robust z-score / change-point onset
    TREND = "trend"  # steady growth towards saturation (leaks, disks)
    LOG_NEW_TEMPLATE = "log_new_template"  # a log template not seen in the baseline window
    LOG_BURST = "log_burst"  # a template far more frequent than in the baseline window
    TRACE_DIVERGENCE = "trace_divergence"  # traces leave the reference's (service, template) paths at a service
    TRACE_SLOWDOWN = "trace_slowdown"  # hand-offs between services in traces with this one got far slower
    CHANGE_NEAR_ONSET = "change_near_onset"  # a change shortly before an anomaly onset
    WENT_SILENT = "went_silent"  # a service's series stopped while the rest of the system kept being sampled
    MISSING_DATA = "missing_data"  # a source failed or returned nothing


COVERAGE_DETECTOR = "coverage"  # its missing_data Findings say the data cannot answer the question
THIN_REFERENCE_DETECTOR = "thin_reference"  # its missing_data Finding: judged, but too short a history to clear
LOGS_ONLY_DETECTOR = "logs_only"  # its missing_data Finding: judged on log lines alone, the Skill's metrics absent
STALE_DATA_DETECTOR = "stale_data"  # its missing_data Finding: the alerted services' metrics stopped before the event
UNMATCHED_METRICS = "unmatched_metrics"  # in a coverage Finding's numbers: the metric source holds none of them
ABSENT_SERVICE_LABEL = "absent_service_label"  # gathered, and a coverage Finding's numbers: no series carries it
UNKNOWN_CHANGE = "unknown_change"  # in a coverage Finding's numbers: the change names no service nor a logged id


class Finding(BaseModel):
    """One scored observation with the numbers behind it and a link to the raw data."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default="", description="Short id the reasoner cites, e.g. F3; set by analyze.")
    kind: FindingKind
    subject: str = Field(description="What the finding is about: a service, or service/instance.")
    service: str | None = None
    signal: str | None = Field(default=None, description="The Skill signal id (metric/log id) it came from.")
    also_signals: list[str] = Field(
        default_factory=list,
        description="Other Skill signals that reported the very same evidence (two log queries reading one template, "
                    "two metric signals reading one series): one Finding, counted by decision rules once per signal.",
    )
    metric: str | None = None
    window_start: float
    window_end: float
    onset: float | None = Field(default=None, description="When the deviation started, if known.")
    score: float = Field(ge=0.0, le=1.0, description="Severity x confidence, 0..1.")
    direction: str | None = Field(default=None, description="up | down, for metric findings.")
    numbers: dict[str, float] = Field(default_factory=dict)
    summary: str
    source: str = Field(default="", description="Where the raw data is: a bundle path or a query.")
    detector: str = ""

    @property
    def signals(self) -> list[str]:
        """Every Skill signal that reported it: ``signal`` first, then ``also_signals``."""
        return [*([self.signal] if self.signal else []), *self.also_signals]

    @property
    def owner(self) -> str:
        """The service it is about; never parsed from ``subject``, as service names may contain ``/``.

        A series without a service label is owned by its metric (its subject is ``metric[/instance]``).
        """
        return self.service or self.metric or self.subject

    def fingerprint(self) -> str:
        """Stable identity independent of the display id."""
        raw = f"{self.kind}|{self.subject}|{self.signal}|{self.metric}|{self.detector}"
        return hashlib.sha1(raw.encode()).hexdigest()[:12]


def about(finding: Finding, service: str) -> bool:
    """The Finding is about ``service`` (its owner, service label or subject): evidence of its own."""
    return finding.kind != FindingKind.MISSING_DATA and service in (finding.owner, finding.service, finding.subject)


PER_SIGNAL = frozenset({"id", "signal", "also_signals", "source"})  # what a Finding says of where it came from


def merge_repeated(findings: Iterable[Finding]) -> list[Finding]:
    """One Finding per piece of evidence: Findings alike in everything but the signal that reported them (and its
    ``source``) become the first of them, the others' signals in its ``also_signals``; order is kept.

    Two log queries of a Skill reading the same lines report the same template; two metric signals reading one
    series report the same onset. Decision rules count the merged Finding once per signal, as they counted the
    copies (``skills.decide.counted``). Findings of one signal (or of none) are never merged: each counted once.
    """
    merged: list[Finding] = []
    first: dict[str, int] = {}
    for finding in findings:
        key = finding.model_dump_json(exclude=set(PER_SIGNAL))
        at = first.get(key)
        if at is not None and _other_signals(merged[at], finding):
            signals = [*merged[at].signals, *finding.signals]
            merged[at] = merged[at].model_copy(update={"signal": signals[0], "also_signals": signals[1:]})
        else:
            first.setdefault(key, len(merged))
            merged.append(finding)
    return merged


def _other_signals(kept: Finding, finding: Finding) -> bool:
    """Both came from signals, and ``finding`` from none of ``kept``'s."""
    return bool(kept.signals) and bool(finding.signals) and not set(kept.signals) & set(finding.signals)


def number_findings(findings: list[Finding], prefix: str = "F") -> list[Finding]:
    """Sort by score (highest first) and assign display ids F1, F2, …"""
    ranked = sorted(findings, key=lambda f: (-f.score, f.kind, f.subject))
    return [f.model_copy(update={"id": f"{prefix}{i}"}) for i, f in enumerate(ranked, start=1)]


def could_not_judge(findings: Iterable[Finding]) -> Finding | None:
    """The coverage Finding saying the gathered data cannot answer the question, if there is one."""
    return _missing_data(findings, COVERAGE_DETECTOR)


def thin_reference(findings: Iterable[Finding]) -> Finding | None:
    """The caveat that the data reaches only a few samples before the incident, if there is one: the
    detectors judged it, but too short a history cannot clear an alert or a system."""
    return _missing_data(findings, THIN_REFERENCE_DETECTOR)


def cannot_clear(findings: Iterable[Finding]) -> Finding | None:
    """A caveat that lets the data show a fault but not clear one, if there is one: too short a history
    (:func:`thin_reference`), log lines judged with none of the Skill's metric series there, or metrics of the alerted
    services that stopped well before the event."""
    findings = list(findings)
    return (thin_reference(findings) or _missing_data(findings, LOGS_ONLY_DETECTOR)
            or _missing_data(findings, STALE_DATA_DETECTOR))


def _missing_data(findings: Iterable[Finding], detector: str) -> Finding | None:
    return next((f for f in findings if f.kind == FindingKind.MISSING_DATA and f.detector == detector), None)
