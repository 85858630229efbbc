"""Experience that changes answers: past corrected cases re-weigh the offline ranking, cited; the
team's own fault kinds are learned and used."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from agent.cli.app import app
from agent.config import PROJECT_ROOT
from agent.evidence import ChangeNote, EvidencePack, Lesson
from agent.evolve.corrections import correct_case
from agent.evolve.distill import distill
from agent.findings import FindingKind
from agent.memory.truth import judge, truth_for_case
from agent.reasoners.experience import (
    EXPERIENCE_WEIGHT,
    apply_experience,
    implications,
    judge_candidate,
    lessons_from,
    position,
    relevant_lessons,
    shape_kinds,
)
from agent.reasoners.lessons import case_lessons, memory_lessons, memory_vocabulary
from agent.reasoners.offline import OfflineReasoner
from agent.reasoners.ranking import rank_services
from agent.skills.library import load_library
from tests.test_evolve_support import T0, finding, rca_event, rca_verdict, store_case

TOPOLOGY = {"gateway": ["orders", "payments"], "orders": [], "payments": ["ledger"], "ledger": []}


def _findings() -> list:
    """orders: a strong request-rate rise (the gateway retrying at it: a victim); payments: weaker latency and
    CPU rises."""
    return [
        finding("F1", "orders", metric="http_requests_per_second", score=0.9),
        finding("F2", "payments", metric="request_latency_p99_seconds", score=0.6),
        finding("F3", "payments", metric="cpu_usage_ratio", score=0.6),
        finding("F4", "gateway", metric="request_latency_p99_seconds", score=0.4),
    ]


def _pack(experience: list[Lesson] | None = None) -> EvidencePack:
    return EvidencePack(event=rca_event("gateway", "GatewaySlow"), skill="generic-rca", skill_version=1,
                        target_services=["gateway"], topology=TOPOLOGY, findings=_findings(),
                        experience=experience or [])


def _generic():
    return load_library([PROJECT_ROOT / "skills"]).get("generic-rca").skill


def test_position_is_relative_to_the_alerted_service() -> None:
    assert [position(TOPOLOGY, ["gateway"], s) for s in ("gateway", "orders", "ledger")] == \
        ["alerted", "down1", "down2"]
    assert position(TOPOLOGY, ["payments"], "gateway") == "up1"
    assert position(TOPOLOGY, ["orders"], "elsewhere") == "unrelated"


def test_a_past_correction_of_the_same_shape_changes_the_ranking_and_is_cited() -> None:
    offline = OfflineReasoner()
    before = offline.reason(_pack(), _generic()).verdict
    assert before.root_causes[0].service == "orders"  # the retried victim outranks the cause without experience
    # One past case, on other services: the cause one hop down had latency and CPU rising; a service one hop
    # down whose requests rose was ranked above it and was only a victim.
    past = [
        Lesson(case_id="c-past", position="down1", kinds=["cpu_saturation:up", "slow_dependency:up"], cause=True,
               fault="cpu_contention"),
        Lesson(case_id="c-past", position="down1", kinds=["traffic_spike:up"], cause=False),
    ]
    after = offline.reason(_pack(past), _generic()).verdict
    top = after.root_causes[0]
    assert top.service == "payments" and top.fault == "cpu_contention"  # the team's kind, learned
    assert "1 corrected case(s) with this shape" in top.explanation and "c-past" in top.explanation
    victim = next(c for c in after.root_causes if c.service == "orders")
    assert "victim of this shape" in victim.explanation


def test_experience_moves_are_bounded_and_ignore_other_positions() -> None:
    pack = _pack()
    ranked = rank_services(pack.findings, pack.changes, pack.topology, pack.target_services)
    scores = {e.service: e.score for e in ranked}
    many = [Lesson(case_id=f"c{i}", position="down1", kinds=["traffic_spike:up"], cause=True) for i in range(50)]
    elsewhere = [Lesson(case_id="far", position="down2", kinds=["cpu_saturation:up", "slow_dependency:up"],
                        cause=True)]
    moved, moves = apply_experience(ranked, pack.findings, pack.topology, pack.target_services, many + elsewhere)
    assert [m.service for m in moves] == ["orders"]  # payments sits one hop down, not two: "far" does not count
    assert 0 < moves[0].delta <= EXPERIENCE_WEIGHT
    assert next(e for e in moved if e.service == "orders").score <= scores["orders"] + EXPERIENCE_WEIGHT


def _stored_case(memory, verdict_service: str, verdict_fault: str = "slow_dependency") -> str:
    """A finished case with an evidence pack (findings and topology) as the graph stores it."""
    event = rca_event("gateway", "GatewaySlow")
    stored = memory.record_event(event, source="bundle")
    case = memory.start_case(stored.id, "generic-rca", 1, "test")
    pack = _pack()
    memory.finish_case(case.id, pack.findings, rca_verdict(verdict_service, verdict_fault), "# report", "offline",
                       evidence=pack)
    return case.id


def test_corrections_become_lessons_that_change_the_next_answer(memory) -> None:
    case_id = _stored_case(memory, "orders")
    correct_case(memory, case_id, correct=False, service="payments", fault="network_delay")
    lessons = memory_lessons(memory)
    # the cause's and the victim's shapes, and the alert's own lesson (it was real: tests/test_alert_history.py)
    assert {(lesson.position, lesson.cause) for lesson in lessons} == {("down1", True), ("down1", False),
                                                                        ("alert", True)}
    assert all("payments" not in lesson.kinds and "orders" not in lesson.kinds for lesson in lessons)  # no names
    verdict = OfflineReasoner().reason(_pack(lessons), _generic()).verdict
    assert verdict.root_causes[0].service == "payments" and verdict.root_causes[0].fault == "network_delay"
    assert case_id in verdict.root_causes[0].explanation
    assert memory_lessons(memory, exclude=[case_id]) == []


def test_an_unknown_fault_kind_is_learned_with_its_signature_and_judged_through_it(memory) -> None:
    case_id = _stored_case(memory, "payments", "cpu_saturation")
    correct_case(memory, case_id, correct=False, service="payments", fault="network_delay")
    vocabulary = memory_vocabulary(memory)
    assert vocabulary.kinds == ["network_delay"]
    assert list(vocabulary.shapes["network_delay"]) == ["down1: cpu_saturation:up, slow_dependency:up"]
    truth = truth_for_case(memory.get_case(case_id))
    said = rca_verdict("payments", "cpu_saturation")
    assert not judge(said, truth).passed  # by name alone the team's kind is never given
    through = judge(said, truth, vocabulary.same)
    assert through.passed  # through the vocabulary it is, and a replay table says why it passes
    assert through.detail == ("top cause payments/cpu_saturation, counted as network_delay: the fault kinds "
                              "corrections taught (`bianque knowledge kinds`)")
    assert not judge(rca_verdict("payments", "memory_leak"), truth, vocabulary.same).passed
    assert not vocabulary.same("cpu_saturation", "memory_leak")  # the agent's own kinds match only themselves


def test_distill_merges_cases_of_one_kind_and_signature_across_services(memory, knowledge) -> None:
    first = _stored_case(memory, "orders")
    correct_case(memory, first, correct=False, service="payments", fault="network_delay")
    second = _stored_case(memory, "orders")
    correct_case(memory, second, correct=False, service="payments", fault="network_delay")
    report = distill(memory, knowledge)
    (note,) = report.notes
    assert note.group.kind == "network_delay" and note.cases == [first, second]
    assert note.group.signature == "1 hop(s) downstream with cpu_saturation:up, slow_dependency:up"
    assert case_lessons(memory.get_case(first))[0].cause


def test_lessons_are_cached_until_a_correction_changes_them(memory, monkeypatch) -> None:
    from agent.reasoners import lessons as lessons_module
    from agent.runtime import _experience

    first = _stored_case(memory, "orders")
    correct_case(memory, first, correct=False, service="payments", fault="network_delay")
    built: list[int] = []
    real = lessons_module.memory_lessons
    monkeypatch.setattr(lessons_module, "memory_lessons", lambda m: built.append(1) or real(m))

    once = _experience(memory, None)
    again = _experience(memory, None)
    assert once == again and {lesson.case_id for lesson in once} == {first}
    assert len(built) == 1  # the second investigation reused the lessons
    again.clear()
    assert _experience(memory, None) == once and len(built) == 1  # a caller's copy, not the cache

    second = _stored_case(memory, "orders")
    correct_case(memory, second, correct=False, service="payments", fault="network_delay")
    after = _experience(memory, None)
    assert len(built) == 2 and {lesson.case_id for lesson in after} == {first, second}
    correct_case(memory, second, correct=True)  # re-corrected: its answer (orders) was right after all
    recorrected = _experience(memory, None)
    assert len(built) == 3 and recorrected != after
    assert [lesson for lesson in recorrected if lesson.case_id == first] == \
        [lesson for lesson in after if lesson.case_id == first]


def test_a_cause_lesson_fitting_several_services_is_shared_among_them() -> None:
    """A lesson says the cause had a shape; when two of this event's services have it, it cannot say which."""
    pack = _pack()
    lesson = [Lesson(case_id="c-past", position="down1", kinds=["cpu_saturation:up", "slow_dependency:up"],
                     cause=True)]

    def payments_move(findings: list) -> float:
        ranked = rank_services(findings, [], TOPOLOGY, ["gateway"])
        _, moves = apply_experience(ranked, findings, TOPOLOGY, ["gateway"], lesson)
        return next(m.delta for m in moves if m.service == "payments")

    alone = payments_move(pack.findings)
    twin = [finding("F5", "orders", metric="request_latency_p99_seconds", score=0.6),
            finding("F6", "orders", metric="cpu_usage_ratio", score=0.6)]
    shared = payments_move([f for f in pack.findings if f.owner != "orders"] + twin)
    assert 0 < shared < alone


