"""One function per fault kind: each changes the signals, adds logs and changes, and returns the truth.

A fault is injected into ``ctx.service`` at ``ctx.onset``; ``ctx.magnitude`` runs from subtle (0) to
obvious (1). ``ctx.early`` asks for the inspection form: trending or noisy, not yet alerting.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from agent.sim import effects as fx
from agent.sim.changes import config_push, config_setting, deploy
from agent.sim.context import ERR, P50, P99, AlertPlan, FaultContext, Impact, spread
from agent.sim.logs import emit, emit_at
from agent.sim.regressions import EXCEPTIONS, broken_config, broken_release, handlers_of
from agent.sim.system import SERVICES, STATEFUL, callers_of, downstream_of


def _some_rows(ctx: FaultContext, p_all: float) -> list[int]:
    """All instances with probability ``p_all``, else one or two of them."""
    n = len(ctx.world.instances[ctx.service])
    if ctx.world.rng.random() < p_all:
        return list(range(n))
    k = 1 if n < 4 or ctx.world.rng.random() < 0.6 else 2
    return sorted(int(r) for r in ctx.world.rng.choice(n, k, replace=False))


def slow_dependency(ctx: FaultContext) -> Impact:
    """The service gets slow; its callers slow down after it and start timing out."""
    world, svc, m, rng = ctx.world, ctx.service, ctx.magnitude, ctx.world.rng
    before = fx.snapshot(world, [svc])
    shape = fx.ramp(world.ts, ctx.onset, float(rng.uniform(1, 4)))
    f99 = 1.6 + 4.4 * m * rng.uniform(0.8, 1.1)
    fx.scale(world, svc, P99, 1.0 + (f99 - 1.0) * shape)
    fx.scale(world, svc, P50, 1.0 + 0.5 * (f99 - 1.0) * shape)
    fx.add(world, svc, ERR, rng.uniform(0.0005, 0.003) * shape)
    emit(world, svc, "slow_op", (1.0 + 5.0 * m) * shape, ms=(int(SERVICES[svc].p99 * f99 * 800), 3000))
    timeouts = {svc: (0.002 + 0.03 * m) * shape}
    spread(ctx, fx.changes_since(world, before), "upstream_timeout", timeouts)
    return Impact([{"service": svc, "fault": "slow_dependency"}], ctx.onset, ["p99", "errors"])


def cache_failure(ctx: FaultContext) -> Impact:
    """Hit ratio collapses (a flush or a lost node); callers fall back to backends and slow down."""
    world, svc, m, rng = ctx.world, ctx.service, ctx.magnitude, ctx.world.rng
    ts = world.ts
    shape = fx.ramp(ts, ctx.onset, float(rng.uniform(1, 2)))
    refill = np.exp(-fx.minutes_since(ts, ctx.onset) / rng.uniform(60, 240))
    drop = 0.25 + 0.55 * m
    fx.add(world, svc, "cache_hit_ratio", -drop * shape * (0.5 + 0.5 * refill))
    fx.scale(world, svc, "memory_usage_bytes", 1.0 - 0.5 * shape * refill)
    fx.scale(world, svc, "cpu_usage_ratio", 1.0 + 0.3 * m * shape)
    emit(world, svc, "miss_storm", (1.0 + 3.0 * m) * shape, pct=(int(20 + 40 * m), int(30 + 60 * m)))
    emit(world, svc, "evicted", 0.5 * shape * refill, ms=(20, 900))
    callers = callers_of(svc)
    before = fx.snapshot(world, [*callers, "feature-store"])
    for caller in callers:
        lagged = fx.delay(shape, int(rng.integers(1, 4)))
        rel = (0.3 + 1.2 * m) * rng.uniform(0.6, 1.2)
        fx.scale(world, caller, P50, 1.0 + 0.8 * rel * lagged)
        fx.scale(world, caller, P99, 1.0 + rel * lagged)
        fx.add(world, caller, ERR, (0.0005 + 0.006 * m) * lagged)
        backend = "feature-store" if caller == "ranking" else "origin"
        emit(world, caller, "cache_fallback", (0.5 + 3.0 * m) * lagged, backend=backend)
        emit(world, caller, "cache_timeout", (0.2 + 1.0 * m) * lagged, ms=(50, 400))
    fx.apply_load(world, "feature-store", 1.0 + (0.2 + 0.6 * m) * fx.delay(shape, 1))
    spread(ctx, fx.changes_since(world, before), "upstream_error")
    return Impact([{"service": svc, "fault": "cache_failure"}], ctx.onset, ["cache_hit"])


def _leak_row(mem: np.ndarray, slope: float, start: int, limit: float) -> tuple[np.ndarray, list[int]]:
    """Memory of one instance leaking ``slope`` bytes a minute from ``start``; killed at the limit."""
    out = mem.copy()
    kills = []
    grown = 0.0
    for i in range(start, len(mem)):
        grown += slope
        if mem[i] + grown >= limit:
            kills.append(i)
            grown = 0.0
            out[i] = mem[i] * 0.55  # a fresh process after the restart
            continue
        out[i] = mem[i] + grown
    return out, kills


def memory_leak(ctx: FaultContext) -> Impact:
    """Memory grows linearly; near the limit GC pauses hurt latency, at the limit the pod is OOM-killed."""
    world, svc, m, rng = ctx.world, ctx.service, ctx.magnitude, ctx.world.rng
    spec, ts = SERVICES[svc], world.ts
    start, end = world.index(ctx.onset), len(ts) - 1
    mem = world.sig(svc, "memory_usage_bytes")
    before = fx.snapshot(world, [svc])
    minutes = max(end - start, 1)
    rows = _some_rows(ctx, 0.6)
    for row in rows:
        if ctx.early:
            grow = spec.memory * (0.10 + 0.30 * m) * rng.uniform(0.85, 1.15)
            grow = min(grow, 0.78 * spec.memory_limit - float(mem[row, start]))
        else:
            hit = world.index(world.event_time) - int(rng.integers(1, 7)) - start
            grow = (spec.memory_limit - float(mem[row, start])) * minutes / max(hit, 1) * rng.uniform(0.97, 1.1)
        mem[row], kills = _leak_row(mem[row], grow / minutes, start, spec.memory_limit)
        for i in kills:
            emit_at(world, svc, "oom_killed", float(ts[i]) - float(rng.uniform(1, 20)), row,
                    container=svc, max=int(spec.memory_limit / 2**20))
            emit_at(world, svc, "started", float(ts[i]) + float(rng.uniform(5, 30)), row,
                    version=world.versions[svc])
            err = world.sig(svc, ERR)
            err[row, i: i + 2] = np.clip(err[row, i: i + 2] + 0.02 + 0.08 * m, 0.0, 1.0)  # in-flight requests fail
            world.sig(svc, "requests_per_second")[row, i] *= 0.3
    pressure = np.clip((mem / spec.memory_limit - 0.8) / 0.2, 0.0, 1.0)
    fx.scale(world, svc, P99, 1.0 + (1.5 + 2.0 * m) * pressure)
    fx.scale(world, svc, P50, 1.0 + 0.6 * pressure)
    fx.add(world, svc, "cpu_usage_ratio", 0.15 * pressure)
    fx.add(world, svc, ERR, 0.003 * pressure)
    key = "gc_full" if spec.language == "java" else "soft_limit"
    for row in rows:
        emit(world, svc, key, 2.0 * pressure[row], [row], mb=int(spec.memory_limit * 0.9 / 2**20),
             max=int(spec.memory_limit / 2**20), ms=(300, 4000))
    if not ctx.early:
        spread(ctx, fx.changes_since(world, before), "upstream_timeout")
    return Impact([{"service": svc, "fault": "memory_leak"}], ctx.onset, ["memory", "p99", "errors"],
                  finding="memory_leak")


def disk_full(ctx: FaultContext) -> Impact:
    """Disk usage climbs towards 1; once full, writes fail and requests error out."""
    world, svc, m, rng = ctx.world, ctx.service, ctx.magnitude, ctx.world.rng
    ts = world.ts
    disk = world.sig(svc, "disk_usage_ratio")
    start, end = world.index(ctx.onset), len(ts) - 1
    before = fx.snapshot(world, [svc])
    rows = _some_rows(ctx, 0.3)
    full_at = world.index(world.event_time - float(rng.uniform(4, 12)) * 60.0)
    for row in rows:
        d0 = float(disk[row, start])
        if ctx.early:
            target, stop = float(rng.uniform(0.74, 0.86)), end
            target = max(target, d0 + 0.14 + 0.1 * m)
        else:
            target, stop = 1.0, full_at + int(rng.integers(0, 3))
        writes = rng.uniform(0.5, 1.5, len(ts)) * (np.arange(len(ts)) > start)  # bursty writes
        writes *= (target - d0) / max(float(writes[: stop + 1].sum()), 1e-9)
        disk[row] += np.cumsum(writes)
        np.clip(disk[row], 0.0, 0.9995, out=disk[row])
        over = np.flatnonzero(disk[row] >= 0.9)
        for i in over[::5]:
            emit_at(world, svc, "disk_usage", float(ts[i]) + float(rng.uniform(0, 60)), row,
                    pct=int(disk[row, i] * 100))
        if not ctx.early:
            full = (disk[row] >= 0.999).astype(float)
            fx.add(world, svc, ERR, (0.02 + 0.2 * m) * full, [row])
            fx.scale(world, svc, P99, 1.0 + 0.3 * full, [row])
            emit(world, svc, "no_space", (2.0 + 5.0 * m) * full, [row])
            emit(world, svc, "compaction", 0.3 * full, [row], mb=(1, 80), max=(200, 4000))
    if not ctx.early:
        spread(ctx, fx.changes_since(world, before), "upstream_error")
    return Impact([{"service": svc, "fault": "disk_full"}], ctx.onset, ["disk", "errors"], finding="disk_full")


def traffic_spike(ctx: FaultContext) -> Impact:
    """Requests jump at the entry point; every service behind it gets busier and slower."""
    world, svc, m, rng = ctx.world, ctx.service, ctx.magnitude, ctx.world.rng
    shape = fx.ramp(world.ts, ctx.onset, float(rng.uniform(2, 5)))
    factor = 1.5 + 1.5 * m
    fx.apply_load(world, svc, 1.0 + (factor - 1.0) * shape)
    if SERVICES[svc].ctr is not None:  # much of the extra traffic never clicks
        fx.scale(world, svc, "click_through_ratio", 1.0 - 0.3 * (factor - 1.0) / factor * shape)
    emit(world, svc, "rate_limited", (1.0 + 5.0 * m) * shape, n=(2000, 9000), max=(1500, 2500))
    for hop, dep in enumerate(downstream_of(svc), start=1):
        lagged = fx.delay(shape, min(hop, 3))
        fx.apply_load(world, dep, 1.0 + (factor - 1.0) * rng.uniform(0.85, 1.0) * lagged)
        busy = np.clip((world.aggregate(dep, "cpu_usage_ratio") - 0.85) * 20.0, 0.0, 3.0)
        emit(world, dep, "queue_depth", busy, n=(200, 5000), max=(128, 512))
    return Impact([{"service": svc, "fault": "traffic_spike"}], ctx.onset, ["p99", "rps", "cpu", "errors"])


def bad_release(ctx: FaultContext) -> Impact:
    """A new version rolled out to every instance raises errors and/or latency."""
    world, svc, m, rng = ctx.world, ctx.service, ctx.magnitude, ctx.world.rng
    deployed = ctx.onset - float(rng.uniform(60, 180))
    rows = list(range(len(world.instances[svc])))
    _, switches = deploy(world, svc, deployed, rows)
    on = fx.ramp(world.ts, min(switches) + 60.0, 2)
    if ctx.early:  # a new error, not (yet) user-visible
        fx.add(world, svc, ERR, rng.uniform(0.0005, 0.003) * on)
        emit(world, svc, EXCEPTIONS[SERVICES[svc].language], (1.0 + 4.0 * m) * on, handler=handlers_of(svc))
        return Impact([{"service": svc, "fault": "bad_release"}], ctx.onset, [], finding="new_error_template")
    kind = broken_release(ctx, rows, switches)
    signals = ["errors", "p99"] if kind != "latency" else ["p99"]
    return Impact([{"service": svc, "fault": "bad_release"}], ctx.onset, signals)


def bad_config(ctx: FaultContext) -> Impact:
    """A config push breaks the service: invalid values, then errors and/or latency."""
    world, svc, m, rng = ctx.world, ctx.service, ctx.magnitude, ctx.world.rng
    pushed = ctx.onset - float(rng.uniform(0, 60))
    setting = config_setting(world, svc, harmful=True)
    config_push(world, svc, pushed, setting)
    on = fx.ramp(world.ts, pushed + 60.0, 1)
    deps = list(SERVICES[svc].depends_on) or ["backend"]
    if ctx.early:  # a known error template that bursts; errors stay below the SLO
        fx.add(world, svc, ERR, rng.uniform(0.0005, 0.002) * on)
        emit(world, svc, "upstream_timeout", (2.0 + 8.0 * m) * on, dep=deps, ms=(35, 60))
        emit(world, svc, "retry", (1.0 + 4.0 * m) * on, dep=deps)
        return Impact([{"service": svc, "fault": "bad_config"}], ctx.onset, [], finding="error_burst")
    kind = broken_config(ctx, setting, pushed)
    return Impact([{"service": svc, "fault": "bad_config"}], ctx.onset, ["errors", "p99"] if kind != "latency"
                  else ["p99"])


NOISY_SIGNALS = {"p99": (1.7, 2.6), "errors": (3.0, 6.0), "cpu": (1.5, 1.8)}


def noisy_alert(ctx: FaultContext) -> Impact:
    """A rule too tight for its metric: one- or two-minute spikes, today as yesterday, trip it."""
    world, svc, rng = ctx.world, ctx.service, ctx.world.rng
    signal = str(rng.choice(list(NOISY_SIGNALS)))
    metric = {"p99": P99, "errors": ERR, "cpu": "cpu_usage_ratio"}[signal]
    size = NOISY_SIGNALS[signal]
    i = world.index(world.event_time) - int(rng.integers(0, 3))
    recent = (i - 25, i + 8)  # what the history windows keep around the same time of day
    for window in ("1d", "7d"):
        fx.add_blips(world, int(rng.integers(1, 3)), window, [svc], metric, size, recent)
    fx.add_blips(world, int(rng.integers(2, 5)), "current", [svc], metric, size, (i - 55, i - 3))
    world.sig(svc, metric)[:, i] *= rng.uniform(*size)
    if metric.endswith("_ratio"):
        np.clip(world.sig(svc, metric), 0.0, 1.0, out=world.sig(svc, metric))
    normal = float(np.quantile(world.aggregate(svc, metric) if signal != "cpu"
                               else world.sig(svc, metric).max(axis=0), 0.9))
    threshold = normal * float(rng.uniform(1.15, 1.3))
    if signal == "cpu":
        threshold = min(threshold, float(world.sig(svc, metric)[:, i].max()) * 0.97)
    plan = AlertPlan(svc, signal, float(world.ts[i]), 1, threshold)
    return Impact([], float(world.ts[i]), [signal], alert=plan)


def healthy(ctx: FaultContext) -> Impact:
    """No fault. For an alert: a rule tripped by the normal evening peak, at yesterday's level."""
    world, svc, rng = ctx.world, ctx.service, ctx.world.rng
    signal = str(rng.choice(["p99", "cpu", "rps"]))
    metric = {"p99": P99, "cpu": "cpu_usage_ratio", "rps": "requests_per_second"}[signal]
    series = world.aggregate(svc, metric) if signal != "cpu" else world.sig(svc, metric).max(axis=0)
    end = world.index(world.event_time)
    level = float(np.median(series[max(end - 6, 0): end + 1]))
    plan = AlertPlan(svc, signal, world.event_time - 20 * 60.0, 3, level * float(rng.uniform(0.96, 0.99)))
    return Impact([], world.event_time, [signal], alert=plan)


