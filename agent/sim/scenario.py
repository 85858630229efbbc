"""Build one scenario (pattern + fault + seed → bundle content + label) and write it as a bundle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from agent.bundles.writer import write_bundle
from agent.series import ChangeRecord, LogRecord, Series
from agent.sim.bursts import add_earlier_incident
from agent.sim.cases import RELEASE_VARIANTS, build_inspection, build_release
from agent.sim.changes import benign_changes
from agent.sim.draft import Draft, pick
from agent.sim.effects import add_blips
from agent.sim.export import export_series
from agent.sim.faults import FAULTS, RCA_TARGETS
from agent.sim.logs import access_logs, background_warnings
from agent.sim.rca import build_rca
from agent.sim.system import SERVICES, TOPOLOGY
from agent.sim.traffic import PEAK_HOUR_UTC
from agent.sim.world import World, build_world

PATTERNS = ("rca", "release_interception", "inspection")
SUPPORTED: dict[str, tuple[str, ...]] = {
    "rca": tuple(FAULTS),
    "release_interception": ("bad_release", "bad_config", "healthy"),
    "inspection": ("memory_leak", "disk_full", "bad_release", "bad_config", "healthy"),
}
# (look-back, after) in minutes around the event time. The 1-day and 7-day history windows cover
# at most the last HISTORY_MINUTES before the event plus the after-window: the same time of day.
WINDOWS: dict[str, tuple[int, int]] = {"rca": (60, 10), "release_interception": (60, 30), "inspection": (90, 0)}
HISTORY_MINUTES = 30
MARGIN_MINUTES = 30  # rca: simulated beyond the window, as an alert's time is only known once it fires
EPOCH = datetime(2026, 3, 2, tzinfo=UTC).timestamp()
BUILDERS: dict[str, Callable[[World, str, str | None, str | None], Draft]] = {
    "rca": build_rca,
    "release_interception": build_release,
    "inspection": build_inspection,
}


class ScenarioError(ValueError):
    """An impossible request: unknown pattern, fault, variant or service, or an unsupported pair."""


@dataclass
class Scenario:
    """One generated case: everything a bundle holds, and the ground truth."""

    pattern: str
    fault: str
    seed: int
    event: dict[str, Any]
    series: list[Series]
    logs: list[LogRecord]
    changes: list[ChangeRecord]
    label: dict[str, Any]
    topology: dict[str, list[str]] = field(default_factory=lambda: {k: list(v) for k, v in TOPOLOGY.items()})


def fault_patterns() -> dict[str, list[str]]:
    """Each fault kind and the patterns it can be generated for."""
    return {fault: [p for p in PATTERNS if fault in SUPPORTED[p]] for fault in FAULTS}


def check_request(pattern: str, fault: str, variant: str | None = None, service: str | None = None) -> None:
    """Raise :class:`ScenarioError` with a clear message when the combination cannot be generated."""
    if pattern not in PATTERNS:
        raise ScenarioError(f"unknown pattern {pattern!r}; choose one of {', '.join(PATTERNS)}")
    if fault not in FAULTS:
        raise ScenarioError(f"unknown fault {fault!r}; choose one of {', '.join(FAULTS)}")
    if fault not in SUPPORTED[pattern]:
        raise ScenarioError(
            f"fault {fault!r} is not generated for pattern {pattern!r}; it supports {', '.join(SUPPORTED[pattern])}"
        )
    if variant is not None:
        allowed = RELEASE_VARIANTS.get(fault, ()) if pattern == "release_interception" else ()
        if variant not in allowed:
            raise ScenarioError(f"variant {variant!r} is not known for {pattern}/{fault}"
                                + (f"; choose one of {', '.join(allowed)}" if allowed else ""))
    if service is not None:
        if service not in SERVICES:
            raise ScenarioError(f"unknown service {service!r}; choose one of {', '.join(SERVICES)}")
        if pattern == "rca" and service not in RCA_TARGETS[fault]:
            raise ScenarioError(f"{fault} is not simulated on {service}; try {', '.join(RCA_TARGETS[fault])}")


def _entropy(pattern: str, fault: str, seed: int) -> list[int]:
    """What seeds a scenario's generators: pattern, fault and seed only."""
    return [int(seed), PATTERNS.index(pattern), list(FAULTS).index(fault)]


def scenario_rng(pattern: str, fault: str, seed: int) -> np.random.Generator:
    """The generator of one scenario: a stable function of pattern, fault and seed only."""
    return np.random.default_rng(_entropy(pattern, fault, seed))


