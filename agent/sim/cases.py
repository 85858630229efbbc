"""Release-interception and inspection cases."""

from __future__ import annotations

from typing import Any

from agent.series import ChangeRecord
from agent.sim import effects as fx
from agent.sim.context import FaultContext
from agent.sim.draft import Draft, magnitude, pick
from agent.sim.faults import FAULTS, RCA_TARGETS
from agent.sim.logs import emit
from agent.sim.release import canary_release, config_release
from agent.sim.system import BUSINESSES, SERVICES, SERVING, STATEFUL, callers_of
from agent.sim.world import World

RELEASE_VARIANTS = {"bad_release": ("block", "hold"), "bad_config": ("block", "hold"), "healthy": ("canary", "config")}
INSPECTION_TARGETS: dict[str, tuple[str, ...]] = {
    "memory_leak": RCA_TARGETS["memory_leak"],
    "disk_full": STATEFUL,
    "bad_release": SERVING,
    "bad_config": tuple(s for s in SERVING if SERVICES[s].depends_on),
}
# Minutes before the inspection at which the trend or the new errors began.
INSPECTION_LEADS = {"memory_leak": (50.0, 80.0), "disk_full": (45.0, 75.0), "bad_release": (15.0, 45.0),
                    "bad_config": (15.0, 45.0)}


def change_to_event(change: ChangeRecord) -> dict[str, Any]:
    """The ``change`` block of event.yaml for a change record."""
    data = {
        "id": change.id, "type": change.type, "service": change.service, "ts": change.ts,
        "version": change.version, "description": change.description, "author": change.author,
        "canary": dict(change.canary) if change.canary else None,
        "baseline": dict(change.baseline) if change.baseline else None, "diff": change.diff,
    }
    return {k: v for k, v in data.items() if v is not None}


def build_release(world: World, fault: str, variant: str | None, service: str | None) -> Draft:
    """A canary or a config push at the event time; the bundle runs on 30 minutes after it."""
    rng = world.rng
    svc = service or pick(rng, SERVING)
    m = magnitude(rng)
    start = world.event_time
    if fault == "healthy":
        how = variant or ("canary" if rng.random() < 0.6 else "config")
        decision = "pass"
    else:
        decision = variant or ("hold" if rng.random() < 0.3 else "block")
        how = "canary" if fault == "bad_release" else "config"
    build = canary_release if how == "canary" else config_release
    outcome = build(world, svc, start, decision, m)
    event = {
        "pattern": "release_interception",
        "time": start,
        "service": svc,
        "change": change_to_event(outcome.change),
        "business": SERVICES[svc].business,
    }
    label: dict[str, Any] = {"decision": decision, "root_cause": []}
    if decision != "pass":
        label["root_cause"] = [{"service": svc, "fault": fault}]
    around = {svc, *SERVICES[svc].depends_on, *callers_of(svc)}  # direct neighbours only
    services = [s for s in SERVICES if s in around]
    notes = {"regression": outcome.regression} if outcome.regression else {}
    return Draft(event, label, services, {svc}, {svc}, start, m, variant=decision if fault != "healthy" else how,
                 notes=notes)


def _scope(world: World, fault: str, service: str | None) -> tuple[str | None, list[str]]:
    """An inspection scope (a business, or everything) holding a plausible target of ``fault``."""
    rng = world.rng
    targets = INSPECTION_TARGETS.get(fault, tuple(SERVICES))
    options = [(b, list(members)) for b, members in BUSINESSES.items()
               if (service in members if service else any(t in members for t in targets))]
    if rng.random() < 0.4 or not options:
        return None, list(SERVICES)
    business, members = options[int(rng.integers(len(options)))]
    return business, [s for s in SERVICES if s in members]


def build_inspection(world: World, fault: str, variant: str | None, service: str | None) -> Draft:
    """A scheduled check over the look-back window: a leak, a filling disk, new or bursting errors,
    or nothing at all."""
    rng = world.rng
    business, scope = _scope(world, fault, service)
    label: dict[str, Any] = {"findings": []}
    detailed: set[str] = set()
    near = None
    m = None
    if fault == "healthy":
        if rng.random() < 0.3:  # a WARN-only burst: worth an info line, not an alarm
            svc = pick(rng, scope)
            start = world.event_time - float(rng.uniform(20, 60)) * 60.0
            stretch = fx.ramp(world.ts, start, 0) * (world.ts < start + float(rng.uniform(8, 20)) * 60.0)
            emit(world, svc, "deprecated", float(rng.uniform(2, 5)) * stretch)
    else:
        targets = [s for s in scope if s in INSPECTION_TARGETS[fault]]
        svc = service or pick(rng, targets)
        lo, hi = INSPECTION_LEADS[fault]
        onset = world.event_time - float(rng.uniform(lo, hi)) * 60.0
        m = magnitude(rng)
        impact = FAULTS[fault](FaultContext(world, svc, onset, m, early=True))
        label["findings"] = [{"service": svc, "kind": impact.finding}]
        detailed, near = {svc}, onset
    event: dict[str, Any] = {
        "pattern": "inspection",
        "time": world.event_time,
        "scope": {"services": scope, "window": f"{int((world.event_time - world.ts[0]) // 60)}m"},
    }
    if business:
        event["business"] = business
    protected = set(detailed)
    return Draft(event, label, scope, detailed, protected, near, m)

