"""Simulator scenarios: every supported pair makes a valid, neutral, deterministic bundle with the right label."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from agent.bundles.label import load_label
from agent.bundles.reader import load_bundle
from agent.bundles.validate import validate_bundle
from agent.sim.faults import RCA_TARGETS
from agent.sim.scenario import PATTERNS, SUPPORTED, ScenarioError, build_scenario, write_scenario
from agent.sim.system import METRICS, SERVICES, TOPOLOGY, upstream_of

PAIRS = [(p, f) for p in PATTERNS for f in SUPPORTED[p]]
SEED = 11
INSPECTION_KINDS = {"memory_leak": "memory_leak", "disk_full": "disk_full", "bad_release": "new_error_template",
                    "bad_config": "error_burst"}
# Words that would give the answer away if they appeared in what the agent reads.
GIVEAWAYS = ("slow_dependency", "slow dependency", "cache_failure", "cache failure", "memory_leak", "memory leak",
             "traffic_spike", "traffic spike", "disk_full", "bad_release", "bad release", "bad_config",
             "bad config", "noisy", "root cause", "root_cause", "healthy", "ground truth", "injected", "fault")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim")
    out = {}
    for pattern, fault in PAIRS:
        scenario = build_scenario(pattern, fault, SEED)
        out[(pattern, fault)] = (scenario, write_scenario(scenario, root / f"{pattern}-{fault}"))
    return out


@pytest.mark.parametrize(("pattern", "fault"), PAIRS)
def test_bundle_is_valid_and_small(bundles, pattern, fault):
    scenario, path = bundles[(pattern, fault)]
    assert validate_bundle(path) == []
    bundle = load_bundle(path)
    assert bundle.event.pattern.value == pattern
    assert {s.metric for s in bundle.series} <= set(METRICS)
    assert set(bundle.services()) <= set(SERVICES)
    assert bundle.topology is not None and set(bundle.topology.services()) == set(TOPOLOGY)
    assert bundle.logs and all(r.level in ("INFO", "WARN", "ERROR", "FATAL") for r in bundle.logs)
    size = sum(f.stat().st_size for f in path.iterdir())
    assert size < 1_000_000, f"{pattern}/{fault} bundle is {size} bytes"
    # the event window: samples a minute apart, up to the look-back before the event
    ts = sorted({t for s in bundle.series for t in s.timestamps.tolist() if t > bundle.event.time - 3 * 3600})
    assert ts[0] < bundle.event.time < ts[-1] + 61
    assert set(int(b - a) for a, b in zip(ts, ts[1:], strict=False)) == {60}
    # history windows: the same time of day 1 and 7 days earlier, nothing else
    days = {round((bundle.event.time - t) / 86400) for s in bundle.series for t in s.timestamps.tolist()}
    assert days == {0, 1, 7}


@pytest.mark.parametrize(("pattern", "fault"), PAIRS)
def test_label_matches_the_request(bundles, pattern, fault):
    scenario, path = bundles[(pattern, fault)]
    truth = load_label(path)
    assert truth is not None
    assert scenario.label["sim"] == {**scenario.label["sim"], "pattern": pattern, "fault": fault, "seed": SEED}
    event = load_bundle(path).event
    if pattern == "rca":
        alert = event.alert
        assert alert is not None and alert.status == "firing" and alert.labels["service"] == event.service
        assert alert.name.startswith("".join(p.capitalize() for p in event.service.split("-")))
        assert alert.annotations["summary"].startswith(event.service)
        if fault in ("noisy_alert", "healthy"):
            assert truth.noise is True and truth.root_cause == []
        else:
            assert truth.noise is False
            cause = truth.primary
            assert cause.fault == fault and cause.service in RCA_TARGETS[fault]
            # the alert fires where the fault shows: the root itself or something that depends on it
            # (for a traffic spike: the entry point or something behind it)
            assert event.service == cause.service or (
                event.service in upstream_of(cause.service) or cause.service in upstream_of(event.service)
            )
    elif pattern == "release_interception":
        change = event.change
        assert change is not None and change.service == event.service
        assert truth.decision == ("pass" if fault == "healthy" else truth.decision)
        assert truth.decision in (("pass",) if fault == "healthy" else ("hold", "block"))
        if fault == "bad_release":
            assert change.type == "canary" and change.canary and change.baseline
        if fault == "bad_config":
            assert change.type == "config" and change.diff
        assert (truth.root_cause == []) == (truth.decision == "pass")
    else:
        assert event.scope is not None and event.scope.services
        if fault == "healthy":
            assert truth.findings == []
        else:
            [finding] = truth.findings
            assert finding.kind == INSPECTION_KINDS[fault] and finding.service in event.scope.services


@pytest.mark.parametrize(("pattern", "fault"), PAIRS)
def test_nothing_the_agent_reads_names_the_answer(bundles, pattern, fault):
    _, path = bundles[(pattern, fault)]
    for name in ("event.yaml", "logs.jsonl", "changes.jsonl", "metrics.csv"):
        text = (path / name).read_text().lower()
        found = [w for w in GIVEAWAYS if re.search(rf"\b{w}\b", text)]
        assert not found, f"{name} of {pattern}/{fault} mentions {found}"


def test_same_seed_same_bytes_even_in_another_process(tmp_path):
    first = write_scenario(build_scenario("rca", "cache_failure", 5), tmp_path / "a")
    second = write_scenario(build_scenario("rca", "cache_failure", 5), tmp_path / "b")
    code = (
        "import sys; from pathlib import Path; from agent.sim import build_scenario, write_scenario;"
        "write_scenario(build_scenario('rca', 'cache_failure', 5), Path(sys.argv[1]))"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "c")], check=True,
                   env={"PYTHONHASHSEED": "123", "PATH": ""})
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir()) == sorted(p.name for p in (tmp_path / "c").iterdir())
    for name in names:
        data = (first / name).read_bytes()
        assert data == (second / name).read_bytes() == (tmp_path / "c" / name).read_bytes(), name


def test_seeds_change_service_time_and_magnitude():
    scenarios = [build_scenario("rca", "slow_dependency", seed) for seed in range(6)]
    assert len({s.event["time"] for s in scenarios}) == 6
    assert len({s.label["root_cause"][0]["service"] for s in scenarios}) >= 3
    assert len({s.event["service"] for s in scenarios}) >= 2
    assert len({s.label["sim"]["magnitude"] for s in scenarios}) == 6


def test_variants_and_service_are_honoured():
    hold = build_scenario("release_interception", "bad_release", 3, variant="hold", service="ranking")
    assert hold.label["decision"] == "hold" and hold.event["change"]["service"] == "ranking"
    block = build_scenario("release_interception", "bad_config", 3, variant="block")
    assert block.label["decision"] == "block" and block.event["change"]["type"] == "config"
    good = build_scenario("release_interception", "healthy", 3, variant="config")
    assert good.label["decision"] == "pass" and good.event["change"]["type"] == "config"
    leak = build_scenario("rca", "memory_leak", 3, service="ad-serving")
    assert leak.label["root_cause"] == [{"service": "ad-serving", "fault": "memory_leak"}]


def test_an_earlier_incident_comes_and_goes_before_the_cause_and_changes_nothing_else():
    plain = build_scenario("rca", "slow_dependency", 4)
    burst = build_scenario("rca", "slow_dependency", 4, earlier_incident=True)
    earlier = burst.label["sim"]["earlier_incident"]
    assert burst.label["root_cause"] == plain.label["root_cause"] and burst.event == plain.event
    assert earlier["service"] not in {plain.label["root_cause"][0]["service"], plain.event["service"]}
    assert earlier["fault"] == "slow_dependency" and earlier["onset"] < earlier["end"] < plain.event["time"]
    changed: set[str] = set()
    for a, b in zip(plain.series, burst.series, strict=True):
        assert (a.metric, a.labels) == (b.metric, b.labels)
        moved = a.timestamps[~np.isclose(a.values, b.values)]
        assert ((moved >= earlier["onset"] - 60) & (moved <= earlier["end"])).all()  # only while it lasted
        if moved.size:
            changed.add(a.labels["service"])
    assert earlier["service"] in changed  # and it did happen, there and in its callers
    assert len(changed) >= 2
    extra = [r for r in burst.logs if r not in plain.logs]
    assert extra and all(earlier["onset"] - 60 <= r.ts < earlier["end"] for r in extra)
    assert "earlier_incident" not in build_scenario("rca", "noisy_alert", 4, earlier_incident=True).label["sim"]
    with pytest.raises(ScenarioError, match="RCA cases only"):
        build_scenario("inspection", "memory_leak", 4, earlier_incident=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope", "healthy", 1), "unknown pattern 'nope'"),
        (("rca", "nope", 1), "unknown fault 'nope'"),
        (("release_interception", "memory_leak", 1), "not generated for pattern 'release_interception'"),
        (("inspection", "noisy_alert", 1), "it supports memory_leak, disk_full"),
    ],
)
def test_impossible_requests_are_refused_clearly(args, message):
    with pytest.raises(ScenarioError, match=message):
        build_scenario(*args)


def test_bad_variant_and_service_are_refused():
    with pytest.raises(ScenarioError, match="choose one of block, hold"):
        build_scenario("release_interception", "bad_release", 1, variant="pass")
    with pytest.raises(ScenarioError, match="variant 'block' is not known for rca/slow_dependency"):
        build_scenario("rca", "slow_dependency", 1, variant="block")
    with pytest.raises(ScenarioError, match="unknown service 'web'"):
        build_scenario("rca", "slow_dependency", 1, service="web")
    with pytest.raises(ScenarioError, match="cache_failure is not simulated on ranking"):
        build_scenario("rca", "cache_failure", 1, service="ranking")


def test_label_yaml_carries_the_generation_parameters(bundles):
    _, path = bundles[("rca", "slow_dependency")]
    text = (path / "label.yaml").read_text()
    assert "sim:" in text and f"seed: {SEED}" in text
    changes = [json.loads(line) for line in (path / "changes.jsonl").read_text().splitlines()]
    assert all(isinstance(c["ts"], int) for c in changes)
