"""Events and cases: round trips, filters, state rules and clear errors."""

from __future__ import annotations

import pytest

from agent.memory import (
    CaseNotFoundError,
    CaseStateError,
    EventNotFoundError,
    InvalidInputError,
    Memory,
    MemoryStoreError,
)
from agent.memory.models import CaseRow
from tests.test_memory_roundtrip import finding, finished_case, rca_event, rca_verdict, release_event


def test_event_keeps_every_field_including_extras(memory: Memory) -> None:
    event = rca_event().model_copy(update={"question": "why slow?", "business": "search"})
    event = type(event).model_validate({**event.model_dump(), "ticket": "OPS-1"})  # extra fields allowed
    stored = memory.record_event(event, source="cli", received_at=123.0)
    again = memory.get_event(stored.id)
    assert again.event == event and again.event.model_extra == {"ticket": "OPS-1"}
    assert (again.source, again.received_at) == ("cli", 123.0)
    assert again.event.alert.starts_at == event.alert.starts_at


def test_record_event_rejects_unknown_source_and_bad_event(memory: Memory) -> None:
    with pytest.raises(InvalidInputError, match="source: 'Carrier Pigeon' is not a source name"):
        memory.record_event(rca_event(), source="Carrier Pigeon")
    assert memory.record_event(rca_event(), source="eval").source == "eval"
    with pytest.raises(InvalidInputError, match="is not a source name"):  # matched whole: $ passes a final newline
        memory.record_event(rca_event(), source="eval\n")
    with pytest.raises(InvalidInputError, match="event: not a valid Event"):
        memory.record_event({"pattern": "astrology", "time": 0})


def test_start_case_needs_a_stored_event(memory: Memory) -> None:
    with pytest.raises(EventNotFoundError, match="'missing'"):
        memory.start_case("missing", "rca-latency")
    assert memory.list_cases() == []


def test_case_defaults_thread_id_to_case_id_and_accepts_gathered_data(memory: Memory) -> None:
    event_id = memory.record_event(rca_event()).id
    case = memory.start_case(event_id, None, gathered={"metrics": [{"t": 1, "v": 2.5}]})
    assert case.thread_id == case.id and case.skill is None
    assert memory.get_case(case.id).gathered == {"metrics": [{"t": 1, "v": 2.5}]}


def test_finish_and_fail_only_from_running(memory: Memory) -> None:
    case_id = finished_case(memory)
    with pytest.raises(CaseStateError, match="is done"):
        memory.finish_case(case_id, [], rca_verdict(), "again", "offline")
    with pytest.raises(CaseStateError, match="only a running case can fail"):
        memory.fail_case(case_id, "boom")
    assert memory.get_case(case_id).report == "# RCA\nfeature-store is slow"


def test_unknown_case_is_a_clear_error(memory: Memory) -> None:
    for call in (
        lambda: memory.get_case("abc123"),
        lambda: memory.finish_case("abc123", [], rca_verdict(), "r", "offline"),
        lambda: memory.fail_case("abc123", "x"),
    ):
        with pytest.raises(CaseNotFoundError, match="no case with id 'abc123'"):
            call()


def test_finish_case_validates_its_inputs(memory: Memory) -> None:
    case = memory.start_case(memory.record_event(rca_event()).id, "rca-latency")
    with pytest.raises(InvalidInputError, match=r"findings\[1\]"):
        memory.finish_case(case.id, [finding(), {"kind": "nonsense"}], rca_verdict(), "r", "offline")
    with pytest.raises(InvalidInputError, match="verdict"):
        memory.finish_case(case.id, [], {"pattern": "rca"}, "r", "offline")
    with pytest.raises(InvalidInputError, match="prompt_tokens"):
        memory.finish_case(case.id, [], rca_verdict(), "r", "offline", prompt_tokens=-1)
    assert memory.get_case(case.id).status == "running"


def test_finish_case_accepts_plain_dicts(memory: Memory) -> None:
    case = memory.start_case(memory.record_event(rca_event()).id, "rca-latency")
    done = memory.finish_case(
        case.id, [finding().model_dump()], rca_verdict().model_dump(mode="json"), "r", "llm:m", 900, 10
    )
    assert done.findings == [finding()] and done.verdict == rca_verdict()


def test_list_cases_filters_orders_and_limits(memory: Memory) -> None:
    rca_ids = [finished_case(memory, "rca-latency") for _ in range(3)]
    release_id = finished_case(memory, "release-canary", event=release_event())
    assert [c.id for c in memory.list_cases(skill="rca-latency")] == rca_ids[::-1]
    assert [c.id for c in memory.list_cases(pattern="release_interception")] == [release_id]
    assert [c.id for c in memory.list_cases(limit=2)] == [release_id, rca_ids[2]]
    assert memory.list_cases(skill="rca-latency", pattern="release_interception") == []
    assert [c.pattern for c in memory.list_cases(skill="release-canary")] == ["release_interception"]
    with pytest.raises(InvalidInputError, match="limit"):
        memory.list_cases(limit=0)


def test_cases_for_skill_is_oldest_first_and_filters_status(memory: Memory) -> None:
    done = [finished_case(memory) for _ in range(2)]
    running = memory.start_case(memory.record_event(rca_event()).id, "rca-latency").id
    assert [c.id for c in memory.cases_for_skill("rca-latency")] == done
    assert [c.id for c in memory.cases_for_skill("rca-latency", status=None)] == [*done, running]
    assert memory.cases_for_skill("other") == []


def test_stored_json_that_no_longer_fits_names_the_case(memory: Memory) -> None:
    case_id = finished_case(memory)
    with memory._write() as session:  # simulate a row written by an incompatible version
        session.get(CaseRow, case_id).verdict = {"pattern": "rca", "summary": "x", "unknown_field": 1}
    with pytest.raises(MemoryStoreError, match=f"case {case_id} verdict does not match Verdict"):
        memory.get_case(case_id)


def test_skill_chosen_during_the_run_is_recorded(memory: Memory) -> None:
    case = memory.start_case(memory.record_event(rca_event()).id, None)
    chosen = memory.set_case_skill(case.id, "rca-latency", 2, "alert name matched")
    assert (chosen.skill, chosen.skill_version, chosen.selection_reason) == (
        "rca-latency",
        2,
        "alert name matched",
    )
    done = memory.finish_case(case.id, [], rca_verdict(), "r", "offline", evidence={}, skill_version=3)
    assert (done.skill, done.skill_version, done.evidence) == ("rca-latency", 3, None)
    assert [c.id for c in memory.cases_for_skill("rca-latency")] == [case.id]
    with pytest.raises(CaseStateError, match="can no longer change"):
        memory.set_case_skill(case.id, "other")


def check_case_failure_stored(memory: Memory) -> None:
    """The error a case failed with quotes untrusted text (an exception's message may hold a log line or a file): a
    NUL and a lone surrogate are stored as a space and "?", the rest kept, and the case is failed, not left running.
    Also run on PostgreSQL, which refuses a NUL."""
    case = memory.start_case(memory.record_event(rca_event()).id, "rca-latency")
    failed = memory.fail_case(case.id, "ValueError: bad line\x00 \ud800\nnext")
    assert failed == memory.get_case(case.id)
    assert (failed.status, failed.error) == ("failed", "ValueError: bad line  ?\nnext")


def test_a_case_fails_with_an_error_any_database_stores(memory: Memory) -> None:
    check_case_failure_stored(memory)
