"""Distillation: one experience note per group of corrected cases, deduplicated, merged, linked."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from agent.cli.app import app
from agent.config import get_settings
from agent.evolve.casebase import similar_cases
from agent.evolve.corrections import correct_case
from agent.evolve.distill import distill
from agent.knowledge.store import KnowledgeStore, KnowledgeStoreError
from agent.llm.client import LLMClient
from agent.memory import Memory
from agent.reasoners.lessons import memory_lessons
from tests.fakes.openai_server import Reply
from tests.test_evolve_support import rca_event, rca_verdict, store_case


def _leak_case(memory: Memory, note: str = "") -> str:
    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    correct_case(memory, case_id, correct=False, service="ranking", fault="memory_leak", note=note)
    return case_id


def _notes(knowledge: KnowledgeStore) -> dict[str, dict]:
    got = knowledge.collection("experience").get(include=["metadatas", "documents"])
    return {i: {**m, "text": d} for i, m, d in zip(got["ids"], got["metadatas"], got["documents"], strict=True)}


def test_similar_cases_share_one_note_and_rerunning_adds_nothing(memory, knowledge) -> None:
    first, second = _leak_case(memory, "heap grew"), _leak_case(memory, "OOM after 6h")
    cache = store_case(memory, rca_event("cache", "CacheLatency"), rca_verdict("cache", "slow_dependency"))
    correct_case(memory, cache, correct=False, service="cache", fault="cache_failure")

    report = distill(memory, knowledge)
    assert report.count("created") == 2
    notes = _notes(knowledge)
    leak = next(n for n in notes.values() if n["kind"] == "memory_leak")
    assert leak["source_cases"].split(",") == [first, second] and leak["count"] == 2
    assert "truth was root cause ranking/memory_leak" in leak["text"] and "heap grew" in leak["text"]
    assert "memory" in leak["text"].lower() and leak["writer"] == "template"

    again = distill(memory, knowledge)
    assert again.count("unchanged") == 2 and again.count("created") == again.count("updated") == 0
    assert _notes(knowledge) == notes


def test_a_case_corrected_with_no_index_stays_out_of_distill_and_the_lessons(memory, knowledge) -> None:
    """``correct --no-index`` is stored with the correction: a later distill and the ranking's lessons skip the case
    until a later correction of it says otherwise."""
    kept_out = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    said = ["correct", kept_out, "--wrong", "--service", "ranking", "--fault", "memory_leak", "--no-index"]
    result = CliRunner().invoke(app, said)
    assert result.exit_code == 0, result.output
    assert memory.get_case(kept_out).latest_correction.no_index is True
    assert memory_lessons(memory) == [] and distill(memory, knowledge).notes == []
    shared = _leak_case(memory)  # same group, indexed
    assert {lesson.case_id for lesson in memory_lessons(memory)} == {shared}
    assert distill(memory, knowledge).count("created") == 1
    assert [n["source_cases"] for n in _notes(knowledge).values()] == [shared]
    again = correct_case(memory, kept_out, correct=False, service="ranking", fault="memory_leak")  # --index
    assert not again.repeated and again.correction.no_index is False  # the same truth, the other flag: stored
    assert {lesson.case_id for lesson in memory_lessons(memory)} == {kept_out, shared}
    assert distill(memory, knowledge).count("updated") == 1
    assert [n["source_cases"] for n in _notes(knowledge).values()] == [f"{kept_out},{shared}"]
    out = correct_case(memory, kept_out, correct=False, service="ranking", fault="memory_leak", index=False,
                       knowledge=knowledge)
    assert out.correction.no_index and out.indexed == [] and [c.id for c in memory.experience_cases()] == [shared]
    assert [n["source_cases"] for n in _notes(knowledge).values()] == [shared]  # refreshed by the correction
    assert distill(memory, knowledge).count("unchanged") == 1


def test_a_case_kept_out_by_a_later_correction_leaves_similar_case_retrieval(memory, knowledge) -> None:
    """Its record indexed by an earlier correction stayed in the cases collection, where similar cases are found."""
    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    record = f"case-{case_id}"
    first = correct_case(memory, case_id, correct=False, service="ranking", fault="memory_leak", knowledge=knowledge)
    assert first.indexed[0] == record and _notes(knowledge)
    assert record in [h.id for h in similar_cases(knowledge, rca_event().describe(), min_score=0.0)]
    out = correct_case(memory, case_id, correct=False, service="ranking", fault="memory_leak", index=False,
                       knowledge=lambda: knowledge)  # as the faces pass it: opened once the correction is stored
    assert out.removed == [record] and out.notes == [] and knowledge.get("cases", record) is None
    assert record not in [h.id for h in similar_cases(knowledge, rca_event().describe(), min_score=0.0)]
    assert _notes(knowledge) == {}  # its group held only this case
    again = correct_case(memory, case_id, correct=False, service="ranking", fault="memory_leak", index=False,
                         knowledge=knowledge)
    assert again.repeated and again.removed == []  # nothing left to remove


def test_a_store_that_cannot_be_opened_keeps_a_kept_out_cases_record_and_says_how_to_remove_it(memory) -> None:
    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))

    def unusable():
        raise KnowledgeStoreError("cannot open the knowledge store at /x/chroma: file is not a database")

    correct_case(memory, case_id, correct=False, service="ranking", fault="memory_leak")  # indexed elsewhere, maybe
    out = correct_case(memory, case_id, correct=False, service="ranking", fault="memory_leak", index=False,
                       knowledge=unusable)
    assert memory.get_case(case_id).latest_correction.no_index  # stored all the same
    assert out.removed == [] and out.notes == [
        f"correction stored, but a record case-{case_id} indexed by an earlier correction stays in the knowledge "
        "store, where similar-case retrieval still finds it (KnowledgeStoreError: cannot open the knowledge store "
        f"at /x/chroma: file is not a database); remove it with `bianque knowledge forget-case {case_id}`"]


def test_a_case_no_correction_asked_to_index_opens_no_store_and_claims_no_record(memory) -> None:
    """Its first correction with --no-index opened the knowledge store, and when that failed said a record 'indexed
    by an earlier correction stays' of a case that never had one."""
    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    opened = []

    def unusable():
        opened.append(True)
        raise KnowledgeStoreError("cannot open the knowledge store at /x/chroma: file is not a database")

    for fault in ("memory_leak", "cpu_saturation"):  # a first correction kept out, then another kept out
        out = correct_case(memory, case_id, correct=False, service="ranking", fault=fault, index=False,
                           knowledge=unusable)
        assert (out.removed, out.notes) == ([], [])
    assert opened == [] and len(memory.get_case(case_id).corrections) == 2