def burst_rng(fault: str, seed: int) -> np.random.Generator:
    """The generator of an RCA case's earlier incident: apart from ``scenario_rng``, so the case stays as it was."""
    return np.random.default_rng([*_entropy("rca", fault, seed), 1])


def event_time(rng: np.random.Generator, pattern: str, fault: str) -> float:
    """A day in the spring of 2026 and a minute of it; a benign alert fires at the evening peak."""
    day = int(rng.integers(0, 60))
    if pattern == "rca" and fault == "healthy":
        hour = PEAK_HOUR_UTC + float(rng.uniform(-1.0, 0.5))
    else:
        hour = float(rng.uniform(0.0, 24.0))
    return EPOCH + day * 86400.0 + round(hour * 60.0) * 60.0


def build_scenario(pattern: str, fault: str, seed: int, *, variant: str | None = None,
                   service: str | None = None, earlier_incident: bool = False) -> Scenario:
    """Generate one case; the same arguments always give the same scenario. ``earlier_incident`` (an RCA with a
    root cause): the same case with a recovered incident on another service just before it (``bursts``)."""
    check_request(pattern, fault, variant, service)
    if earlier_incident and pattern != "rca":
        raise ScenarioError(f"an earlier incident is written into RCA cases only, not {pattern}")
    rng = scenario_rng(pattern, fault, seed)
    when = event_time(rng, pattern, fault)
    lookback, after = WINDOWS[pattern]
    margin = MARGIN_MINUTES * 60.0 if pattern == "rca" else 0.0
    world = build_world(rng, when, when - lookback * 60.0 - margin, when + after * 60.0 + margin)
    draft = BUILDERS[pattern](world, fault, variant, service)
    _decorate(world, draft)
    if earlier_incident and draft.label.get("root_cause") and draft.near is not None:
        avoid = {c["service"] for c in draft.label["root_cause"]} | {draft.event["service"]}
        draft.notes.update(add_earlier_incident(world, draft.near, avoid, burst_rng(fault, seed)).note())
    at = float(draft.event["time"])
    world.crop(at - lookback * 60.0, at + after * 60.0, at - min(lookback, HISTORY_MINUTES) * 60.0)
    logs = sorted(world.logs, key=lambda r: (r.ts, r.service, r.message))
    changes = sorted(world.changes, key=lambda c: (c.ts, c.id))
    sim = {"pattern": pattern, "fault": fault, "seed": int(seed)}
    if draft.variant:
        sim["variant"] = draft.variant
    if draft.magnitude is not None:
        sim["magnitude"] = draft.magnitude
    sim.update(draft.notes)
    label = {**draft.label, "sim": sim}
    return Scenario(pattern, fault, int(seed), draft.event, export_series(world, draft.services), logs, changes,
                    label)


def _decorate(world: World, draft: Draft) -> None:
    """What makes a case realistic and not readable at a glance: a decoy service exported per
    instance, harmless changes, background WARNs, sampled access logs and meaningless blips."""
    rng = world.rng
    world.detailed = set(draft.detailed)
    others = [s for s in draft.services if s not in draft.detailed]
    if others:
        world.detailed.add(pick(rng, others))
    free = [s for s in draft.services if s not in draft.protected]
    near = draft.near if rng.random() < 0.35 else None
    benign_changes(world, free, int(rng.integers(0, 3)), near)
    access_logs(world, draft.services)
    background_warnings(world, draft.services, float(rng.uniform(0.5, 2.0)))
    if free:
        add_blips(world, int(rng.integers(0, 3)), services=free)


def write_scenario(scenario: Scenario, out_dir: Path) -> Path:
    """Write ``scenario`` as a case bundle (label.yaml included) and return its directory."""
    return write_bundle(
        Path(out_dir), scenario.event, scenario.series, scenario.logs, scenario.changes,
        topology=scenario.topology, label=scenario.label,
    )


def thin_scenario(scenario: Scenario, step: float) -> Scenario:
    """``scenario`` with its series sampled every ``step`` seconds (samples on multiples of ``step`` kept),
    as cloud monitoring that keeps one point in five minutes would record it."""
    if step <= 0:
        raise ValueError(f"step must be positive, not {step}")
    thinned = []
    for s in scenario.series:
        keep = np.isclose(np.mod(s.timestamps, step), 0.0)
        thinned.append(Series(s.metric, s.labels, s.timestamps[keep], s.values[keep]))
    return replace(scenario, series=thinned)
