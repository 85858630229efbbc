"""Corrections: stored beside the verdict, checked against the case's pattern, indexed for retrieval."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from agent.events import Event
from agent.evolve.casebase import case_doc_id, similar_cases
from agent.evolve.corrections import API_WORDING, CorrectionError, correct_case
from agent.memory import CaseNotFoundError
from agent.memory.corrections import NAME_MAX_CHARS
from agent.verdict import InspectionItem, Verdict
from tests.test_evolve_support import T0, rca_event, rca_verdict, release_event, release_verdict, store_case

runner = CliRunner()


def test_correction_is_stored_beside_the_verdict_never_over_it(memory) -> None:
    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    before = memory.get_case(case_id).verdict
    first = correct_case(memory, case_id, correct=False, service="ranking", fault="memory_leak", note="heap grew")
    second = correct_case(memory, case_id, correct=False, service="cache", fault="cache_failure")
    case = memory.get_case(case_id)
    assert case.verdict == before
    assert [c.id for c in case.corrections] == [first.correction.id, second.correction.id]
    assert first.truth.describe() == "root cause ranking/memory_leak" and first.truth.note == "heap grew"
    assert second.truth.needs_attention is True  # naming a root cause says the alert was actionable


def test_the_same_correction_again_stores_nothing_and_says_so(memory) -> None:
    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    first = correct_case(memory, case_id, correct=False, service="ranking", fault="memory_leak", note="heap")
    again = correct_case(memory, case_id, correct=False, service=" ranking ", fault="memory_leak", note="heap")
    assert (again.repeated, again.correction.id) == (True, first.correction.id)
    assert any("already says this: nothing new stored" in n for n in again.notes)
    other = correct_case(memory, case_id, correct=False, service="ranking", fault="memory_leak", note="heap, again")
    back = correct_case(memory, case_id, correct=False, service="ranking", fault="memory_leak", note="heap")
    assert not other.repeated and not back.repeated  # only the latest counts: going back to the first is news
    assert len(memory.get_case(case_id).corrections) == 3


def test_a_repeat_is_recognised_whatever_blanks_surround_the_names(memory) -> None:
    """Memory stores names stripped (a blank one as none): a repeat compared unstripped was stored again."""
    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    correct_case(memory, case_id, correct=False, service="ranking", fault="memory_leak\n")
    again = correct_case(memory, case_id, correct=False, service="ranking", fault="memory_leak\n")
    right = correct_case(memory, case_id, correct=True, service=" ")
    right_again = correct_case(memory, case_id, correct=True, service=" ")
    assert (again.repeated, right.repeated, right_again.repeated) == (True, False, True)
    assert memory.get_case(case_id).corrections[0].root_cause_fault == "memory_leak"
    assert len(memory.get_case(case_id).corrections) == 2


def test_a_root_cause_close_to_a_name_the_case_mentions_is_refused_unless_given_as_is(memory) -> None:
    """'rankng' beside 'ranking' is most likely a typo, which would teach lessons about a service that does not
    exist: refused in the face's words, stored only when the engineer says it is meant."""
    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    with pytest.raises(CorrectionError, match=r"--service: 'rankng' appears nowhere in case .*; did you mean "
                                              r"'ranking'\? Give that name, or --as-given to store it as given"):
        correct_case(memory, case_id, correct=False, service="rankng", fault="memory_leak")
    with pytest.raises(CorrectionError, match=r"^root_cause_service: .* or as_given: true to store it as given"):
        correct_case(memory, case_id, correct=False, service="rankng", fault="memory_leak", wording=API_WORDING)
    assert memory.get_case(case_id).corrections == []
    meant = correct_case(memory, case_id, correct=False, service="rankng", fault="memory_leak", as_given=True)
    assert meant.correction.root_cause_service == "rankng"
    assert meant.notes == [f"'rankng' appears nowhere in case {case_id} (its event, Findings, call graph or "
                           "verdict): stored as given"]