def test_forget_case_removes_a_record_left_behind(memory, knowledge) -> None:
    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    correct_case(memory, case_id, correct=False, service="ranking", fault="memory_leak", knowledge=knowledge)
    correct_case(memory, case_id, correct=False, service="ranking", fault="memory_leak", index=False)  # store down
    assert knowledge.get("cases", f"case-{case_id}") is not None and _notes(knowledge)
    forgot = CliRunner().invoke(app, ["knowledge", "forget-case", case_id])
    assert forgot.exit_code == 0, forgot.output
    assert f"removed case-{case_id}: similar-case retrieval no longer finds case {case_id}" in forgot.output
    assert knowledge.get("cases", f"case-{case_id}") is None and _notes(knowledge) == {}
    again = CliRunner().invoke(app, ["knowledge", "forget-case", case_id])
    assert again.exit_code == 1 and "nothing removed" in again.output


def test_min_cases_writes_no_note_for_a_small_group_and_keeps_the_one_it_has(memory, knowledge) -> None:
    _leak_case(memory), _leak_case(memory)
    cache = store_case(memory, rca_event("cache", "CacheLatency"), rca_verdict("cache", "slow_dependency"))
    correct_case(memory, cache, correct=False, service="cache", fault="cache_failure")
    distill(memory, knowledge)  # as every correction does: a note for each group, one case is enough
    notes = _notes(knowledge)

    report = distill(memory, knowledge, min_cases=2)
    assert [(n.group.kind, n.action) for n in report.notes] == [("memory_leak", "unchanged")]
    assert _notes(knowledge) == notes  # the one-case group's note is not deleted


def test_a_new_similar_case_updates_its_groups_note(memory, knowledge) -> None:
    first, second = _leak_case(memory), _leak_case(memory)
    distill(memory, knowledge)
    third = _leak_case(memory, "third time")
    report = distill(memory, knowledge)
    assert (report.count("updated"), report.count("created")) == (1, 0)
    notes = _notes(knowledge)
    assert len(notes) == 1
    (note,) = notes.values()
    assert note["source_cases"].split(",") == [first, second, third] and "third time" in note["text"]


def test_a_re_corrected_case_moves_and_an_empty_group_loses_its_note(memory, knowledge) -> None:
    case_id = _leak_case(memory)
    distill(memory, knowledge)
    correct_case(memory, case_id, correct=False, service="ranking", fault="traffic_spike")
    report = distill(memory, knowledge)
    assert (report.count("created"), report.count("removed")) == (1, 1)
    assert [n["kind"] for n in _notes(knowledge).values()] == ["traffic_spike"]