def test_a_cause_lesson_reaches_a_look_alike_ranked_below_the_top() -> None:
    """Six callees with one shape: a cause lesson of that shape moves each, the sixth too, not only the best five
    (a corrected case whose cause ranked sixth had boosted its look-alikes alone, re-investigated)."""
    callees = [f"s{i}" for i in range(6)]
    topology = {"gateway": callees, **{c: [] for c in callees}}
    findings = [finding(f"F{i}", c, metric="cpu_usage_ratio", score=0.9 - 0.05 * i) for i, c in enumerate(callees)]
    lesson = [Lesson(case_id="c-past", position="down1", kinds=["cpu_saturation:up"], cause=True)]
    ranked = rank_services(findings, [], topology, ["gateway"])
    assert [e.service for e in ranked][5] == "s5"
    _, moves = apply_experience(ranked, findings, topology, ["gateway"], lesson)
    assert {m.service for m in moves} == set(callees) and len({m.delta for m in moves}) == 1


def test_a_deviation_recovered_before_the_alert_is_not_part_of_a_shape() -> None:
    """The ranking counts an episode that had ended before the alert as past; a lesson must not match on it."""
    live = finding("F1", "payments", metric="cpu_usage_ratio", score=0.8)
    over = live.model_copy(update={"numbers": {"alarm_z": 6.0, "active_z": 0.5}})  # back near its baseline
    assert shape_kinds([live], "payments") == ["cpu_saturation:up"]
    assert shape_kinds([over], "payments") == []