def test_a_root_cause_close_to_no_name_of_the_case_is_stored_with_a_note(memory) -> None:
    """A true cause may lie outside the case's data: a name like none of the case's is taken as given."""
    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    outside = correct_case(memory, case_id, correct=False, service="dns-resolver", fault="network_delay")
    assert outside.correction.root_cause_service == "dns-resolver"
    assert any("'dns-resolver' appears nowhere in case" in n and n.endswith("stored as given") for n in outside.notes)
    named = correct_case(memory, case_id, correct=False, service="ranking", fault="memory_leak")
    assert not any("appears nowhere" in n for n in named.notes)


def test_marking_right_endorses_the_verdict(memory) -> None:
    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "memory_leak"))
    result = correct_case(memory, case_id, correct=True)
    assert (result.truth.service, result.truth.fault, result.truth.needs_attention) == ("ranking", "memory_leak", True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"correct": False, "decision": "block"}, "is an rca case: decision does not apply"),
        ({"correct": False}, "a wrong answer needs the truth"),
        ({"correct": False, "fault": "memory_leak"}, "give --service too"),
        ({"correct": False, "service": "ranking", "fault": "Memory Leak"},
         "^--fault: 'Memory Leak' is not a fault kind"),
        ({"correct": True, "service": "cache", "fault": "cache_failure"}, "--right contradicts"),
        ({"correct": False, "service": "ranking", "fault": "slow_dependency"}, "the verdict already says"),
        ({"correct": False, "service": "cache", "needs_attention": False}, "--no-attention says the alert was noise"),
    ],
)
def test_rca_corrections_that_do_not_fit_are_refused(memory, kwargs, message) -> None:
    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    with pytest.raises(CorrectionError, match=message):
        correct_case(memory, case_id, **kwargs)
    assert memory.get_case(case_id).corrections == []


def test_refusals_are_worded_for_the_face_that_asked(memory) -> None:
    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    with pytest.raises(CorrectionError) as refused:
        correct_case(memory, case_id, correct=True, service="cache", fault="cache_failure", wording=API_WORDING)
    assert str(refused.value).startswith("correct: true contradicts") and "use correct: false" in str(refused.value)
    with pytest.raises(CorrectionError, match="give root_cause_service and root_cause_fault .* needs_attention$"):
        correct_case(memory, case_id, correct=False, wording=API_WORDING)


def test_release_corrections_take_a_decision_only(memory) -> None:
    case_id = store_case(memory, release_event(), release_verdict("pass"), skill="serving-canary-release")
    with pytest.raises(CorrectionError, match="service does not apply.*--decision"):
        correct_case(memory, case_id, correct=False, service="ranking")
    with pytest.raises(CorrectionError, match="decision: must be one of"):
        correct_case(memory, case_id, correct=False, decision="stop")
    result = correct_case(memory, case_id, correct=False, decision="block")
    assert result.truth.decision == "block"


def _inspection_case(memory, severity: str = "critical") -> str:
    event = Event.model_validate({"pattern": "inspection", "time": T0, "scope": {"services": ["ranking"]}})
    items = [InspectionItem(service="ranking", kind="disk_full", severity=severity, evidence=["F1"])]
    verdict = Verdict(pattern="inspection", summary="disk filling", items=items, evidence=["F1"], reasoner="offline")
    return store_case(memory, event, verdict, skill="disk-inspection")


def test_inspection_right_with_no_attention_contradicting_its_finding_is_refused(memory) -> None:
    case_id = _inspection_case(memory)
    refused = runner.invoke(app, ["correct", case_id, "--right", "--no-attention", "--no-index"])
    assert refused.exit_code == 2, refused.output
    assert "--right contradicts the truth given" in refused.output and "use --wrong" in refused.output
    assert memory.get_case(case_id).corrections == []
    with pytest.raises(CorrectionError, match="--no-attention says nothing was worth reporting"):
        correct_case(memory, case_id, correct=False, needs_attention=False, service="ranking", fault="disk_full")
    wrong = correct_case(memory, case_id, correct=False, needs_attention=False)
    assert wrong.truth.findings == [] and wrong.truth.describe() == "nothing worth reporting"


