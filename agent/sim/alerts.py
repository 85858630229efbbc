"""Alertmanager alert objects fired by threshold rules over the simulated signals."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent.sim.system import SERVICES, camel
from agent.sim.world import World


@dataclass(frozen=True)
class AlertRule:
    """A threshold rule on one metric: above or below, per service or per instance."""

    metric: str
    suffix: str
    above: bool
    per_instance: bool
    text: str  # summary template: {value} is the formatted threshold

    def format(self, value: float) -> str:
        if self.metric == "request_latency_p99_seconds":
            shown = f"{value * 1000:.0f}ms"
        elif self.metric == "memory_usage_bytes":
            shown = f"{value / 1024**3:.1f}GiB"
        elif self.metric == "requests_per_second":
            shown = f"{value:.0f}/s"
        else:
            shown = f"{value * 100:.3g}%"
        return self.text.format(value=shown)


RULES: dict[str, AlertRule] = {
    "p99": AlertRule("request_latency_p99_seconds", "P99LatencyHigh", True, False, "p99 latency above {value}"),
    "errors": AlertRule("request_error_ratio", "ErrorRatioHigh", True, False, "error ratio above {value}"),
    "cpu": AlertRule("cpu_usage_ratio", "CPUUsageHigh", True, True, "CPU usage above {value} of limit"),
    "memory": AlertRule("memory_usage_bytes", "MemoryUsageHigh", True, True, "memory usage above {value}"),
    "disk": AlertRule("disk_usage_ratio", "DiskUsageHigh", True, True, "disk usage above {value}"),
    "cache_hit": AlertRule("cache_hit_ratio", "CacheHitRatioLow", False, False, "cache hit ratio below {value}"),
    "ctr": AlertRule("click_through_ratio", "CTRLow", False, False, "click-through ratio below {value}"),
    "rps": AlertRule("requests_per_second", "RequestRateHigh", True, False, "request rate above {value}"),
}


@dataclass(frozen=True)
class FiredAlert:
    """The alert object and when it started firing."""

    alert: dict[str, Any]
    starts_at: float
    threshold: float


def nice(value: float) -> float:
    """Round to two significant digits, as people write thresholds."""
    if value <= 0 or not math.isfinite(value):
        return value
    digits = 1 - int(math.floor(math.log10(value)))
    return round(value, digits)


def _watched(world: World, service: str, rule: AlertRule) -> tuple[np.ndarray, np.ndarray | None]:
    """The series the rule evaluates (sign-adjusted so that "bad" is up) and, per instance, the rows."""
    sign = 1.0 if rule.above else -1.0
    if rule.per_instance:
        rows = world.sig(service, rule.metric) * sign
        return rows.max(axis=0), rows
    return world.aggregate(service, rule.metric) * sign, None


def fire(
    world: World, service: str, signal: str, *, onset: float, latest: float, for_minutes: int = 3,
    severity: str = "critical", threshold: float | None = None,
) -> FiredAlert:
    """Fire the ``signal`` rule on ``service`` at the first time after ``onset`` it held ``for_minutes``.

    Without a ``threshold`` one is chosen between the level before ``onset`` and the level at
    ``latest``, so the alert fires while the anomaly builds up, as a tuned rule would.
    """
    rule = RULES[signal]
    sign = 1.0 if rule.above else -1.0
    x, rows = _watched(world, service, rule)
    ts = world.ts
    first, last = world.index(onset), world.index(latest)
    if threshold is None:
        before = x[: max(first, 5)]
        pre = float(np.quantile(before, 0.98))
        level = float(np.median(x[max(last - 2, 0): last + 1]))
        theta = pre + 0.5 * (level - pre) if level > pre else level - abs(level) * 0.02
        theta = sign * nice(sign * theta)
    else:
        theta = sign * nice(threshold)
    hold = max(for_minutes, 1)
    fire_at = None
    for _ in range(6):
        ok = x >= theta
        for i in range(first, last + 1):
            if i + hold - 1 <= last and ok[i: i + hold].all():
                fire_at = i + hold - 1
                break
        if fire_at is not None:
            break
        theta = sign * nice(sign * (theta - 0.25 * abs(theta)))
    if fire_at is None:
        fire_at = last
    starts = float(ts[fire_at]) + float(world.rng.integers(0, 60))
    labels = {"alertname": f"{camel(service)}{rule.suffix}", "service": service, "severity": severity,
              "business": SERVICES[service].business}
    if rows is not None:
        labels["instance"] = world.instances[service][int(np.argmax(rows[:, fire_at]))]
    value = sign * theta
    summary = f"{service} {rule.format(value)}"
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": {
            "summary": summary,
            "description": f"{rule.metric} for {service} has been beyond {value:.6g} for {for_minutes}m.",
        },
        "startsAt": starts,
        "generatorURL": f"http://prometheus:9090/graph?g0.expr={rule.metric}%7Bservice%3D%22{service}%22%7D",
        "fingerprint": "".join(world.rng.choice(list("0123456789abcdef"), 16)),
    }
    return FiredAlert(alert, starts, value)


def visibility(world: World, service: str, signal: str, onset: float, latest: float) -> float:
    """How clearly ``signal`` on ``service`` moved by ``latest``: robust z-score of its level then
    against its behaviour before ``onset`` (in the bad direction)."""
    rule = RULES[signal]
    x, _ = _watched(world, service, rule)
    first, last = max(world.index(onset), 5), world.index(latest)
    before = x[:first]
    level = float(np.median(x[max(last - 2, 0): last + 1]))
    centre = float(np.median(before))
    spread = 1.4826 * float(np.median(np.abs(before - centre))) + 1e-12
    return (level - centre) / spread
