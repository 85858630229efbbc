"""Changes under judgement (release interception): canaries and config pushes, good or bad."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agent.series import ChangeRecord
from agent.sim import effects as fx
from agent.sim.changes import config_push, config_setting, deploy
from agent.sim.context import P50, P99, FaultContext
from agent.sim.logs import emit_at
from agent.sim.regressions import broken_config, broken_release
from agent.sim.system import SERVICES
from agent.sim.world import VersionSplit, World

DECISIONS = ("pass", "hold", "block")


@dataclass(frozen=True)
class ReleaseOutcome:
    """The change to judge, the right decision and what regressed (None for a good change)."""

    change: ChangeRecord
    decision: str
    regression: str | None


def _moderate(world: World, service: str, rows: list[int], start: float, m: float) -> str:
    """A regression worth a longer look but not a rollback: CPU, memory growth, CTR or a mild
    latency rise on ``rows``; never errors. Returns which."""
    rng = world.rng
    ts = world.ts
    shape = fx.ramp(ts, start + 60.0, 3)
    options = ["cpu", "memory", "latency"] + (["ctr"] if SERVICES[service].ctr is not None else [])
    kind = options[int(rng.integers(len(options)))]
    if kind == "cpu":
        fx.scale(world, service, "cpu_usage_ratio", 1.0 + (0.30 + 0.15 * m) * shape, rows)
    elif kind == "memory":
        growth = (0.50 + 0.30 * m) * fx.minutes_since(ts, start) / max((ts[-1] - start) / 60.0, 1.0)
        fx.scale(world, service, "memory_usage_bytes", 1.0 + growth, rows)
    elif kind == "ctr":
        fx.scale(world, service, "click_through_ratio", 1.0 - (0.07 + 0.04 * m) * shape, rows)
    else:
        fx.scale(world, service, P50, 1.0 + (0.18 + 0.12 * m) * shape, rows)
        fx.scale(world, service, P99, 1.0 + (0.12 + 0.08 * m) * shape, rows)
    return kind


def _warm_up(world: World, service: str, row: int, at: float) -> None:
    """A freshly started process: a dip in traffic, a cold-cache minute, memory refilling."""
    ts = world.ts
    i = world.index(at)
    world.sig(service, "requests_per_second")[row, i] *= 0.4
    cold = np.exp(-fx.minutes_since(ts, at) / 1.5) * (ts >= at)
    fx.scale(world, service, P99, 1.0 + 0.5 * cold, [row])
    refill = 1.0 - 0.3 * np.exp(-fx.minutes_since(ts, at) / 6.0) * (ts >= at)
    fx.scale(world, service, "memory_usage_bytes", refill, [row])


def canary_release(world: World, service: str, start: float, decision: str, m: float) -> ReleaseOutcome:
    """Start a canary of ``service``: one or two instances move to a new version at ``start``."""
    rng = world.rng
    n = len(world.instances[service])
    k = 2 if n >= 4 and rng.random() < 0.4 else 1
    rows = sorted(int(r) for r in rng.choice(n, k, replace=False))
    old = world.versions[service]
    change, switches = deploy(world, service, start, rows, kind="canary", stagger=(20.0, 60.0))
    change = ChangeRecord(**{**change.__dict__, "canary": {"version": change.version},
                             "baseline": {"version": old}})
    world.changes[-1] = change
    world.split = VersionSplit(service, old, change.version or old, dict(zip(rows, switches, strict=True)))
    for row, at in zip(rows, switches, strict=True):
        _warm_up(world, service, row, at)
    regression = None
    if decision == "block":
        regression = broken_release(FaultContext(world, service, start, m), rows, switches)
    elif decision == "hold":
        regression = _moderate(world, service, rows, start, m)
    else:
        fx.scale(world, service, P99, float(rng.uniform(0.96, 1.03)) * (world.ts >= start) + (world.ts < start),
                 rows)
    return ReleaseOutcome(change, decision, regression)


def config_release(world: World, service: str, start: float, decision: str, m: float) -> ReleaseOutcome:
    """Push a config change to every instance of ``service`` at ``start``."""
    rng = world.rng
    setting = config_setting(world, service, harmful=decision != "pass")
    change = config_push(world, service, start, setting)
    rows = list(range(len(world.instances[service])))
    regression = None
    if decision == "block":
        regression = broken_config(FaultContext(world, service, start, m), setting, start)
    elif decision == "hold":
        regression = _moderate(world, service, rows, start, m)
        emit_at(world, service, "config_unknown", start + float(rng.uniform(1, 50)), 0, key=setting[0])
    return ReleaseOutcome(change, decision, regression)

