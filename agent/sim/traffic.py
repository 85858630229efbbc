"""Normal behaviour: daily seasonality, noise and slow drift; latency and CPU follow load."""

from __future__ import annotations

import numpy as np

from agent.sim.system import ServiceSpec

DAY = 86400.0
PEAK_HOUR_UTC = 13.0  # 21:00 in UTC+8, the evening peak of a consumer app


def daily_load(ts: np.ndarray) -> np.ndarray:
    """Relative load (mean 1) by time of day: an evening peak, a night trough and a lunch bump."""
    hours = (np.asarray(ts, dtype=float) % DAY) / 3600.0
    phase = 2 * np.pi * (hours - PEAK_HOUR_UTC) / 24.0
    return 1.0 + 0.32 * np.cos(phase) + 0.06 * np.cos(2 * phase)


def drift(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    """A slow, smooth multiplicative wander around 1 (a random walk, smoothed and centred)."""
    walk = np.cumsum(rng.normal(0.0, scale / np.sqrt(max(n, 1)), n))
    kernel = np.ones(15) / 15.0
    smooth = np.convolve(np.pad(walk, 7, mode="edge"), kernel, mode="valid")
    return 1.0 + smooth - smooth.mean()


def saturation(cpu: np.ndarray) -> np.ndarray:
    """Latency multiplier from CPU pressure: flat below 70 %, queueing growth above it."""
    over = np.clip(np.asarray(cpu) - 0.70, 0.0, None)
    return 1.0 + 20.0 * over**2


def lognoise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Multiplicative noise with median 1."""
    return np.exp(rng.normal(0.0, sigma, shape))


def baseline_signals(
    spec: ServiceSpec, ts: np.ndarray, rng: np.random.Generator, level: float = 1.0
) -> dict[str, np.ndarray]:
    """Every metric of ``spec`` for each of its instances: arrays of shape (instances, len(ts)).

    ``level`` scales traffic (e.g. a week ago there was a little less of it).
    """
    n, t = spec.instances, len(ts)
    shape = (n, t)
    load = daily_load(ts) * drift(rng, t, 0.04) * level
    share = 1.0 + rng.normal(0.0, 0.02, (n, 1))  # load balancing is never perfectly even
    speed = 1.0 + rng.normal(0.0, 0.02, (n, 1))  # hosts differ a little
    inst_load = load[None, :] * share
    rps = spec.rps / n * inst_load * lognoise(rng, shape, 0.02)
    cpu = np.clip(spec.cpu * inst_load * speed * lognoise(rng, shape, 0.03), 0.01, 1.0)
    sat = saturation(cpu)
    latency_load = 1.0 + 0.25 * (inst_load - 1.0)
    signals = {
        "requests_per_second": rps,
        "request_latency_p50_seconds": spec.p50 * latency_load * speed * sat * lognoise(rng, shape, 0.04),
        "request_latency_p99_seconds": spec.p99 * latency_load * speed * sat * lognoise(rng, shape, 0.07),
        "request_error_ratio": np.clip(
            spec.error_ratio * (1.0 + 0.5 * (inst_load - 1.0)) * lognoise(rng, shape, 0.25), 0.0, 1.0
        ),
        "cpu_usage_ratio": cpu,
        "memory_usage_bytes": spec.memory * speed * (1.0 + 0.04 * (inst_load - 1.0))
        * lognoise(rng, shape, 0.004),
        "disk_usage_ratio": np.clip(
            spec.disk + rng.normal(0.0, 0.02, (n, 1)) + 0.0004 * np.arange(t)[None, :] / 60.0
            + rng.normal(0.0, 0.0005, shape), 0.0, 1.0
        ),
    }
    if spec.cache_hit is not None:
        signals["cache_hit_ratio"] = np.clip(spec.cache_hit + rng.normal(0.0, 0.004, shape), 0.0, 1.0)
    if spec.ctr is not None:
        tod = 1.0 + 0.05 * (load[None, :] - 1.0)
        signals["click_through_ratio"] = spec.ctr * tod * lognoise(rng, shape, 0.04)
    return signals
