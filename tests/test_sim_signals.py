"""Simulator signals: each fault actually shows in the data, the way docs/simulator.md says."""

from __future__ import annotations

import numpy as np
import pytest

from agent.sim import effects as fx
from agent.sim.scenario import Scenario, build_scenario
from agent.sim.system import SERVICES, callers_of, downstream_of, upstream_of
from agent.sim.world import build_world

P99, ERR = "request_latency_p99_seconds", "request_error_ratio"


def current(scenario: Scenario, metric: str, service: str, **labels: str) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps and service-level values (mean over instances; sum for the rate) of the current
    window for the series matching ``labels``."""
    start = scenario.event["time"] - 3 * 3600
    rows = [
        s for s in scenario.series
        if s.metric == metric and s.service == service and s.timestamps[-1] > start
        and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert rows, f"no {metric} series for {service} {labels}"
    ts = np.unique(np.concatenate([s.timestamps for s in rows]))
    grid = np.full((len(rows), len(ts)), np.nan)
    for i, s in enumerate(rows):
        grid[i, np.searchsorted(ts, s.timestamps)] = s.values
    values = np.nansum(grid, axis=0) if metric == "requests_per_second" else np.nanmean(grid, axis=0)
    return ts, values


def per_instance(scenario: Scenario, metric: str, service: str) -> list[np.ndarray]:
    start = scenario.event["time"] - 3 * 3600
    return [s.values for s in scenario.series
            if s.metric == metric and s.service == service and "instance" in s.labels and s.timestamps[0] > start]


def onset(ts: np.ndarray, values: np.ndarray, before: float, k: float = 5.0) -> float | None:
    """First time at or after ``before`` the series stays ``k`` robust deviations above its level
    before ``before`` for three samples; None if it never does."""
    base = values[ts < before]
    centre = np.median(base)
    spread = 1.4826 * np.median(np.abs(base - centre)) + 1e-12
    z = (values - centre) / spread
    for i in range(len(values) - 2):
        if ts[i] >= before and (z[i:i + 3] > k).all():
            return float(ts[i])
    return None


def first_onset(scenario: Scenario, service: str, before: float) -> float | None:
    found = [onset(*current(scenario, m, service), before) for m in (P99, ERR)]
    return min((t for t in found if t is not None), default=None)


def test_call_graph_queries_go_nearest_first_in_topology_order():
    assert callers_of("ranking") == ["gateway", "recommendation"]
    assert callers_of("gateway") == [] and downstream_of("cache") == []
    assert upstream_of("user-profile") == ["recommendation", "ad-serving", "gateway"]
    assert downstream_of("recommendation") == ["feature-store", "user-profile", "ranking", "cache"]
    assert all(s not in upstream_of(s) and s not in downstream_of(s) for s in SERVICES)


def test_callers_follow_a_dependency_one_to_three_minutes_later():
    rng = np.random.default_rng(0)
    world = build_world(rng, 0.0, 0.0, 3600.0)
    step = fx.ramp(world.ts, 1800.0, 0)
    before = fx.snapshot(world, ["feature-store"])
    fx.add(world, "feature-store", P99, 0.2 * step)
    applied = fx.propagate_up(world, fx.changes_since(world, before))
    assert set(applied) == {"ranking", "recommendation", "ad-serving", "gateway"}
    start = int(np.argmax(step > 0))
    for service in ("ranking", "ad-serving"):
        lag = int(np.argmax(applied[service][P99] > 0)) - start
        assert 1 <= lag <= 3, service
    assert int(np.argmax(applied["gateway"][P99] > 0)) - start >= 2  # two hops away
    assert not np.any(applied["ranking"][P99][:start])


@pytest.mark.parametrize("fault", ["slow_dependency", "bad_release", "bad_config", "disk_full"])
def test_root_anomaly_starts_before_the_alerted_callers(fault):
    checked = 0
    for seed in range(8):
        scenario = build_scenario("rca", fault, seed)
        root, symptom = scenario.label["root_cause"][0]["service"], scenario.event["service"]
        if root == symptom:
            continue
        early = scenario.event["time"] - 45 * 60
        t_root, t_symptom = first_onset(scenario, root, early), first_onset(scenario, symptom, early)
        assert t_root is not None and t_symptom is not None, (seed, root, symptom)
        assert t_root <= t_symptom, (seed, root, symptom)
        assert t_root <= scenario.event["time"] + 60
        checked += 1
    assert checked >= 3


def test_cache_failure_collapses_hit_ratio_and_slows_callers():
    for seed in range(3):
        scenario = build_scenario("rca", "cache_failure", seed)
        t = scenario.event["time"]
        ts, hit = current(scenario, "cache_hit_ratio", "cache")
        assert np.median(hit[ts < t - 30 * 60]) - np.median(hit[ts > t]) > 0.2
        ts, p99 = current(scenario, P99, "ranking")
        assert np.median(p99[ts > t]) > 1.2 * np.median(p99[ts < t - 30 * 60])


def test_memory_leak_grows_memory_until_it_hurts():
    for seed in range(3):
        scenario = build_scenario("rca", "memory_leak", seed)
        root = scenario.label["root_cause"][0]["service"]
        limit = SERVICES[root].memory_limit
        rows = per_instance(scenario, "memory_usage_bytes", root)
        assert max(float(r.max()) for r in rows) > 0.88 * limit
        text = " ".join(r.message for r in scenario.logs if r.service == root)
        assert "OOMKilled" in text or "GC pause" in text or "soft limit" in text


def test_inspection_memory_leak_trends_up_on_the_target_only():
    for seed in range(3):
        scenario = build_scenario("inspection", "memory_leak", seed)
        target = scenario.label["findings"][0]["service"]
        for service in scenario.event["scope"]["services"]:
            _, memory = current(scenario, "memory_usage_bytes", service)
            growth = np.median(memory[-10:]) / np.median(memory[:10]) - 1.0
            if service == target:
                assert growth > 0.03, (seed, service, growth)
                worst = max(float(r[-5:].mean() / r[:10].mean()) for r in per_instance(scenario, "memory_usage_bytes",
                                                                                        target))
                assert worst > 1.08
                assert max(float(r.max()) for r in per_instance(scenario, "memory_usage_bytes", target)) < (
                    0.8 * SERVICES[target].memory_limit)
            else:
                assert abs(growth) < 0.02, (seed, service, growth)


def test_disk_fills_up_not_yet_full_in_inspection_full_in_rca():
    for seed in range(3):
        early = build_scenario("inspection", "disk_full", seed)
        target = early.label["findings"][0]["service"]
        rows = per_instance(early, "disk_usage_ratio", target)
        assert max(float(r[-3:].mean() - r[:5].mean()) for r in rows) > 0.12
        assert max(float(r.max()) for r in rows) < 0.9
        late = build_scenario("rca", "disk_full", seed)
        root = late.label["root_cause"][0]["service"]
        assert max(float(r.max()) for r in per_instance(late, "disk_usage_ratio", root)) > 0.99
        assert any("no space left on device" in r.message for r in late.logs if r.service == root)


def test_traffic_spike_raises_the_entry_rate_and_downstream_cpu():
    for seed in range(3):
        scenario = build_scenario("rca", "traffic_spike", seed)
        t = scenario.event["time"]
        ts, rps = current(scenario, "requests_per_second", "gateway")
        assert np.median(rps[ts > t]) > 1.4 * np.median(rps[ts < t - 40 * 60])
        ts, cpu = current(scenario, "cpu_usage_ratio", "ranking")
        assert np.median(cpu[ts > t]) > 1.2 * np.median(cpu[ts < t - 40 * 60])


def _after(scenario: Scenario, metric: str, version: str) -> float:
    change = scenario.event["change"]
    ts, values = current(scenario, metric, change["service"], version=version)
    return float(np.mean(values[ts >= change["ts"] + 180]))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_bad_canary_is_worse_than_its_baseline(seed):
    scenario = build_scenario("release_interception", "bad_release", seed, variant="block")
    change = scenario.event["change"]
    new, old = change["canary"]["version"], change["baseline"]["version"]
    worse = max(_after(scenario, m, new) / _after(scenario, m, old) for m in (ERR, P99))
    assert worse > 1.3
    errors = [r for r in scenario.logs if r.service == change["service"] and r.level == "ERROR"
              and r.ts > change["ts"]]
    canary_pods = {s.labels["instance"] for s in scenario.series if s.labels.get("version") == new}
    if _after(scenario, ERR, new) > 2 * _after(scenario, ERR, old):
        assert errors and {r.instance for r in errors} & canary_pods


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_good_canary_matches_its_baseline_and_marginal_has_no_error_regression(seed):
    good = build_scenario("release_interception", "healthy", seed, variant="canary")
    change = good.event["change"]
    new, old = change["canary"]["version"], change["baseline"]["version"]
    for metric in (ERR, P99):
        assert 0.75 < _after(good, metric, new) / _after(good, metric, old) < 1.25, metric
    hold = build_scenario("release_interception", "bad_release", seed, variant="hold")
    change = hold.event["change"]
    new, old = change["canary"]["version"], change["baseline"]["version"]
    assert _after(hold, ERR, new) / _after(hold, ERR, old) < 1.3
    metrics = ["cpu_usage_ratio", "memory_usage_bytes", "request_latency_p50_seconds"]
    if SERVICES[change["service"]].ctr is not None:
        metrics.append("click_through_ratio")
    shifts = [abs(_after(hold, m, new) / _after(hold, m, old) - 1.0) for m in metrics]
    assert max(shifts) > 0.1


def test_bad_config_push_degrades_the_service_after_it_lands():
    for seed in range(3):
        scenario = build_scenario("release_interception", "bad_config", seed, variant="block")
        change = scenario.event["change"]
        worse = 0.0
        for metric in (ERR, P99):
            ts, values = current(scenario, metric, change["service"])
            worse = max(worse, np.mean(values[ts > change["ts"] + 180]) / np.mean(values[ts < change["ts"]]))
        assert worse > 1.3
        key = change["diff"].split(":")[0]
        assert any(key in r.message for r in scenario.logs if r.level == "ERROR" and r.ts >= change["ts"])
        assert not any(key in r.message for r in scenario.logs if r.level == "ERROR" and r.ts < change["ts"])


@pytest.mark.parametrize(("pattern", "seed"), [("rca", 0), ("rca", 1), ("inspection", 0), ("inspection", 1),
                                               ("release_interception", 0)])
def test_healthy_has_no_step_change_beyond_noise(pattern, seed):
    scenario = build_scenario(pattern, "healthy", seed)
    bounds = {P99: (0.7, 1.45), ERR: (0.5, 2.0), "memory_usage_bytes": (0.95, 1.05), "cache_hit_ratio": (0.98, 1.02)}
    services = {s.service for s in scenario.series}
    for service in services:
        for metric, (low, high) in bounds.items():
            if metric == "cache_hit_ratio" and service != "cache":
                continue
            _, values = current(scenario, metric, service)
            ratio = np.median(values[-10:]) / np.median(values[:20])
            assert low < ratio < high, (service, metric, ratio)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noisy_alert_fires_on_a_short_spike_not_a_shift(seed):
    scenario = build_scenario("rca", "noisy_alert", seed)
    assert scenario.label["noise"] is True
    service = scenario.event["service"]
    metric = {"P99LatencyHigh": P99, "ErrorRatioHigh": ERR, "CPUUsageHigh": "cpu_usage_ratio"}[
        next(k for k in ("P99LatencyHigh", "ErrorRatioHigh", "CPUUsageHigh")
             if scenario.event["alert"]["labels"]["alertname"].endswith(k))]
    ts, values = current(scenario, metric, service)
    t = scenario.event["time"]
    level = np.median(values[ts < t - 120])
    assert 0.8 < np.median(values[ts > t + 120]) / level < 1.25  # back to normal right after
    assert values[np.abs(ts - t) <= 180].max() > 1.3 * level  # the spike that fired it
