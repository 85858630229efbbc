"""Honest scoring: a "no attention" verdict is never a top-k hit; ``kind: anomaly`` is any serious item."""

from __future__ import annotations

from agent.bundles.label import load_label
from agent.scoring import score_case, score_inspection, score_rca
from agent.verdict import InspectionItem, RootCause, Verdict

TRUTH = [{"service": "payment", "fault": "network_delay"}]


def _rca(attention: bool) -> Verdict:
    causes = [RootCause(service="payment", fault="network_delay", confidence=0.9, evidence=["F1"])]
    return Verdict(pattern="rca", summary="s", needs_attention=attention, root_causes=causes)


def test_a_ranking_behind_no_attention_is_not_a_hit():
    silenced = score_rca("c", "generic-rca", _rca(False), TRUTH, noise=False)
    assert silenced.rank is None and silenced.fault_correct is None and not silenced.passed
    assert "MISSED" in silenced.detail
    flagged = score_rca("c", "generic-rca", _rca(True), TRUTH, noise=False)
    assert flagged.rank == 1 and flagged.fault_correct and flagged.passed


def test_an_anomaly_label_is_found_by_anything_serious_on_its_service():
    items = [InspectionItem(service="speed-7578", kind="unknown", severity="warning", summary="x")]
    verdict = Verdict(pattern="inspection", summary="s", items=items)
    found = score_inspection("c", "generic-inspection", verdict, [{"service": "speed-7578", "kind": "anomaly"}])
    assert found.found_items == 1 and found.passed
    info_only = Verdict(pattern="inspection", summary="s",
                        items=[items[0].model_copy(update={"severity": "info"})])
    assert score_inspection("c", "g", info_only, [{"service": "speed-7578", "kind": "anomaly"}]).found_items == 0
    typed = score_inspection("c", "g", verdict, [{"service": "speed-7578", "kind": "memory_leak"}])
    assert typed.found_items == 0


def test_a_label_without_kind_or_fault_scores_the_service_alone(tmp_path):
    (tmp_path / "label.yaml").write_text("root_cause: [{service: payment}]\nfindings: [{service: payment}, "
                                         "{service: cache, kind: null}, {service: disk, kind: ''}]\n")
    label = load_label(tmp_path)
    assert [f.kind for f in label.findings] == ["anomaly"] * 3
    items = [InspectionItem(service="payment", kind="latency_regression", severity="warning", summary="x")]
    verdict = Verdict(pattern="inspection", summary="s", items=items)
    assert score_case("c", "g", verdict, label).found_items == 1
    rca = score_case("c", "g", _rca(True), label)
    assert rca.rank == 1 and rca.passed and rca.fault_correct is None  # the fault kind is unknown, not wrong