def test_a_corrected_case_whose_cause_stopped_answering_teaches_that_shape(memory) -> None:
    """The true cause's series ended before the alert (``went_silent``): the lesson loaded from memory says so, and
    a service that stopped answering is no longer shapeless to experience."""
    silent = finding("F5", "ledger", kind=FindingKind.WENT_SILENT, signal="", metric="", score=0.75)
    assert shape_kinds([silent], "ledger") == ["went_silent"]
    case_id = store_case(memory, rca_event("gateway", "GatewaySlow"), rca_verdict("orders"), skill="generic-rca",
                         findings=[*_findings(), silent])
    correct_case(memory, case_id, correct=False, service="ledger", fault="error_fault")
    [cause] = [lesson for lesson in memory_lessons(memory) if lesson.cause and lesson.position != "alert"]
    assert "went_silent" in cause.kinds


def test_a_shape_differing_in_one_of_four_kinds_is_not_recognised() -> None:
    """Three of four kinds alike (Jaccard 0.75) is another shape: a victim that also saturated its CPU
    says nothing about a service that did not; four of five alike (0.8) is nearly the same shape."""
    four = ["cpu_saturation:up", "error_logs", "slow_dependency:up", "traffic_spike:up"]
    victim = Lesson(case_id="c-past", position="down1", kinds=four, cause=False)
    assert judge_candidate("payments", "down1", four[1:], [victim]) is None
    alike = judge_candidate("payments", "down1", [*four, "logs"], [victim])
    assert alike is not None and alike.delta < 0


