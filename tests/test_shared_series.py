"""A series several services report alike (a host's CPU under every pod on it) names none of them."""

from __future__ import annotations

import numpy as np

from agent.config import PROJECT_ROOT
from agent.events import Event, Pattern
from agent.evidence import EvidencePack
from agent.graph.analysis import analyze_gathered
from agent.graph.gathered import series_by_signal, shared_metrics
from agent.reasoners.offline import OfflineReasoner
from agent.reasoners.ranking import rank_services
from agent.reasoners.service_evidence import SIGNIFICANT, weight
from agent.skills.library import load_library
from tests.test_catch_all import T0, _gathered
from tests.test_evolve_support import finding, rca_event
from tests.test_ranking import _finding, number_findings

HOST = "node_cpu_usage_rate_percent"


def _host_cpu(offset_s: float = 0.0, jitter: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    values = 20.0 + rng.normal(0.0, 1.0, 66)
    values[55:] += 40.0  # the host gets busy at the alert
    times = T0 - 3600 + 60.0 * np.arange(values.size) + offset_s
    return times, values * (1.0 + jitter)


def _series(service: str, metric: str, times: np.ndarray, values: np.ndarray) -> dict:
    item = _gathered("other", metric, values, service)
    return {**item, "t": times.tolist()}


def test_a_series_copied_under_several_services_is_marked_shared():
    times, values = _host_cpu()
    later, copy = _host_cpu(offset_s=1.0, jitter=1e-9)  # scraped a second later, computed apart
    own = np.random.default_rng(3).normal(5.0, 1.0, 66)
    steps = np.repeat([0.1, 0.2], 33)  # two values only: alike by chance, not a copy
    near = values * (1.0 + 1e-4)  # close, but not the same series
    signals = series_by_signal({"series": [
        _series("a", HOST, times, values), _series("b", HOST, later, copy), _series("c", HOST, times, own),
        _series("d", HOST, times, near),
        _series("a", "p90_latency_seconds", times, steps), _series("c", "p90_latency_seconds", times, steps),
    ]})
    assert shared_metrics(signals) == {("a", HOST): 1, ("b", HOST): 1}


def test_a_copy_that_missed_a_run_of_scrapes_is_still_the_same_series():
    """A target that did not answer for three scrapes misses them from its copy of the host's series; the samples
    both hold are still equal, so it is still the host's figure (before, only as many samples matched)."""
    times, values = _host_cpu()
    later, copy = _host_cpu(offset_s=1.0, jitter=1e-9)
    missed = np.ones(values.size, dtype=bool)
    missed[40:43] = False
    short = slice(58, 66)  # eight samples, three of them missed: still more than half in common
    few = np.ones(8, dtype=bool)
    few[2:5] = False
    signals = series_by_signal({"series": [
        _series("a", HOST, times, values), _series("b", HOST, later[missed], copy[missed]),
        _series("c", HOST, times[:20], values[:20]),  # a fifth of the other's samples in common: not a copy
        _series("a", "node_network_receive_bytes", times[short], values[short] * 3.0),
        _series("d", "node_network_receive_bytes", later[short][few], copy[short][few] * 3.0),
    ]})
    assert shared_metrics(signals) == {("a", HOST): 1, ("b", HOST): 1, ("a", "node_network_receive_bytes"): 1,
                                       ("d", "node_network_receive_bytes"): 1}


def test_findings_on_a_shared_series_say_so_and_weigh_little():
    skill = load_library([PROJECT_ROOT / "skills"]).get("generic-rca").skill
    times, values = _host_cpu()
    gathered = {"series": [_series("a", HOST, times, values), _series("b", HOST, times + 1.0, values)],
                "logs": [], "changes": []}
    window = {"start": T0 - 3600, "end": T0 + 300, "anchor": T0}
    findings = analyze_gathered(skill, Event(pattern=Pattern.RCA, time=T0, service="a"), gathered, ["a"], window)
    host = [f for f in findings if f.metric == HOST and f.score >= SIGNIFICANT]
    assert {f.owner for f in host} == {"a", "b"}
    assert all(f.numbers["shared_with"] == 1 for f in host)
    assert all("the same series as 1 other service(s)" in f.summary for f in host)
    assert all(weight(f) < SIGNIFICANT for f in host)


def test_a_service_with_its_own_deviation_outranks_its_neighbours_on_the_shared_host():
    topology = {"frontend": ["cart", "checkout"], "cart": [], "checkout": []}
    shared = [_finding(s, HOST, 0.9).model_copy(update={"numbers": {"active_z": 5.0, "shared_with": 2.0}})
              for s in ("frontend", "cart", "checkout")]
    own = _finding("checkout", "cpu_usage_rate_percent", 0.6)
    ranked = rank_services(number_findings([*shared, own]), [], topology, ["frontend"])
    assert ranked[0].service == "checkout"
    assert not next(e for e in ranked if e.service == "cart").anomalous


def test_a_verdict_neither_cites_nor_classifies_by_a_shared_host_figure():
    """The cause's host CPU is the strongest Finding, but its own request rate is what the answer rests on."""
    topology = {"gateway": ["orders"], "orders": []}
    host = finding("F1", "orders", metric=HOST, score=0.95).model_copy(
        update={"numbers": {"shared_with": 2.0}})
    load = finding("F2", "orders", metric="http_requests_per_second", score=0.8)
    pack = EvidencePack(event=rca_event("gateway", "GatewaySlow"), skill="generic-rca", skill_version=1,
                        target_services=["gateway"], topology=topology, findings=[host, load])
    skill = load_library([PROJECT_ROOT / "skills"]).get("generic-rca").skill
    top = OfflineReasoner().reason(pack, skill).verdict.root_causes[0]
    assert (top.service, top.fault, top.evidence) == ("orders", "traffic_spike", ["F2"])