def test_correcting_with_knowledge_keeps_the_note_current(memory, knowledge) -> None:
    first = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    second = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    a = correct_case(memory, first, correct=False, service="ranking", fault="memory_leak", knowledge=knowledge)
    b = correct_case(memory, second, correct=False, service="ranking", fault="memory_leak", knowledge=knowledge)
    assert a.indexed[1] == b.indexed[1]  # the same note, now from both cases
    assert _notes(knowledge)[a.indexed[1]]["source_cases"].split(",") == [first, second]
    assert knowledge.count("cases") == 2


def test_the_llm_writes_notes_and_bad_answers_go_back_with_the_error(memory, knowledge, fake_llm) -> None:
    _leak_case(memory, "heap grew")
    fake_llm.queue(
        "not json at all",
        json.dumps({"title": "Ranking memory leaks", "note": ""}),
        json.dumps({"title": "Ranking memory leaks", "note": "Memory on ranking grows for hours; check its trend."}),
    )
    report = distill(memory, knowledge, client=LLMClient(get_settings()))
    (note,) = _notes(knowledge).values()
    assert note["text"] == "Memory on ranking grows for hours; check its trend." and note["writer"].startswith("llm:")
    retries = [r["messages"][-1]["content"] for r in fake_llm.requests[1:]]
    assert "no JSON object in the answer" in retries[0] and 'field "note": required' in retries[1]
    assert "heap grew" in fake_llm.requests[0]["messages"][1]["content"]
    assert report.messages == []


def test_llm_failing_three_times_falls_back_to_the_template(memory, knowledge, fake_llm) -> None:
    _leak_case(memory)
    fake_llm.queue("{}", "{}", "{}")
    report = distill(memory, knowledge, client=LLMClient(get_settings()))
    (note,) = _notes(knowledge).values()
    assert note["writer"] == "template" and len(fake_llm.requests) == 3
    assert "no valid experience note in 3 tries" in report.messages[0]


def test_an_endpoint_failure_falls_back_to_the_template_for_every_note(memory, knowledge, fake_llm,
                                                                       monkeypatch) -> None:
    """HTTP 500s (or a timeout, a refused connection) once: this note and the later ones are the template's,
    the model is not asked again, and `knowledge distill` says so and exits 0."""
    from typer.testing import CliRunner

    from agent.cli.app import app

    monkeypatch.setenv("BIANQUE_LLM_MAX_RETRIES", "0")
    get_settings.cache_clear()
    _leak_case(memory)
    cache = store_case(memory, rca_event("cache", "CacheLatency"), rca_verdict("cache", "slow_dependency"))
    correct_case(memory, cache, correct=False, service="cache", fault="cache_failure")
    fake_llm.queue(Reply.error(500, "upstream overloaded"))
    result = CliRunner().invoke(app, ["knowledge", "distill", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [n["writer"] for n in report["notes"]] == ["template", "template"] and len(fake_llm.requests) == 1
    (message,) = report["messages"]
    assert "HTTP 500: upstream overloaded; the template wrote this note and the rest instead" in message


def test_cli_distill_reports_and_dedups(memory, knowledge) -> None:
    from typer.testing import CliRunner

    from agent.cli.app import app

    _leak_case(memory)
    _leak_case(memory)
    first = CliRunner().invoke(app, ["knowledge", "distill", "--json"])
    assert first.exit_code == 0, first.output
    notes = json.loads(first.output)["notes"]
    assert [(n["action"], n["kind"], len(n["cases"])) for n in notes] == [("created", "memory_leak", 2)]
    again = CliRunner().invoke(app, ["knowledge", "distill"], env={"COLUMNS": "200"})
    assert again.exit_code == 0 and "0 created, 0 updated, 1 unchanged, 0 removed" in again.output


def test_cli_distill_of_an_unknown_skill_is_an_error_naming_the_known_ones(memory, knowledge) -> None:
    from typer.testing import CliRunner

    from agent.cli.app import app

    _leak_case(memory)
    result = CliRunner().invoke(app, ["knowledge", "distill", "--skill", "nope"])
    assert result.exit_code == 2
    assert "no Skill named 'nope'; known: [" in result.stderr and "'memory-pressure-rca'" in result.stderr
    assert _notes(knowledge) == {}
    known = CliRunner().invoke(app, ["knowledge", "distill", "--skill", "memory-pressure-rca", "--json"])
    assert known.exit_code == 0, known.output
    assert [n["skill"] for n in json.loads(known.stdout)["notes"]] == ["memory-pressure-rca"]
    removed = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"), skill="since-removed-rca")
    correct_case(memory, removed, correct=False, service="ranking", fault="memory_leak")
    gone = CliRunner().invoke(app, ["knowledge", "distill", "--skill", "since-removed-rca", "--json"])
    assert gone.exit_code == 0, gone.output  # no longer loaded, but its corrected cases are still there
    assert [n["skill"] for n in json.loads(gone.stdout)["notes"]] == ["since-removed-rca"]