def test_inspection_right_with_no_attention_stands_when_it_reported_nothing_severe(memory) -> None:
    result = correct_case(memory, _inspection_case(memory, "info"), correct=True, needs_attention=False)
    assert result.truth.findings == [] and result.truth.needs_attention is False


def test_unknown_case_is_a_clear_error(memory) -> None:
    with pytest.raises(CaseNotFoundError, match="nope"):
        correct_case(memory, "nope", correct=True)


def test_corrected_case_is_indexed_and_retrieved_as_experience(memory, knowledge) -> None:
    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    other = store_case(memory, rca_event("cache", "CacheLatencyHigh"), rca_verdict("cache", "slow_dependency"))
    result = correct_case(memory, case_id, correct=False, service="ranking", fault="memory_leak",
                          note="heap grew for hours before the OOM", knowledge=knowledge)
    correct_case(memory, other, correct=False, service="cache", fault="cache_failure", knowledge=knowledge)
    doc = knowledge.get("cases", case_doc_id(case_id))
    assert doc is not None and "Truth: root cause ranking/memory_leak" in doc.text and "heap grew" in doc.text
    assert doc.text.startswith("Event: rca | alert RankingMemoryHigh")
    assert result.indexed[0] == case_doc_id(case_id) and result.indexed[1].startswith("exp-")
    hits = similar_cases(knowledge, "ranking memory high alert, memory above 90%", top_k=4, min_score=0.0)
    assert {h.collection for h in hits} == {"cases", "experience"}
    assert hits[0].id in (case_doc_id(case_id), result.indexed[1])
    # what gather asks for a Skill listing experience (and cases) finds it too
    found = knowledge.search("RankingMemoryHigh ranking memory", collections=["experience", "cases"],
                             tags=["memory_leak"], top_k=2)
    assert all("memory_leak" in h.tags for h in found) and found


def test_cli_correct_stores_and_reports(memory) -> None:
    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    result = runner.invoke(app, ["correct", case_id, "--wrong", "--service", "ranking", "--fault", "memory_leak",
                                 "--note", "leak", "--no-index"])
    assert result.exit_code == 0, result.output
    assert "truth: root cause ranking/memory_leak" in result.output
    assert "skills refine --from-case" in result.output
    assert memory.get_case(case_id).latest_correction.root_cause_fault == "memory_leak"


def test_cli_correct_records_the_author_given_else_the_login_name(memory, monkeypatch) -> None:
    monkeypatch.setattr("agent.cli.corrections.author", lambda: "login-name")
    given = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    result = runner.invoke(app, ["correct", given, "--right", "--author", " alice ", "--no-index"])
    assert result.exit_code == 0, result.output
    assert memory.get_case(given).latest_correction.author == "alice"
    default = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    assert runner.invoke(app, ["correct", default, "--right", "--no-index"]).exit_code == 0
    assert memory.get_case(default).latest_correction.author == "login-name"


@pytest.mark.parametrize("option", ["--service", "--fault", "--author"])
def test_cli_correct_names_the_option_of_a_too_long_name(memory, option) -> None:
    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    names = {"--service": "cache", "--fault": "cache_failure", option: "f" * (NAME_MAX_CHARS + 1)}
    result = runner.invoke(app, ["correct", case_id, "--wrong", *(a for pair in names.items() for a in pair),
                                 "--no-index"])
    assert result.exit_code == 2
    assert f"{option}: at most {NAME_MAX_CHARS} characters, got {NAME_MAX_CHARS + 1}" in " ".join(result.stderr.split())
    assert memory.get_case(case_id).corrections == []


def test_cli_correct_errors_are_clear(memory) -> None:
    case_id = store_case(memory, rca_event(), rca_verdict())
    bad = runner.invoke(app, ["correct", case_id, "--wrong", "--decision", "block", "--no-index"])
    assert bad.exit_code == 2 and "decision does not apply" in bad.output
    unknown = runner.invoke(app, ["correct", "missing-case", "--right", "--no-index"])
    assert unknown.exit_code == 2 and "missing-case" in unknown.output


