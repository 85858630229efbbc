"""Corrections: stored beside the verdict, validated, and queryable."""

from __future__ import annotations

import pytest

from agent.memory import CaseNotFoundError, InvalidInputError, Memory
from tests.test_memory_roundtrip import finished_case, rca_verdict


def test_correction_never_overwrites_the_verdict(memory: Memory) -> None:
    case_id = finished_case(memory)
    before = memory.get_case(case_id)
    memory.add_correction(
        case_id, False, root_cause_service="cache", root_cause_fault="cache_miss", needs_attention=False
    )
    memory.add_correction(case_id, True, note="on reflection it was right", author="bob")
    after = memory.get_case(case_id)
    assert after.verdict == before.verdict == rca_verdict()
    assert after.findings == before.findings and after.report == before.report
    assert [c.correct for c in after.corrections] == [False, True]
    assert after.latest_correction.author == "bob"
    assert after.corrections[0].root_cause_service == "cache"


def test_correction_of_unknown_case_is_a_clear_error(memory: Memory) -> None:
    with pytest.raises(CaseNotFoundError, match="no case with id 'ghost'.*bianque cases list"):
        memory.add_correction("ghost", False, note="x")
    with pytest.raises(CaseNotFoundError):
        memory.corrections_for("ghost")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"decision": "maybe"}, "decision"),
        ({"root_cause_fault": "oom"}, "root_cause_fault"),
        ({"needs_attention": "yes"}, "needs_attention"),
        ({"root_cause_service": 5}, "root_cause_service"),
        ({"root_cause_service": "s" * 201}, "root_cause_service"),  # wider than its column: PostgreSQL refuses it
        ({"author": "a" * 201}, "author"),
        ({"note": "n" * 4001}, "note"),
    ],
)
def test_bad_correction_fields_are_rejected(memory: Memory, kwargs: dict, field: str) -> None:
    case_id = finished_case(memory)
    with pytest.raises(InvalidInputError, match=f"^{field}:"):
        memory.add_correction(case_id, False, **kwargs)
    assert memory.corrections_for(case_id) == []


def test_correct_must_be_a_bool(memory: Memory) -> None:
    case_id = finished_case(memory)
    with pytest.raises(InvalidInputError, match="correct: must be true or false"):
        memory.add_correction(case_id, "no")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="no_index: must be true or false"):
        memory.add_correction(case_id, True, no_index="yes")  # type: ignore[arg-type]
    assert memory.corrections_for(case_id) == []


def test_text_fields_are_trimmed(memory: Memory) -> None:
    case_id = finished_case(memory)
    correction = memory.add_correction(case_id, False, root_cause_service="  cache ", author="  ")
    assert (correction.root_cause_service, correction.author) == ("cache", None)


def test_corrected_cases_filters_by_skill(memory: Memory) -> None:
    first = finished_case(memory, "rca-latency")
    finished_case(memory, "rca-latency")  # never corrected
    other = finished_case(memory, "rca-errors")
    memory.add_correction(first, True)
    memory.add_correction(other, False, decision="block")
    assert [c.id for c in memory.corrected_cases()] == [first, other]
    corrected = memory.corrected_cases(skill="rca-errors")
    assert [c.id for c in corrected] == [other]
    assert corrected[0].corrections[0].decision == "block"
