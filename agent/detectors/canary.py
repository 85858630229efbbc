"""Canary vs baseline: the canary instances' samples against the baseline instances' over one window."""

from __future__ import annotations

from collections.abc import Sequence

from agent.detectors.comparison import compare_samples
from agent.detectors.emit import make_finding
from agent.detectors.grouping import pool_by_metric_service
from agent.detectors.wording import fmt_change, fmt_value
from agent.findings import Finding, FindingKind
from agent.series import Series

DETECTOR = "canary"


def detect_canary(
    canary: Sequence[Series],
    baseline: Sequence[Series],
    *,
    start: float,
    end: float,
    direction: str = "up",
    min_effect: float = 0.2,
    min_abs_effect: float = 0.0,
    alpha: float = 0.01,
    signal: str | None = None,
    source: str = "",
) -> list[Finding]:
    """One ``canary_regression`` Finding per (metric, service) where the canary is worse than the baseline.

    Samples of all canary series (and all baseline series) of a metric and service in ``[start, end)``
    are pooled and compared with Mann-Whitney U (one-sided in the bad ``direction``) and the relative
    change of medians; a regression needs ``p < alpha`` and ``|change| >= min_effect``.
    """
    canary_pools = pool_by_metric_service(canary, start, end)
    baseline_pools = pool_by_metric_service(baseline, start, end)
    findings: list[Finding] = []
    for (metric, service), canary_values in sorted(canary_pools.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        baseline_values = baseline_pools.get((metric, service))
        if baseline_values is None:
            continue
        result = compare_samples(
            canary_values, baseline_values,
            direction=direction, min_effect=min_effect, min_abs_effect=min_abs_effect, alpha=alpha,
        )
        if result is None or result.classification == "pass":
            continue
        who = service or metric
        summary = (
            f"{who} {metric} canary {fmt_value(metric, result.experiment_median)} vs baseline "
            f"{fmt_value(metric, result.control_median)} ({fmt_change(result.rel_change)}), "
            f"p={result.p_value:.1g}, {result.n_experiment}/{result.n_control} samples"
        )
        findings.append(make_finding(
            FindingKind.CANARY_REGRESSION, detector=DETECTOR, subject=who, service=service,
            window=(start, end), score=result.score, summary=summary,
            numbers=result.numbers("canary", "baseline"), metric=metric, signal=signal,
            direction=result.direction, source=source,
        ))
    return findings