@pytest.mark.parametrize("flags", [["--right", "--wrong"], ["--wrong", "--right"], []])
def test_cli_correct_needs_exactly_one_of_right_and_wrong(memory, flags) -> None:
    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    result = runner.invoke(app, ["correct", case_id, *flags, "--service", "ranking", "--fault", "memory_leak",
                                 "--no-index"])
    assert result.exit_code == 2
    expected = "contradict each other: give one of them" if flags else "give --right or --wrong"
    assert expected in result.stderr
    assert memory.get_case(case_id).corrections == []


class _BrokenStore:
    def add(self, *args, **kwargs):
        raise RuntimeError("chroma is down")


def test_a_failing_knowledge_store_never_loses_the_correction(memory) -> None:
    case_id = store_case(memory, rca_event(), rca_verdict())
    result = correct_case(memory, case_id, correct=False, service="ranking", fault="memory_leak",
                          knowledge=_BrokenStore())
    assert result.indexed == [] and "not indexed: RuntimeError: chroma is down" in result.notes[0]
    assert memory.get_case(case_id).latest_correction.root_cause_fault == "memory_leak"


def test_correct_no_index_removes_the_record_an_earlier_correction_indexed(memory, knowledge) -> None:
    case_id = store_case(memory, rca_event(), rca_verdict())
    said = ["correct", case_id, "--wrong", "--service", "ranking", "--fault", "memory_leak"]
    first = CliRunner().invoke(app, said)
    assert first.exit_code == 0 and f"retrievable as case-{case_id}" in first.output, first.output
    kept_out = CliRunner().invoke(app, [*said, "--no-index"])
    assert kept_out.exit_code == 0, kept_out.output
    assert f"no longer retrievable: case-{case_id} removed from the knowledge store" in kept_out.output
    assert knowledge.get("cases", f"case-{case_id}") is None


class _CasesStore:
    """The ``cases`` collection of a knowledge store, in a dict."""

    def __init__(self) -> None:
        self.records: dict[str, str] = {}

    def add(self, _collection: str, doc_id: str, text: str, _metadata: dict) -> None:
        self.records[doc_id] = text

    def get(self, _collection: str, doc_id: str) -> str | None:
        return self.records.get(doc_id)

    def delete(self, _collection: str, doc_id: str) -> None:
        del self.records[doc_id]


def test_a_note_that_cannot_be_refreshed_leaves_the_record_written_or_removed_and_says_so(memory, monkeypatch) -> None:
    """The case's record was written (or removed) before the note's refresh failed, yet the correction said
    'not indexed' (or that the record stays, and listed nothing removed)."""
    import agent.evolve.distill as distill

    def unrefreshed(*_args) -> None:
        raise RuntimeError("embedding model gone")

    monkeypatch.setattr(distill, "refresh_note_for", unrefreshed)
    store = _CasesStore()
    case_id = store_case(memory, rca_event(), rca_verdict())
    record, said = case_doc_id(case_id), {"correct": False, "service": "ranking", "fault": "memory_leak"}
    unrefreshed_note = (f"the experience note of case {case_id}'s group was not refreshed (RuntimeError: embedding "
                        "model gone); `bianque knowledge distill` refreshes it")
    indexed = correct_case(memory, case_id, **said, knowledge=store)
    assert (indexed.indexed, indexed.notes, list(store.records)) == ([record], [unrefreshed_note], [record])
    kept_out = correct_case(memory, case_id, **said, index=False, knowledge=store)
    assert (kept_out.removed, kept_out.notes, store.records) == ([record], [unrefreshed_note], {})


def test_cli_correct_refuses_a_likely_typo_unless_given_as_is(memory) -> None:
    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    args = ["correct", case_id, "--wrong", "--service", "rankng", "--fault", "memory_leak", "--no-index"]
    typo = runner.invoke(app, args)
    assert typo.exit_code == 2
    assert "did you mean 'ranking'? Give that name, or --as-given to store it as given" in " ".join(typo.stderr.split())
    assert memory.get_case(case_id).corrections == []
    meant = runner.invoke(app, [*args, "--as-given"])
    assert meant.exit_code == 0, meant.output
    assert "'rankng' appears nowhere in case" in meant.output
    assert memory.get_case(case_id).latest_correction.root_cause_service == "rankng"
