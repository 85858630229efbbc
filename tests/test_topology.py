"""Topology: dependency neighbourhoods, unknown services, cycles, file loading."""

from __future__ import annotations

import pytest

from agent.topology import Topology, TopologyError

SIM = {
    "services": {
        "gateway": {
            "depends_on": ["query-understanding", "retrieval", "ranking", "recommendation", "ad-serving"]
        },
        "query-understanding": {"depends_on": ["cache"]},
        "retrieval": {"depends_on": ["cache"]},
        "ranking": {"depends_on": ["feature-store", "cache"]},
        "recommendation": {"depends_on": ["feature-store", "user-profile", "ranking"]},
        "ad-serving": {"depends_on": ["user-profile", "feature-store"]},
        "user-profile": {"depends_on": ["cache"]},
        "feature-store": {"depends_on": []},
        "cache": None,
    }
}


@pytest.fixture
def topo() -> Topology:
    return Topology.from_dict(SIM)


def test_services_include_callees_never_declared():
    topo = Topology.from_dict({"services": {"a": {"depends_on": ["b"]}}})
    assert topo.services() == ["a", "b"]
    assert "b" in topo and "z" not in topo


def test_dependencies_by_depth(topo):
    assert topo.dependencies("ranking") == ["feature-store", "cache"]
    assert topo.dependencies("recommendation", depth=1) == ["feature-store", "user-profile", "ranking"]
    two_hops = topo.dependencies("recommendation", depth=2)
    assert two_hops == ["feature-store", "user-profile", "ranking", "cache"]
    assert topo.dependencies("cache") == []


def test_dependents_by_depth(topo):
    assert topo.dependents("feature-store") == ["ranking", "recommendation", "ad-serving"]
    assert topo.dependents("feature-store", depth=2) == ["ranking", "recommendation", "ad-serving", "gateway"]
    assert set(topo.dependents("cache", depth=None)) == set(topo.services()) - {"cache", "feature-store"}
    assert topo.dependents("gateway") == []


def test_hops_from_the_nearest_source(topo):
    assert topo.hops(["gateway"], "cache") == 2
    assert topo.hops(["gateway", "user-profile"], "cache") == 1  # the nearer source counts
    assert topo.hops(["recommendation"], "cache", depth=1) is None  # two calls away: beyond one hop
    assert topo.hops(["cache"], "gateway") is None  # nothing calls up the graph
    assert topo.hops(["cache"], "gateway", direction="upstream") == 2
    assert topo.hops(["feature-store"], "cache", direction="both") == 2  # up to ranking, down to cache
    assert topo.hops(["ranking"], "ranking") == 0
    assert topo.hops(["unknown"], "cache") is None


def test_neighbours_directions(topo):
    assert topo.neighbours("ranking", 1, "downstream") == topo.dependencies("ranking")
    assert topo.neighbours("ranking", 1, "upstream") == ["gateway", "recommendation"]
    assert sorted(topo.neighbours("ranking")) == ["cache", "feature-store", "gateway", "recommendation"]
    assert topo.neighbours("ranking", depth=0) == []
    with pytest.raises(ValueError, match="direction must be"):
        topo.neighbours("ranking", 1, "sideways")


def test_unknown_service_is_empty_not_an_error(topo):
    assert topo.dependencies("nope") == []
    assert topo.dependents("nope", depth=3) == []
    assert topo.neighbours("nope") == []


def test_cycles_terminate():
    topo = Topology({"a": ["b"], "b": ["c"], "c": ["a", "c"]})
    assert topo.dependencies("a", depth=None) == ["b", "c"]
    assert topo.dependents("a", depth=10) == ["c", "b"]
    assert topo.neighbours("b", depth=None) == ["c", "a"]


def test_as_dict_and_yaml_dict_round_trip(topo):
    again = Topology.from_dict(topo.to_yaml_dict())
    assert again.as_dict() == topo.as_dict()
    assert topo.as_dict()["cache"] == []
    assert Topology(topo.as_dict()).as_dict() == topo.as_dict()


def test_from_file(tmp_path):
    path = tmp_path / "topology.yaml"
    path.write_text("services:\n  gateway: {depends_on: [ranking]}\n  ranking: {depends_on: [cache]}\n")
    assert Topology.from_file(path).dependencies("gateway", depth=2) == ["ranking", "cache"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"gateway": ["ranking"]}, "document: must be a mapping with a 'services' key"),
        ({"services": ["a"]}, "services: must map service names"),
        ({"services": {"a": {"depends_on": "b"}}}, "services.a.depends_on: must be a list of service names"),
        ({"services": {"a": {"depends_on": [""]}}}, "services.a.depends_on.0: not a service name ('')"),
    ],
)
def test_bad_topology_names_the_key(data, message):
    with pytest.raises(TopologyError, match="topology: ") as info:
        Topology.from_dict(data)
    assert message in str(info.value)


def test_bad_yaml_file_names_the_file(tmp_path):
    path = tmp_path / "topology.yaml"
    path.write_text("services: [unclosed\n")
    with pytest.raises(TopologyError, match="topology.yaml: document: invalid YAML"):
        Topology.from_file(path)
