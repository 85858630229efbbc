"""Regressions a change causes (shared by alert cases and release judgements): errors and/or
latency on the instances running it, the logs that come with them, and their spread to callers."""

from __future__ import annotations

from agent.sim import effects as fx
from agent.sim.context import ERR, P50, P99, FaultContext, spread
from agent.sim.logs import emit, emit_at
from agent.sim.system import SERVICES

EXCEPTIONS = {"java": "exc_java", "go": "exc_go", "cpp": "exc_cpp", "python": "exc_python"}


def regress(ctx: FaultContext, rows: list[int], switches: list[float]) -> str:
    """Errors and/or latency up on ``rows`` from their switch times; returns which ('errors',
    'latency' or 'both')."""
    world, svc, m, rng = ctx.world, ctx.service, ctx.magnitude, ctx.world.rng
    kind = str(rng.choice(["errors", "latency", "both"], p=[0.4, 0.3, 0.3]))
    err = 0.01 + 0.12 * m * rng.uniform(0.8, 1.2)
    f99 = 1.4 + 1.6 * m * rng.uniform(0.8, 1.2)
    for row, at in zip(rows, switches, strict=True):
        shape = fx.ramp(world.ts, at + 60.0, 1)
        if kind in ("errors", "both"):
            fx.add(world, svc, ERR, err * shape, [row])
        if kind in ("latency", "both"):
            fx.scale(world, svc, P99, 1.0 + (f99 - 1.0) * shape, [row])
            fx.scale(world, svc, P50, 1.0 + 0.4 * (f99 - 1.0) * shape, [row])
    return kind


def broken_release(ctx: FaultContext, rows: list[int], switches: list[float]) -> str:
    """The new version on ``rows`` fails (a new exception template) and/or slows down from its
    switch times; callers get their share. Returns which (see :func:`regress`)."""
    world, svc, m = ctx.world, ctx.service, ctx.magnitude
    before = fx.snapshot(world, [svc])
    kind = regress(ctx, rows, switches)
    on = fx.ramp(world.ts, min(switches) + 60.0, 2)
    if kind != "latency":
        emit(world, svc, EXCEPTIONS[SERVICES[svc].language], (2.0 + 10.0 * m) * on, rows, handler=handlers_of(svc))
        emit(world, svc, "request_failed", (1.0 + 5.0 * m) * on, rows)
    else:
        emit(world, svc, "slow_request", (1.0 + 4.0 * m) * on, rows, ms=(300, 3000))
    spread(ctx, fx.changes_since(world, before), "upstream_error")
    return kind


def broken_config(ctx: FaultContext, setting: tuple[str, str, str], pushed: float) -> str:
    """Every instance rejects the pushed value and degrades from ``pushed`` on: config error lines,
    then errors and/or latency (see :func:`regress`), passed on to callers; returns which."""
    world, svc, m, rng = ctx.world, ctx.service, ctx.magnitude, ctx.world.rng
    before = fx.snapshot(world, [svc])
    rows = list(range(len(world.instances[svc])))
    for row in rows:
        emit_at(world, svc, "config_invalid", pushed + float(rng.uniform(1, 50)), row, key=setting[0],
                value=setting[2])
    kind = regress(ctx, rows, [pushed] * len(rows))
    on = fx.ramp(world.ts, pushed + 60.0, 1)
    emit(world, svc, "config_failed", (0.5 + 2.0 * m) * on, key=setting[0],
         reason=[f"value {setting[2]} out of range", "type mismatch", "dependent key missing"])
    if kind != "latency":
        emit(world, svc, "request_failed", (1.0 + 6.0 * m) * on)
    spread(ctx, fx.changes_since(world, before), "upstream_error")
    return kind


def handlers_of(service: str) -> list[str]:
    base = "".join(p.capitalize() for p in service.split("-"))
    return [f"{base}Handler.handle", f"{base}Pipeline.run", f"{base}Service.serve"]
