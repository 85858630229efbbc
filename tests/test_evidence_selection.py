"""Which Findings the model is shown when there are more than it may see: strongest, round-robin, weights first."""

from __future__ import annotations

from agent.events import Event
from agent.evidence import EvidencePack, select_for_pack
from agent.findings import (
    COVERAGE_DETECTOR,
    THIN_REFERENCE_DETECTOR,
    Finding,
    FindingKind,
    cannot_clear,
    could_not_judge,
    number_findings,
)
from agent.reasoners.llm import shown_pack

T0 = 1_700_000_000.0


def _finding(service: str, metric: str, signal: str, score: float) -> Finding:
    return Finding(kind=FindingKind.ANOMALY, subject=service, service=service, metric=metric, signal=signal,
                   window_start=T0 - 3600, window_end=T0, score=score, direction="up", summary=f"{service} {metric}")


FINDINGS = number_findings([
    _finding("api", "cpu_usage_ratio", "cpu", 0.9),
    _finding("api", "cpu_usage_ratio", "cpu", 0.85),  # a second instance of the same metric
    _finding("db", "bytes_read", "other", 0.8),
    _finding("api", "latency_p99_seconds", "latency", 0.6),
])


def test_every_service_and_metric_comes_before_a_repeat():
    shown = select_for_pack(FINDINGS, 3)
    assert [(f.service, f.metric) for f in shown] == [
        ("api", "cpu_usage_ratio"), ("db", "bytes_read"), ("api", "latency_p99_seconds")]


def test_the_skills_heavier_signals_are_shown_first():
    weights = {"latency": 2.0, "cpu": 1.0, "other": 1.0}
    shown = select_for_pack(FINDINGS, 2, weights)
    assert {f.signal for f in shown} == {"latency", "cpu"}  # 0.6 x 2/2 beats 0.8 x 1/2
    assert [f.signal for f in select_for_pack(FINDINGS, 2)] == ["cpu", "other"]
    assert shown[0].score >= shown[1].score  # shown strongest first, whatever chose them


def test_a_finding_several_signals_reported_weighs_as_the_heaviest_of_them():
    weights = {"latency": 2.0, "cpu": 1.0, "other": 1.0}
    both = FINDINGS[3].model_copy(update={"signal": "other", "also_signals": ["latency"]})  # 0.6, latency among them
    shown = select_for_pack([*FINDINGS[:3], both], 2, weights)
    assert {f.id for f in shown} == {FINDINGS[0].id, both.id}  # 0.6 x 2/2 beats 0.8 x 1/2, as it did for latency


def _missing(subject: str, metric: str) -> Finding:
    return Finding(kind=FindingKind.MISSING_DATA, subject=subject, service=subject, metric=metric,
                   window_start=T0 - 3600, window_end=T0, score=0.0, summary=f"no {metric} of {subject}")


def test_every_missing_data_finding_survives_a_small_limit_even_two_about_one_subject():
    """Round-robin put a second missing-data Finding about one subject (same service, metric) after every other
    service's best evidence: at a small limit it was dropped, and with it what says the answer is incomplete."""
    gaps = [_missing("api", ""), _missing("api", "")]  # two gaps of one service: no metric named either
    shown = select_for_pack(number_findings([*FINDINGS, *gaps]), 3)
    assert [f.kind for f in shown].count(FindingKind.MISSING_DATA) == 2
    assert [(f.service, f.metric) for f in shown if f.kind != FindingKind.MISSING_DATA] == [("api", "cpu_usage_ratio")]


def test_missing_data_findings_come_first_but_within_the_limit_and_the_pack_says_how_many_were_left_out():
    """Every missing-data Finding was kept, beyond the limit: a source failing for 60 services showed the model 60
    Findings when ``llm_max_findings`` said 30 (a small model's context overrun). The fail-safe rule's gaps come
    first, so it decides on the shown pack as on the whole one, even at a limit of 1."""
    gaps = [_missing(f"svc{i}", "m") for i in range(40)]
    thin = _missing("api", "").model_copy(update={"detector": THIN_REFERENCE_DETECTOR})
    coverage = _missing("data", "").model_copy(update={"detector": COVERAGE_DETECTOR, "score": 0.0})
    found = number_findings([*FINDINGS, *gaps, thin, coverage])
    shown = select_for_pack(found, 30)
    assert len(shown) == 30 and {f.kind for f in shown} == {FindingKind.MISSING_DATA}
    assert {f.detector for f in select_for_pack(found, 2)} == {COVERAGE_DETECTOR, THIN_REFERENCE_DETECTOR}
    for limit in (1, 2, 30):
        assert could_not_judge(select_for_pack(found, limit)) == could_not_judge(found)
        without = [f for f in found if f.detector != COVERAGE_DETECTOR]
        assert cannot_clear(select_for_pack(without, limit)) == cannot_clear(without)
    pack = EvidencePack(event=Event(pattern="rca", service="api", time=T0), skill="rca", skill_version=1,
                        findings=found, missing=["prometheus: timed out"])
    assert shown_pack(pack, 30).missing == [
        "prometheus: timed out",
        "12 more missing_data Finding(s) not shown (the pack shows at most 30 Findings): data is missing in more "
        "places than the Findings say"]
    assert shown_pack(pack, 50).missing == ["prometheus: timed out"]  # all shown: nothing said
