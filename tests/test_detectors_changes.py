"""Change correlation: changes shortly before an anomaly onset on the service or a service calling it."""

from __future__ import annotations

import pytest

from agent.detectors import detect_change_proximity, earliest_onsets
from agent.findings import Finding, FindingKind
from agent.series import ChangeRecord

T0 = 1772445600.0  # 2026-03-02T10:00:00Z
ONSET = T0 + 1800.0  # 10:30
TOPOLOGY = {"gateway": ["ranking"], "ranking": ["feature-store"], "feature-store": []}


def change(minutes_before_onset: float, service: str = "ranking", type_: str = "deploy", **kw) -> ChangeRecord:
    return ChangeRecord(ts=ONSET - 60.0 * minutes_before_onset, service=service, type=type_,
                        id=f"{type_}-{service}-{minutes_before_onset:g}", **kw)


def test_change_three_minutes_before_onset():
    [finding] = detect_change_proximity([change(3, version="v2.31.0")], {"ranking": ONSET}, dependencies=TOPOLOGY)
    assert finding.kind == FindingKind.CHANGE_NEAR_ONSET
    assert finding.subject == finding.service == "ranking"
    assert finding.numbers["gap_s"] == 180 and finding.numbers["same_service"] == 1
    assert finding.score > 0.7
    assert "deploy deploy-ranking-3 (v2.31.0) on ranking 3m before the anomaly onset at 10:30" in finding.summary


def test_deploy_long_before_the_onset_is_not_related():
    assert detect_change_proximity([change(120)], {"ranking": ONSET}) == []
    assert detect_change_proximity([change(-10)], {"ranking": ONSET}) == []  # 10 minutes after the onset


def test_score_decays_with_the_gap():
    scores = [detect_change_proximity([change(m)], {"ranking": ONSET})[0].score for m in (1, 5, 15, 29)]
    assert scores == sorted(scores, reverse=True) and scores[-1] < 0.1


def test_change_on_a_dependency_of_an_anomalous_service():
    [finding] = detect_change_proximity(
        [change(3, service="feature-store", type_="config", description="raise pool\nsize")],
        {"ranking": ONSET}, dependencies=TOPOLOGY,
    )
    assert finding.subject == "feature-store" and finding.numbers["same_service"] == 0
    assert "of its caller ranking" in finding.summary and "\n" not in finding.summary
    same = detect_change_proximity([change(3)], {"ranking": ONSET}, dependencies=TOPOLOGY)[0]
    assert finding.score < same.score


def test_a_callers_own_change_explains_its_onset_before_a_dependencys_does():
    """ranking's own config push 2 minutes before its onset explains it; feature-store's deploy at the same moment
    (feature-store itself quiet) is no longer related to ranking's onset. With ranking's own change later than
    the dependency's relation is strong, or absent, the dependency's change is related as before."""
    onsets = {"ranking": ONSET}
    own, dependency = change(2, type_="config"), change(2, service="feature-store")
    [finding] = detect_change_proximity([own, dependency], onsets, dependencies=TOPOLOGY)
    assert finding.service == "ranking"
    related = detect_change_proximity([dependency], onsets, dependencies=TOPOLOGY)
    assert [f.service for f in related] == ["feature-store"]
    weaker_own = change(28, type_="config")  # 28 minutes before: explains less than the dependency's deploy
    found = detect_change_proximity([weaker_own, dependency], onsets, dependencies=TOPOLOGY)
    assert sorted(f.service for f in found) == ["feature-store", "ranking"]


def test_unrelated_services_and_rollbacks():
    assert detect_change_proximity([change(3, service="gateway")], {"ranking": ONSET}, dependencies=TOPOLOGY) == []
    [rollback] = detect_change_proximity([change(3, type_="rollback")], {"ranking": ONSET})
    [deploy] = detect_change_proximity([change(3)], {"ranking": ONSET})
    assert rollback.score == pytest.approx(deploy.score / 2, abs=1e-3)


def test_small_lead_tolerates_sampling_jitter():
    assert len(detect_change_proximity([change(-0.5)], {"ranking": ONSET})) == 1
    with pytest.raises(ValueError, match="max_gap"):
        detect_change_proximity([change(3)], {"ranking": ONSET}, max_gap=0)


def _finding(service: str, onset: float | None, score: float, kind=FindingKind.ANOMALY) -> Finding:
    return Finding(kind=kind, subject=service, service=service, window_start=T0, window_end=T0 + 3600,
                   onset=onset, score=score, summary="x")


def test_earliest_onsets():
    findings = [
        _finding("ranking", ONSET, 0.8),
        _finding("ranking", ONSET - 120, 0.5),
        _finding("ranking", ONSET - 600, 0.1),  # too weak
        _finding("cache", None, 0.9),
        _finding("gateway", ONSET - 900, 0.9, kind=FindingKind.CHANGE_NEAR_ONSET),
    ]
    assert earliest_onsets(findings) == {"ranking": ONSET - 120}
