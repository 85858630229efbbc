"""Experience about the alert itself: an alert that was real every time an engineer checked is not
dismissed as noise, and experience never dismisses one."""

from __future__ import annotations

from agent.config import PROJECT_ROOT
from agent.evidence import EvidencePack, Lesson
from agent.evolve.corrections import correct_case
from agent.reasoners.alert_history import ALERT_POSITION, RECENT, actionable_before, alert_key, same_alert
from agent.reasoners.lessons import memory_lessons
from agent.reasoners.offline import OfflineReasoner
from agent.skills.library import load_library
from tests.test_evolve_support import finding, rca_event, rca_verdict

TOPOLOGY = {"gateway": ["orders"], "orders": []}


def _pack(findings: list, experience: list[Lesson], alertname: str = "GatewaySlow") -> EvidencePack:
    return EvidencePack(event=rca_event("gateway", alertname), skill="generic-rca", skill_version=1,
                        target_services=["gateway"], topology=TOPOLOGY, findings=findings, experience=experience)


QUIET = [finding("F1", "orders", score=0.1)]  # nothing the generic rules call for attention
LOUD = [finding("F1", "gateway", signal="latency", score=0.9)]  # the alerted service's latency rose clearly


def _verdict(findings: list, experience: list[Lesson], alertname: str = "GatewaySlow"):
    skill = load_library([PROJECT_ROOT / "skills"]).get("generic-rca").skill
    return OfflineReasoner().reason(_pack(findings, experience, alertname), skill).verdict


def _stored_case(memory, attention: bool) -> str:
    stored = memory.record_event(rca_event("gateway", "GatewaySlow"), source="bundle")
    case = memory.start_case(stored.id, "generic-rca", 1, "test")
    pack = _pack(QUIET, [])
    memory.finish_case(case.id, pack.findings, rca_verdict("orders", attention=attention), "# report", "offline",
                       evidence=pack)
    return case.id


def _lesson(case_id: str, actionable: bool, key: str = "GatewaySlow@gateway") -> Lesson:
    return Lesson(case_id=case_id, position=ALERT_POSITION, alert=key, cause=actionable)


def test_the_alert_key_is_its_name_and_the_alerted_services() -> None:
    assert alert_key(rca_event("gateway", "GatewaySlow")) == "GatewaySlow@gateway"
    event = rca_event("gateway", "GatewaySlow").model_copy(update={"alert": None})
    assert alert_key(event) is None


def test_corrections_teach_that_an_alert_was_real_and_the_next_quiet_firing_needs_attention(memory) -> None:
    missed = _stored_case(memory, attention=False)
    correct_case(memory, missed, correct=False, service="orders", fault="network_delay")
    confirmed = _stored_case(memory, attention=True)
    correct_case(memory, confirmed, correct=True)
    lessons = memory_lessons(memory)
    assert sorted((lesson.case_id, lesson.cause) for lesson in lessons if lesson.position == ALERT_POSITION) == \
        sorted([(missed, True), (confirmed, True)])

    assert not _verdict(QUIET, []).needs_attention
    verdict = _verdict(QUIET, lessons)
    assert verdict.needs_attention
    assert "actionable by experience" in verdict.attention_reason
    assert missed in verdict.attention_reason and confirmed in verdict.attention_reason
    assert not _verdict(QUIET, lessons, alertname="OrdersSlow").needs_attention  # another alert's history


def test_a_checked_firing_that_was_noise_keeps_the_rules_judgement(memory) -> None:
    for _ in range(2):
        correct_case(memory, _stored_case(memory, attention=True), correct=True)
    correct_case(memory, _stored_case(memory, attention=True), correct=False, needs_attention=False)
    assert not _verdict(QUIET, memory_lessons(memory)).needs_attention


def test_one_checked_firing_is_not_enough() -> None:
    assert actionable_before([_lesson("c1", True)], rca_event("gateway", "GatewaySlow")) is None
    assert actionable_before([_lesson("c1", True), _lesson("c2", True)], rca_event("gateway", "GatewaySlow"))


def test_experience_never_dismisses_an_alert() -> None:
    noise = [_lesson("c1", False), _lesson("c2", False), _lesson("c3", False)]
    assert _verdict(LOUD, []).needs_attention
    assert _verdict(LOUD, noise).needs_attention


def test_only_the_alerts_latest_checked_firings_count() -> None:
    event = rca_event("gateway", "GatewaySlow")
    old_noise = [_lesson(f"old{i}", False) for i in range(5)]
    recent_real = [_lesson(f"new{i:02d}", True) for i in range(RECENT)]
    assert actionable_before([*old_noise, *recent_real], event)  # lessons run oldest first
    assert actionable_before([*recent_real, *old_noise], event) is None
    assert len(same_alert([*old_noise, *recent_real], event)) == RECENT
