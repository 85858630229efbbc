"""Honest scoring: a "no attention" verdict is never a top-k hit; ``kind: anomaly`` is any serious item."""

from __future__ import annotations

import pytest

from agent.bundles.label import load_label
from agent.cli.evaluate import pattern_tables
from agent.eval.runner import EvalReport
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


@pytest.mark.parametrize("fault", ['""', "'  '"])
def test_a_blank_fault_in_a_label_is_no_fault_labelled(tmp_path, fault: str) -> None:
    """``fault: ""`` names no kind: it is not counted among the cases whose fault is labelled (no verdict could
    ever match it), as a label without ``fault:`` is not."""
    (tmp_path / "label.yaml").write_text(f"root_cause: [{{service: payment, fault: {fault}}}]\n"
                                         f"findings: [{{service: payment, kind: {fault}}}]\n")
    label = load_label(tmp_path)
    assert label.primary.fault is None and label.findings[0].kind == "anomaly"
    scored = score_case("c", "g", _rca(True), label)
    assert scored.passed and not scored.fault_labelled and scored.fault_correct is None


def test_fault_accuracy_is_over_the_cases_whose_label_names_a_fault():
    """Two labels name the fault (one right, one missed behind "no attention"), one names the service only: fault
    accuracy is 1 of the 2 labelled, not 1 of 3, and the table says over how many."""
    service_only = [{"service": "payment", "fault": None}]
    report = EvalReport()
    for name, verdict, truth in (("right", _rca(True), TRUTH), ("silenced", _rca(False), TRUTH),
                                 ("service-only", _rca(True), service_only)):
        report.add(score_rca(name, "generic-rca", verdict, truth, noise=False))
    rca = report.by_pattern["rca"]
    assert (rca.rca_cases, rca.fault_labelled, rca.fault_correct) == (3, 2, 1)
    assert rca.rates()["rca_fault_accuracy"] == 0.5 and rca.rates()["rca_top1"] == round(2 / 3, 4)
    assert report.to_dict()["by_pattern"]["rca"]["fault_labelled"] == 2
    row = pattern_tables(report)[0].columns[4]
    assert row.header == "fault kind" and list(row.cells) == ["50% (1/2 labelled)"]
    none = EvalReport()
    none.add(score_rca("c", "generic-rca", _rca(True), service_only, noise=False))
    assert none.overall.rates()["rca_fault_accuracy"] is None
    assert list(pattern_tables(none)[0].columns[4].cells) == ["— (no fault labelled)"]
