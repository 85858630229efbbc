"""Without a call graph: every other service with data is a possible dependency, so the cause is still examined."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.bundles.label import load_label
from agent.bundles.reader import load_bundle
from agent.config import PROJECT_ROOT, get_settings
from agent.graph.plan import MAX_PEERS, call_graph_covers, dependency_services
from agent.investigate import investigate
from agent.runtime import bundle_toolkit
from agent.scoring import score_case
from agent.sim.scenario import build_scenario, write_scenario
from agent.skills.library import load_library
from agent.topology import Topology

PEERS = ["cache", "gateway", "ranking", "retrieval"]


@pytest.fixture(scope="module")
def generic_rca():
    return load_library([PROJECT_ROOT / "skills"]).get("generic-rca").skill


def test_peers_stand_in_for_a_missing_call_graph(generic_rca):
    assert not call_graph_covers(None, ["gateway"])
    assert dependency_services(generic_rca, ["gateway"], None, PEERS) == ["cache", "ranking", "retrieval"]
    edgeless = Topology({"gateway": [], "ranking": []})
    assert dependency_services(generic_rca, ["gateway"], edgeless, PEERS) == ["cache", "ranking", "retrieval"]
    many = [f"svc-{i:03d}" for i in range(MAX_PEERS + 20)]
    assert len(dependency_services(generic_rca, ["gateway"], None, many)) == MAX_PEERS


def test_only_skills_that_read_dependencies_look_for_peers():
    from agent.graph.plan import reads_dependencies

    library = load_library([PROJECT_ROOT / "skills"])
    assert reads_dependencies(library.get("generic-rca").skill)
    assert not reads_dependencies(library.get("generic-release").skill)  # depth 1, but nothing asks for them
    assert not reads_dependencies(library.get("generic-inspection").skill)  # depth 0


def test_a_call_graph_that_covers_the_target_decides_alone(generic_rca):
    graph = Topology({"gateway": ["ranking"], "ranking": ["cache"]})
    assert call_graph_covers(graph, ["gateway"])
    assert dependency_services(generic_rca, ["gateway"], graph, PEERS) == ["ranking", "cache"]
    # A graph that does not name the alerted service says nothing about its neighbours: peers again.
    assert dependency_services(generic_rca, ["retrieval"], graph, PEERS) == ["cache", "gateway", "ranking"]


def test_a_source_that_cannot_list_services_adds_none():
    class Broken:
        name = "broken"

        def services(self, start=None, end=None):
            raise ConnectionError("down")

    class Listing:
        name = "listing"

        def services(self, start=None, end=None):
            return ["b", "a", ""]

    from agent.graph.toolkit import Toolkit

    toolkit = Toolkit(library=None, reasoner=None, metrics=Broken(), logs=Listing())
    assert toolkit.data_services() == ["a", "b"]


def test_a_bundle_lists_the_services_with_data_in_a_window():
    import numpy as np

    from agent.bundles.reader import CaseBundle
    from agent.events import Event, Pattern
    from agent.series import Series
    from agent.sources.bundle import BundleMetricSource

    def series(service: str, first: float) -> Series:
        return Series("m", {"service": service}, first + 60.0 * np.arange(10), np.ones(10))

    bundle = CaseBundle(Event(pattern=Pattern.RCA, time=5000.0, service="a"),
                        [series("a", 0.0), series("old", -10000.0), series("b", 3000.0)])
    source = BundleMetricSource(bundle)
    assert source.services() == ["a", "b", "old"]
    assert source.services(0.0, 6000.0) == ["a", "b"]  # "old" has no sample then


def test_services_with_logs_are_those_with_lines_in_the_window_too(tmp_path: Path):
    """A service that logged only long before the investigation is no neighbour of it, from a bundle or the SQL
    store, as a service whose metrics stopped then is not."""
    from agent.bundles.reader import CaseBundle
    from agent.events import Event, Pattern
    from agent.graph.toolkit import Toolkit
    from agent.series import LogRecord
    from agent.sources.bundle import BundleLogSource
    from agent.sources.sqlstore import ObservabilityStore, SqlLogSource

    lines = [LogRecord(100.0, "old", "INFO", "started"), LogRecord(5000.0, "a", "ERROR", "failed")]
    bundle = CaseBundle(Event(pattern=Pattern.RCA, time=5000.0, service="a"), logs=lines)
    url = f"sqlite:///{tmp_path / 'obs.db'}"
    ObservabilityStore(url).ingest_logs(lines)
    for source in (BundleLogSource(bundle), SqlLogSource(url)):
        assert source.services() == ["a", "old"]
        assert source.services(4000.0, 6000.0) == ["a"]
        assert Toolkit(library=None, reasoner=None, logs=source).data_services(4000.0, 6000.0) == ["a"]


def test_an_incident_without_topology_still_finds_a_cause_beyond_the_alerted_service(tmp_path: Path):
    bundle = write_scenario(build_scenario("rca", "slow_dependency", 1010), tmp_path / "case")
    (bundle / "topology.yaml").unlink()
    loaded = load_bundle(bundle)
    assert loaded.topology is None
    label = load_label(bundle)
    result = investigate(loaded.event, bundle_toolkit(loaded, get_settings()), source="eval")
    assert label.root_cause[0].service != loaded.event.service  # the cause is not the alerted service
    score = score_case(bundle.name, result.skill["name"], result.verdict, label)
    assert score.rank == 1, score.detail
    # the simulator's lines name the services they call ("retrying call to cache"): the calls read off them
    assert any("log line(s) of one service naming another" in note for note in result.notes), result.notes
