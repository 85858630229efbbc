"""Change events (deploys, config pushes, flag flips) and the logs they leave behind."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agent.series import ChangeRecord
from agent.sim.logs import emit_at
from agent.sim.system import SERVICES
from agent.sim.world import World, bump_version

AUTHORS = ("alice.wang", "bo.chen", "carlos.diaz", "dana.li", "erik.sato", "fatima.khan", "gao.min", "hana.kim")
# (key, healthy value, a value that can hurt) per kind of setting; diffs show old -> new.
CONFIG_KEYS: tuple[tuple[str, str, str], ...] = (
    ("rpc.{dep}.timeout_ms", "250", "40"),
    ("pool.max_connections", "256", "16"),
    ("batch.max_size", "128", "4096"),
    ("model.path", "/models/v{n}/model.bin", "/models/v{n}/model.bin.tmp"),
    ("cache.ttl_seconds", "600", "0"),
    ("threads.workers", "32", "4"),
    ("retry.max_attempts", "2", "6"),
    ("features.enabled_groups", "[core, ctx, hist]", "[core, ctx, hist, exp_dense]"),
)
FLAGS = ("new_snippet_ui", "dedup_v2", "explore_slot", "fast_path", "async_prefetch")
CONFIG_FILES = ("serving.yaml", "runtime.yaml", "rpc.yaml")


def _author(world: World) -> str:
    return AUTHORS[int(world.rng.integers(len(AUTHORS)))]


def deploy(world: World, service: str, at: float, rows: Sequence[int] | None = None,
           kind: str = "deploy", stagger: tuple[float, float] = (30.0, 90.0)) -> tuple[ChangeRecord, list[float]]:
    """Roll a new version of ``service`` out to ``rows`` (all by default) one after another from ``at``.

    Returns the change and each row's switch time (the order of ``rows``).
    """
    rng = world.rng
    old = world.versions[service]
    new = bump_version(rng, old)
    idx = list(range(len(world.instances[service]))) if rows is None else list(rows)
    switches = []
    when = at
    for row in idx:
        switches.append(when)
        emit_at(world, service, "started", when + float(rng.uniform(5, 25)), row, version=new)
        when += float(rng.uniform(*stagger))
    prefix = "canary" if kind == "canary" else "deploy"
    what = "start canary of" if kind == "canary" else "roll out"
    change = ChangeRecord(
        ts=round(at), service=service, type=kind, id=world.new_id(prefix), version=new, author=_author(world),
        description=f"{what} {service} {new} (build {int(rng.integers(1000, 99999))})",
    )
    world.changes.append(change)
    world.versions[service] = new if kind != "canary" else old
    return change, switches


def config_setting(world: World, service: str, harmful: bool) -> tuple[str, str, str]:
    """A setting of ``service`` and its old and new values; harmful pushes pick a value that hurts."""
    rng = world.rng
    key, good, bad = CONFIG_KEYS[int(rng.integers(len(CONFIG_KEYS)))]
    deps = SERVICES[service].depends_on
    dep = deps[int(rng.integers(len(deps)))] if deps else "backend"
    n = int(rng.integers(10, 99))
    key, good, bad = key.format(dep=dep), good.format(n=n), bad.format(n=n)
    if harmful:
        return key, good, bad
    nudged = {"250": "300", "256": "320", "128": "160", "600": "900", "32": "40", "2": "3"}.get(good)
    new = nudged or good.replace(f"v{n}", f"v{n + 1}")
    return key, good, new


def config_push(world: World, service: str, at: float, setting: tuple[str, str, str]) -> ChangeRecord:
    """Push a config change to every instance of ``service`` at ``at``."""
    rng = world.rng
    key, old, new = setting
    file = CONFIG_FILES[int(rng.integers(len(CONFIG_FILES)))]
    rev = int(rng.integers(1000, 99999))
    for row in range(len(world.instances[service])):
        emit_at(world, service, "config_applied", at + float(rng.uniform(1, 40)), row, rev=rev, file=file)
    change = ChangeRecord(
        ts=round(at), service=service, type="config", id=world.new_id("cfg"), author=_author(world),
        description=f"update {service} {file} (revision {rev})", diff=f"{key}: {old} -> {new}",
    )
    world.changes.append(change)
    return change


def flag_flip(world: World, service: str, at: float) -> ChangeRecord:
    """Turn a feature flag on for part of the traffic."""
    rng = world.rng
    flag = FLAGS[int(rng.integers(len(FLAGS)))]
    pct = int(rng.choice([1, 5, 10, 25, 50]))
    emit_at(world, service, "flag_changed", at + float(rng.uniform(1, 20)), 0, flag=flag, value="on", pct=pct)
    change = ChangeRecord(
        ts=round(at), service=service, type="flag", id=world.new_id("flag"), author=_author(world),
        description=f"enable {flag} on {service} for {pct}% of traffic", diff=f"{flag}: off -> on ({pct}%)",
    )
    world.changes.append(change)
    return change


def benign_changes(world: World, candidates: Sequence[str], count: int, near: float | None = None) -> None:
    """``count`` harmless changes to ``candidates``; one lands shortly before ``near`` when given."""
    rng = world.rng
    if not candidates:
        return
    ts = world.ts
    for k in range(count):
        service = candidates[int(rng.integers(len(candidates)))]
        if near is not None and k == 0:
            at = near - float(rng.uniform(3, 20)) * 60.0
        else:
            at = float(rng.uniform(ts[0], ts[-1]))
        at = float(np.clip(at, ts[0], ts[-1]))
        roll = rng.random()
        if roll < 0.5:
            deploy(world, service, at)
        elif roll < 0.8:
            config_push(world, service, at, config_setting(world, service, harmful=False))
        else:
            flag_flip(world, service, at)
