"""A live investigation: a real Prometheus backfilled with a curated scenario's metrics, its logs and
changes in the SQL observability store, a topology file, and ``live_toolkit`` from the settings."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from agent.bundles.reader import load_bundle
from agent.config import PROJECT_ROOT, get_settings
from agent.investigate import investigate
from agent.runtime import bundle_toolkit, live_toolkit
from agent.sources.sqlstore import ObservabilityStore, default_store_url

pytestmark = pytest.mark.e2e

SCENARIO = PROJECT_ROOT / "examples" / "scenarios" / "rca-slow-dependency"


@pytest.fixture(scope="module")
def scenario_prometheus(start_prometheus) -> str:
    """A Prometheus holding every series of the scenario bundle."""
    return start_prometheus(load_bundle(SCENARIO).series)


def test_live_investigation_against_prometheus(scenario_prometheus, bianque_home, tmp_path, monkeypatch):
    bundle = load_bundle(SCENARIO)
    topology = tmp_path / "topology.yaml"
    with topology.open("w") as fh:
        YAML(typ="safe", pure=True).dump(bundle.topology.to_yaml_dict(), fh)
    monkeypatch.setenv("BIANQUE_PROMETHEUS_URL", scenario_prometheus)
    monkeypatch.setenv("BIANQUE_TOPOLOGY_FILE", str(topology))
    get_settings.cache_clear()
    stored = ObservabilityStore(default_store_url()).ingest_bundle(SCENARIO)
    assert stored.logs == len(bundle.logs) and stored.changes == len(bundle.changes)

    live = investigate(bundle.event, live_toolkit(get_settings()), source="api")
    offline = investigate(bundle.event, bundle_toolkit(bundle, get_settings()))

    assert live.verdict.pattern == "rca" and live.verdict.reasoner == "offline"
    assert live.skill["name"] == offline.skill["name"]
    assert live.findings, live.report
    metric_findings = [f for f in live.findings if f.metric]
    assert metric_findings and all(f.source.startswith("prometheus:") for f in metric_findings)
    assert any(f.kind.startswith("log_") for f in live.findings)  # logs came from the SQL store
    assert "## Missing data" not in live.report or "prometheus" not in live.report.split("## Missing data")[1]
    assert live.verdict.cited_ids() <= {f.id for f in live.findings}
    assert live.verdict.needs_attention is True
    assert live.verdict.root_causes[0].service == offline.verdict.root_causes[0].service