def test_the_kind_a_correction_was_seen_as_leaves_out_shared_host_figures(memory) -> None:
    """The verdict named another service; the corrected one's own Finding, not its host's CPU, says what the
    agent would have called it."""
    host = finding("F9", "payments", metric="node_cpu_usage_rate_percent", score=0.95).model_copy(
        update={"numbers": {"shared_with": 3.0}})
    load = finding("F10", "payments", metric="http_requests_per_second", score=0.5)
    case_id = store_case(memory, rca_event("gateway", "GatewaySlow"), rca_verdict("orders"), skill="generic-rca",
                         findings=[host, load])
    correct_case(memory, case_id, correct=False, service="payments", fault="overload")
    assert dict(memory_vocabulary(memory).seen_as["overload"]) == {"traffic_spike": 1}


def test_a_case_kept_out_of_experience_teaches_no_fault_kind(memory) -> None:
    """``correct --no-index`` keeps a case out of experience: its team kind is not learned while that correction
    is its latest, and a later indexing correction brings it back."""
    load = finding("F10", "payments", metric="http_requests_per_second", score=0.5)
    case_id = store_case(memory, rca_event("gateway", "GatewaySlow"), rca_verdict("orders"), skill="generic-rca",
                         findings=[load])
    correct_case(memory, case_id, correct=False, service="payments", fault="overload", index=False)
    assert memory_vocabulary(memory).learned() == []
    correct_case(memory, case_id, correct=False, service="payments", fault="overload")
    assert [row["kind"] for row in memory_vocabulary(memory).learned()] == ["overload"]


