"""Building blocks faults are made of: time shapes, changes to signals and their propagation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agent.sim.system import SERVICES
from agent.sim.traffic import lognoise, saturation
from agent.sim.world import CURRENT, World

LATENCIES = ("request_latency_p50_seconds", "request_latency_p99_seconds")
ERRORS = "request_error_ratio"
# How much of a dependency's change a caller sees: (low, high) of a uniform draw per edge.
PASS_THROUGH = {
    "request_latency_p50_seconds": (0.70, 0.95),
    "request_latency_p99_seconds": (0.60, 0.90),
    ERRORS: (0.30, 0.60),
}


def ramp(ts: np.ndarray, start: float, minutes: float = 2.0) -> np.ndarray:
    """0 before ``start``, rising linearly to 1 over ``minutes``, then 1."""
    if minutes <= 0:
        return (ts >= start).astype(float)
    return np.clip((ts - start) / (minutes * 60.0) + 1.0 / minutes, 0.0, 1.0) * (ts >= start)


def minutes_since(ts: np.ndarray, start: float) -> np.ndarray:
    """Minutes elapsed since ``start`` (0 before it)."""
    return np.clip((ts - start) / 60.0, 0.0, None)


def delay(curve: np.ndarray, minutes: int) -> np.ndarray:
    """``curve`` shifted later by whole minutes (samples), holding its first value."""
    if minutes <= 0:
        return curve.copy()
    return np.concatenate([np.full(minutes, curve[0]), curve[:-minutes]])


def rows_of(world: World, service: str, rows: Sequence[int] | None) -> np.ndarray:
    """Row indexes of ``service``'s instances (all when ``rows`` is None)."""
    n = len(world.instances[service])
    return np.arange(n) if rows is None else np.asarray(rows, dtype=int)


def scale(world: World, service: str, metric: str, factor: np.ndarray | float,
          rows: Sequence[int] | None = None) -> None:
    """Multiply a metric of some instances by ``factor`` (per sample); ratios stay within 0..1."""
    arr = world.sig(service, metric)
    idx = rows_of(world, service, rows)
    arr[idx] = arr[idx] * factor
    _clip(metric, arr)


def add(world: World, service: str, metric: str, delta: np.ndarray | float,
        rows: Sequence[int] | None = None) -> None:
    """Add ``delta`` (per sample) to a metric of some instances; ratios stay within 0..1."""
    arr = world.sig(service, metric)
    idx = rows_of(world, service, rows)
    if metric in (*LATENCIES, ERRORS) and np.ndim(delta):  # what a fault adds is as noisy as the rest
        delta = delta * lognoise(world.rng, (len(idx), len(world.ts)), 0.12)
    arr[idx] = arr[idx] + delta
    _clip(metric, arr)


def _clip(metric: str, arr: np.ndarray) -> None:
    if metric.endswith("_ratio"):
        np.clip(arr, 0.0, 1.0, out=arr)
    else:
        np.clip(arr, 0.0, None, out=arr)


def apply_load(world: World, service: str, factor: np.ndarray, rows: Sequence[int] | None = None) -> None:
    """More (or less) traffic on ``service``: rate and CPU scale, latency follows CPU saturation,
    and requests start being shed once CPU is nearly exhausted."""
    idx = rows_of(world, service, rows)
    cpu = world.sig(service, "cpu_usage_ratio")
    before = saturation(cpu[idx])
    scale(world, service, "requests_per_second", factor, rows)
    cpu[idx] = np.clip(cpu[idx] * factor, 0.0, 0.995)
    ratio = saturation(cpu[idx]) / before
    for metric in LATENCIES:
        scale(world, service, metric, ratio, rows)
    add(world, service, ERRORS, 0.25 * np.clip(cpu[idx] - 0.93, 0.0, None), rows)


def snapshot(world: World, services: Sequence[str]) -> dict[str, dict[str, np.ndarray]]:
    """Service-level latency and error series, to measure what a fault changed."""
    return {s: {m: world.aggregate(s, m) for m in (*LATENCIES, ERRORS)} for s in services}


def changes_since(world: World, before: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, np.ndarray]]:
    """Per service and metric, the service-level change since :func:`snapshot`."""
    return {s: {m: world.aggregate(s, m) - old for m, old in metrics.items()} for s, metrics in before.items()}


def propagate_up(
    world: World, changed: dict[str, dict[str, np.ndarray]], extra_errors: dict[str, np.ndarray] | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Carry latency and error changes from ``changed`` services to their callers, hop by hop.

    Each caller sees part of each affected dependency's change, 1-3 minutes later. ``extra_errors``
    adds caller-side failures (timeouts) on the first hop. Returns the changes applied to callers.
    """
    rng = world.rng
    extra_errors = extra_errors or {}
    total = dict(changed)
    applied: dict[str, dict[str, np.ndarray]] = {}
    for service in _dependencies_first():
        if service in changed:
            continue
        sources = [dep for dep in SERVICES[service].depends_on if dep in total]
        if not sources:
            continue
        delta = {m: np.zeros_like(world.ts) for m in PASS_THROUGH}
        for dep in sources:
            lag = int(rng.integers(1, 4))
            for metric, (low, high) in PASS_THROUGH.items():
                delta[metric] += delay(np.clip(total[dep][metric], 0.0, None), lag) * rng.uniform(low, high)
            if dep in changed and dep in extra_errors:
                delta[ERRORS] += delay(extra_errors[dep], lag)
        for metric, values in delta.items():
            add(world, service, metric, values[None, :])
        spec = SERVICES[service]
        if spec.ctr is not None:  # failed or slow results get fewer clicks
            slow = delta["request_latency_p99_seconds"] / spec.p99
            scale(world, service, "click_through_ratio", 1.0 - np.clip(2.0 * delta[ERRORS] + 0.03 * slow, 0, 0.5))
        total[service] = applied[service] = delta
    return applied


def _dependencies_first() -> list[str]:
    """Services ordered so that every service comes after all it depends on."""
    order: list[str] = []
    while len(order) < len(SERVICES):
        for name, spec in SERVICES.items():
            if name not in order and all(d in order for d in spec.depends_on):
                order.append(name)
    return order


def add_blips(world: World, count: int, window: str = CURRENT, services: Sequence[str] | None = None,
              metric: str = "request_latency_p99_seconds", size: tuple[float, float] = (1.6, 2.6),
              span: tuple[int, int] | None = None) -> list[float]:
    """One- or two-sample spikes (a GC, a slow host, a scrape hiccup) that mean nothing, at sample
    indexes within ``span`` (default: anywhere); returns their times."""
    rng = world.rng
    pool = list(services or SERVICES)
    ts = world.windows[window].ts
    low, high = span or (2, len(ts) - 2)
    times = []
    for _ in range(count):
        service = pool[int(rng.integers(len(pool)))]
        i = int(rng.integers(max(low, 0), min(high, len(ts) - 2)))
        width = int(rng.integers(1, 3))
        factor = rng.uniform(*size)
        arr = world.signals[window][service][metric]
        arr[:, i:i + width] *= factor
        times.append(float(ts[i]))
    return times