FAULTS: dict[str, Callable[[FaultContext], Impact]] = {
    "bad_release": bad_release,
    "bad_config": bad_config,
    "slow_dependency": slow_dependency,
    "cache_failure": cache_failure,
    "memory_leak": memory_leak,
    "traffic_spike": traffic_spike,
    "disk_full": disk_full,
    "noisy_alert": noisy_alert,
    "healthy": healthy,
}
WITH_CALLERS = tuple(s for s in SERVICES if callers_of(s))
# Where each fault can plausibly strike in an alert investigation.
RCA_TARGETS: dict[str, tuple[str, ...]] = {
    "bad_release": ("query-understanding", "retrieval", "ranking", "recommendation", "ad-serving",
                    "user-profile", "feature-store", "gateway"),
    "bad_config": ("query-understanding", "retrieval", "ranking", "recommendation", "ad-serving",
                   "user-profile", "feature-store", "gateway", "cache"),
    "slow_dependency": WITH_CALLERS,
    "cache_failure": ("cache",),
    "memory_leak": ("query-understanding", "retrieval", "ranking", "recommendation", "ad-serving",
                    "user-profile", "feature-store", "gateway"),
    "traffic_spike": ("gateway",),
    "disk_full": STATEFUL,
    "noisy_alert": tuple(SERVICES),
    "healthy": tuple(SERVICES),
}