def test_a_cause_with_no_finding_of_its_own_is_learned_as_the_kind_its_callers_calls_name(memory) -> None:
    """ledger shows nothing itself; payments' calls to it got slower. The reasoner names ledger's kind from those
    calls (slow_dependency), so the team's kind for it is learned as seen as that, not as ``unknown``."""
    calls = finding("F5", "payments", metric="downstream_latency_p99_seconds", score=0.9)
    pack = _pack().model_copy(update={"findings": [*_findings(), calls]})
    stored = memory.record_event(pack.event, source="bundle")
    case = memory.start_case(stored.id, "generic-rca", 1, "test")
    memory.finish_case(case.id, pack.findings, rca_verdict("orders"), "# report", "offline", evidence=pack)
    correct_case(memory, case.id, correct=False, service="ledger", fault="network_delay")
    vocabulary = memory_vocabulary(memory)
    assert dict(vocabulary.seen_as["network_delay"]) == {"slow_dependency": 1}
    # its signature says how it is implicated, not "no significant Finding"
    assert dict(vocabulary.shapes["network_delay"]) == {"down2: implicated:slow_calls:1": 1}
    (row,) = vocabulary.learned()
    assert row == {"kind": "network_delay", "team": True, "corrections": 1, "seen_as": {"slow_dependency": 1},
                   "signatures": {"down2: implicated:slow_calls:1": 1}}
    listed = CliRunner().invoke(app, ["knowledge", "kinds", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == {"kinds": [row]}
    table = CliRunner().invoke(app, ["knowledge", "kinds"], env={"COLUMNS": "200"})
    assert "network_delay" in table.stdout and "down2: implicated:slow_calls:1 (1)" in table.stdout


def test_knowledge_kinds_says_how_to_teach_one_when_none_is_learned(memory) -> None:
    result = CliRunner().invoke(app, ["knowledge", "kinds"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "bianque correct CASE --wrong --service S --fault KIND" in result.stdout



def _slow_calls_to_ledger() -> list:
    """ledger shows nothing itself; payments' calls to it got slower (they implicate it)."""
    return [*_findings(), finding("F5", "payments", metric="downstream_latency_p99_seconds", score=0.9)]


def test_a_cause_implicated_only_by_its_callers_teaches_its_look_alikes(memory) -> None:
    """A past case on other services whose cause showed nothing of its own, only its caller's slower calls to it:
    its lesson recognises ledger by how it is implicated, moves it first and is cited."""
    names = {"gateway": "edge", "orders": "cart", "payments": "billing", "ledger": "vault"}
    past = _pack().model_copy(update={
        "event": rca_event("edge", "EdgeSlow"), "target_services": ["edge"],
        "topology": {names[s]: [names[d] for d in deps] for s, deps in TOPOLOGY.items()},
        "findings": [f.model_copy(update={"subject": names[f.owner], "service": names[f.owner]})
                     for f in _slow_calls_to_ledger()]})
    case_id = memory.start_case(memory.record_event(past.event, source="bundle").id, "generic-rca", 1, "test").id
    memory.finish_case(case_id, past.findings, rca_verdict("cart"), "# report", "offline", evidence=past)
    correct_case(memory, case_id, correct=False, service="vault", fault="network_delay")
    lessons = memory_lessons(memory)
    cause = next(lesson for lesson in lessons if lesson.cause and lesson.position != "alert")
    assert (cause.position, cause.kinds) == ("down2", ["implicated:slow_calls:1"])

    findings = _slow_calls_to_ledger()
    assert cause in relevant_lessons(lessons, findings, TOPOLOGY, ["gateway"])  # the pack carries it
    pack = _pack().model_copy(update={"findings": findings})
    before = OfflineReasoner().reason(pack, _generic()).verdict
    assert before.root_causes[0].service == "orders"
    after = OfflineReasoner().reason(pack.model_copy(update={"experience": lessons}), _generic()).verdict
    top = after.root_causes[0]
    assert top.service == "ledger" and top.fault == "network_delay"
    assert case_id in top.explanation and "implicated:slow_calls:1" in top.explanation


def test_a_service_ranked_above_the_cause_with_its_very_shape_is_no_victim_lesson() -> None:
    """Two callees of one slow caller are implicated alike: ranking one above the other teaches nothing against
    that shape (the cause lesson, shared between them, says all the case can)."""
    topology = {"gateway": ["payments"], "payments": ["ledger", "vault"]}
    findings = [finding("F1", "payments", metric="downstream_latency_p99_seconds", score=0.9)]
    implicated = implications(findings, [], topology)
    assert implicated["ledger"] == implicated["vault"] == ["implicated:slow_calls:1"]
    lessons = lessons_from("c1", findings, topology, ["gateway"], ["vault", "payments", "ledger"], "ledger",
                           implicated=implicated)
    assert [(lesson.kinds, lesson.cause) for lesson in lessons] == [
        (["implicated:slow_calls:1"], True), (["slow_dependency/call:up"], False)]


ORDERS = {"edge-proxy": ["orders-api"], "orders-api": ["tariff-calc", "ledger-db"], "tariff-calc": [], "ledger-db": []}


def _error_logs(fid: str, service: str):
    burst = finding(fid, service, kind=FindingKind.LOG_BURST, signal="errors", metric=None, score=0.8)
    return burst.model_copy(update={"numbers": {"level_weight": 1.0}, "summary": f"{service} ERROR burst"})


def _orders_incident(changes: list[ChangeNote]) -> EvidencePack:
    """Alert on orders-api: ledger-db slow with its CPU saturated; orders-api slower with error logs (timeouts)."""
    findings = [_error_logs("G1", "orders-api"), finding("G2", "orders-api", score=0.7),
                finding("G3", "ledger-db", score=0.6), finding("G4", "ledger-db", metric="cpu_usage_ratio", score=0.6)]
    return EvidencePack(event=rca_event("orders-api", "OrdersSlow"), skill="generic-rca", skill_version=1,
                        target_services=["orders-api"], topology=ORDERS, findings=findings, changes=changes)


def test_a_lesson_from_a_deploy_does_not_blame_a_service_nobody_changed(memory) -> None:
    """A colleague's case: one correction (tariff-calc, bad_release: its deploy 15 minutes before it failed, alerted
    on itself) had taught "the alerted service with error logs and slower requests was the cause". The next alert,
    on orders-api, another incident (ledger-db saturated), showed orders-api with those very symptoms and no
    change: the lesson moved it first (+0.48). A change before the onset is part of the cause's shape; a lesson
    with one fits only a service with one."""
    deploy = ChangeNote(id="deploy-7", ts=T0 - 900, service="tariff-calc", type="deploy", version="v2")
    first = EvidencePack(event=rca_event("tariff-calc", "TariffCalcErrors"), skill="generic-rca", skill_version=1,
                         target_services=["tariff-calc"], topology=ORDERS, changes=[deploy],
                         findings=[_error_logs("F1", "tariff-calc"), finding("F2", "tariff-calc", score=0.8),
                                   finding("F3", "orders-api", score=0.4)])
    case_id = memory.start_case(memory.record_event(first.event, source="bundle").id, "generic-rca", 1, "test").id
    memory.finish_case(case_id, first.findings, rca_verdict("tariff-calc"), "# report", "offline", evidence=first)
    correct_case(memory, case_id, correct=False, service="tariff-calc", fault="bad_release")
    lessons = memory_lessons(memory)
    cause = next(lesson for lesson in lessons if lesson.cause and lesson.position != "alert")
    assert (cause.position, cause.kinds) == ("alerted", ["change:deploy", "error_logs", "slow_dependency:up"])

    unchanged = _orders_incident([])
    assert OfflineReasoner().reason(unchanged, _generic()).verdict.root_causes[0].service == "ledger-db"
    after = OfflineReasoner().reason(unchanged.model_copy(update={"experience": lessons}), _generic()).verdict
    assert after.root_causes[0].service == "ledger-db"
    assert all(case_id not in c.explanation for c in after.root_causes)  # the lesson recognised nothing
    assert cause not in relevant_lessons(lessons, unchanged.findings, ORDERS, ["orders-api"])

    # orders-api deployed 15 minutes before its onset too: the shape is the lesson's, and it counts
    redeployed = _orders_incident([deploy.model_copy(update={"id": "deploy-8", "service": "orders-api"})])
    ranked = rank_services(redeployed.findings, redeployed.changes, ORDERS, ["orders-api"])
    _, moves = apply_experience(ranked, redeployed.findings, ORDERS, ["orders-api"], lessons)
    (move,) = moves
    assert move.service == "orders-api" and move.delta > 0 and move.fault == "bad_release"


def test_a_config_push_lesson_does_not_fit_a_deploy_of_the_same_symptoms() -> None:
    """The change's type is a kind of the shape: on a simulated set a bad_config case's lesson had named bad_config
    for a deploy's errors of the same kinds."""
    findings = [_error_logs("F1", "orders-api"), finding("F2", "orders-api", score=0.8)]

    def changed(kind: str) -> list[ChangeNote]:
        return [ChangeNote(id=f"{kind}-1", ts=T0 - 900, service="orders-api", type=kind)]

    pushed = changed("config")
    lessons = lessons_from("c-config", findings, ORDERS, ["orders-api"], ["orders-api"], "orders-api", "bad_config",
                           implications(findings, pushed, ORDERS))

    def moves(changes: list[ChangeNote]) -> list:
        ranked = rank_services(findings, changes, ORDERS, ["orders-api"])
        return apply_experience(ranked, findings, ORDERS, ["orders-api"], lessons)[1]

    assert moves(changed("deploy")) == [] and moves([]) == []
    (same,) = moves(pushed)
    assert same.fault == "bad_config"
