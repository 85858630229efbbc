"""Corrections: an engineer says whether a case's answer was right and what the truth was.

``correct_case`` checks the truth fits the case's pattern, stores it beside the verdict (never over
it) and, when a knowledge store is given, makes the case retrievable: indexed into the ``cases``
collection and merged into the experience note of its group (see :mod:`agent.evolve.distill`).
``index=False`` (``--no-index``) is stored with the correction: the case stays out of experience, now and
for a later ``knowledge distill`` and the ranking's lessons, until a later correction says otherwise; with a
knowledge store, a record an earlier correction indexed is removed from it (and its group's note refreshed).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.events import Pattern
from agent.memory.corrections import name_length_problem, stored_name
from agent.memory.errors import InvalidInputError
from agent.memory.lines import data_gone
from agent.memory.records import CaseRecord, CorrectionRecord
from agent.memory.truth import Truth, judge, truth_from_correction
from agent.names import name_problem
from agent.skills.schema import IDENT

DECISIONS = ("pass", "hold", "block")


class CorrectionError(InvalidInputError):
    """A correction that does not fit its case (wrong fields for the pattern, contradicting itself)."""


@dataclass(frozen=True)
class Wording:
    """How one face (CLI, HTTP API, UI form) names the fields a refusal tells the user to fix."""

    service: str
    root_cause: str  # service and fault kind together
    attention: str  # "needs attention: yes / no"
    no_attention: str  # "no, nothing needed attention"
    decision: str
    right: str
    wrong: str
    fault: str = "fault"  # the fault kind's field
    author: str = "author"
    no_index: str = "--no-index"  # the control that keeps a case out of experience (``agent.memory.lines``)
    forget_case: str = "`bianque knowledge forget-case {case_id}`"  # how to remove a record a store failure left
    as_given: str = "--as-given"  # stores a service the case never mentions though one of its names is close


CLI_WORDING = Wording(
    service="--service", root_cause="--service S --fault F", attention="--attention/--no-attention",
    no_attention="--no-attention", decision="--decision pass|hold|block", right="--right", wrong="--wrong",
    fault="--fault", author="--author", no_index="--no-index",
)
API_WORDING = Wording(
    service="root_cause_service", root_cause="root_cause_service and root_cause_fault", attention="needs_attention",
    no_attention="needs_attention: false", decision="decision (pass|hold|block)", right="correct: true",
    wrong="correct: false", fault="root_cause_fault", author="author", no_index="index: false",
    as_given="as_given: true",
    forget_case="this correction sent again (a repeat: nothing new is stored, the removal is tried again), or "
                "`bianque knowledge forget-case {case_id}`",
)


@dataclass
class CorrectionResult:
    """The stored correction, the truth it states and what was indexed for retrieval."""

    case: CaseRecord
    correction: CorrectionRecord
    truth: Truth
    indexed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # knowledge records no longer retrievable (``index=False``)
    notes: list[str] = field(default_factory=list)
    repeated: bool = False  # the case's latest correction already said exactly this: nothing new stored


def _how(pattern: str, words: Wording) -> str:
    """What a correction of this pattern gives, in the face's words."""
    return {
        "rca": f"{words.root_cause} (the root cause) and/or {words.attention}",
        "release_interception": words.decision,
        "inspection": f"{words.root_cause} (what should have been reported) or {words.no_attention} "
                      "(nothing)",
    }[pattern]


def _check_fields(case: CaseRecord, correct: bool, fields: dict[str, Any], words: Wording) -> None:
    """Raise CorrectionError when a field does not fit the case's pattern or the truth is missing."""
    pattern = case.pattern
    allowed = {
        "rca": ("service", "fault", "needs_attention"),
        "release_interception": ("decision",),
        "inspection": ("service", "fault", "needs_attention"),
    }[pattern]
    how = _how(pattern, words)
    given = {k: v for k, v in fields.items() if v is not None}
    extra = sorted(set(given) - set(allowed))
    if extra:
        names = ", ".join(extra).replace("needs_attention", "attention")
        kind = Pattern(pattern).with_article
        raise CorrectionError(f"case {case.id} is {kind} case: {names} does not apply; correct it with {how}")
    if given.get("decision") is not None and given["decision"] not in DECISIONS:
        raise CorrectionError(f"decision: must be one of {', '.join(DECISIONS)}, got {given['decision']!r}")
    named = name_problem(given["service"]) if given.get("service") else None
    if named:  # a service name is any text but a control character (agent.names), as in every event and bundle
        raise CorrectionError(f"{words.service}: {named}")
    fault = given["fault"].strip() if isinstance(given.get("fault"), str) else given.get("fault")
    if fault is not None and not re.fullmatch(IDENT, fault):  # as memory stores it: blanks around it dropped
        raise CorrectionError(f"{words.fault}: {fault!r} is not a fault kind (a lowercase letter, then lowercase "
                              "letters, digits, '_' or '-'), e.g. disk_full")
    if fault is not None and not given.get("service"):
        raise CorrectionError(f"{words.fault}: give {words.service} too (which service had the fault)")
    if pattern == "inspection" and given.get("needs_attention") is True and not given.get("service"):
        raise CorrectionError(f"an inspection is corrected with {how}")
    if given.get("needs_attention") is False and given.get("service"):
        said = ("nothing was worth reporting; it cannot name a finding" if pattern == "inspection"
                else "the alert was noise; it cannot name a root cause")
        raise CorrectionError(f"{words.no_attention} says {said}: correct it with {how}")
    if not correct and not given:
        raise CorrectionError(f"a wrong answer needs the truth: give {how}")
    if case.verdict is None and correct:
        raise CorrectionError(f"case {case.id} has no verdict ({case.status}); it cannot be marked right")


def _probe(case: CaseRecord, correct: bool, fields: dict[str, Any], note: str) -> Truth:
    """The truth the correction would state (before storing it)."""
    probe = CorrectionRecord(
        id=0, case_id=case.id, correct=correct, root_cause_service=fields.get("service"),
        root_cause_fault=fields.get("fault"), decision=fields.get("decision"),
        needs_attention=fields.get("needs_attention"), note=note, created_at=0.0,
    )
    return truth_from_correction(case, probe)


def check_correction(
    case: CaseRecord,
    correct: bool,
    *,
    service: str | None = None,
    fault: str | None = None,
    decision: str | None = None,
    needs_attention: bool | None = None,
    note: str = "",
    author: str | None = None,
    as_given: bool = False,
    wording: Wording = CLI_WORDING,
) -> Truth:
    """The truth a correction states, or CorrectionError (worded for the caller's face) when it does not fit.

    Names (service, fault kind, author) must fit memory (``name_length_problem``). Besides fitting the pattern,
    the correction must agree with itself: "right" with a truth the verdict does not give, or "wrong" with
    exactly what the verdict said, is refused. A service the case never mentions while a name it does is close
    (``rankng`` for ``ranking``: a typo would teach lessons about a service that does not exist) is refused unless
    ``as_given`` (a true cause outside the case's data); one close to none is taken, with a note.
    """
    for field_name, name in ((wording.service, service), (wording.fault, fault), (wording.author, author)):
        problem = name_length_problem(name) if isinstance(name, str) else None
        if problem:  # memory's one rule, named as the face asked for it
            raise CorrectionError(f"{field_name}: {problem}")
    service = service.strip() if isinstance(service, str) and service.strip() else None
    fields = {"service": service, "fault": fault, "decision": decision, "needs_attention": needs_attention}
    _check_fields(case, correct, fields, wording)
    unheard = _unheard_of(case, service)
    if unheard is not None and unheard.near and not as_given:
        raise CorrectionError(f"{wording.service}: {unheard.describe()}; did you mean {unheard.near!r}? Give that "
                              f"name, or {wording.as_given} to store it as given (a cause outside the case's data)")
    truth = _probe(case, correct, fields, note)
    if case.verdict is not None:
        verdict_ok = judge(case.verdict, truth)
        if correct and not verdict_ok.passed:
            raise CorrectionError(
                f"{wording.right} contradicts the truth given: the verdict does not say {truth.describe()} "
                f"({verdict_ok.detail}); use {wording.wrong}"
            )
        if not correct and verdict_ok.passed:
            raise CorrectionError(
                f"{wording.wrong}, but the verdict already says {truth.describe()}; use {wording.right} or give a "
                "different truth"
            )
    return truth


def correct_case(
    memory: Any,
    case_id: str,
    *,
    correct: bool,
    service: str | None = None,
    fault: str | None = None,
    decision: str | None = None,
    needs_attention: bool | None = None,
    note: str = "",
    author: str | None = None,
    index: bool = True,
    knowledge: Any = None,
    as_given: bool = False,
    wording: Wording = CLI_WORDING,
) -> CorrectionResult:
    """Store an engineer's correction of a case; with ``index`` and ``knowledge``, make the case retrievable.

    ``knowledge`` is the knowledge store, or a function opening it: called once the correction is stored, so a
    store that cannot be opened never loses the correction (a note says what it left undone).
    ``index=False`` is stored with the correction (``no_index``): the case is not indexed, and while it is its
    latest correction, distillation and the ranking's lessons leave the case out; with ``knowledge``, its record
    indexed by an earlier correction is removed (``removed``) and its group's note refreshed. The same truth again
    with the other ``index`` is a new correction. Raises CaseNotFoundError for an unknown case and CorrectionError (an
    InvalidInputError, worded with ``wording``) for values that do not fit the case's pattern. The case's verdict
    is never changed.
    """
    case = memory.get_case(case_id)
    check_correction(
        case, correct, service=service, fault=fault, decision=decision, needs_attention=needs_attention, note=note,
        author=author, as_given=as_given, wording=wording,
    )
    said = {"correct": correct, "root_cause_service": stored_name(service), "root_cause_fault": stored_name(fault),
            "decision": decision, "needs_attention": needs_attention, "note": note or "", "no_index": not index}
    latest = case.latest_correction
    if latest is not None and all(getattr(latest, name) == value for name, value in said.items()):
        result = CorrectionResult(case=case, correction=latest, truth=truth_from_correction(case, latest),
                                  repeated=True)
        result.notes.append(f"the case's latest correction ({latest.id}) already says this: nothing new stored")
    else:
        stored = memory.add_correction(case.id, correct, root_cause_service=service, root_cause_fault=fault,
                                       decision=decision, needs_attention=needs_attention, note=note, author=author,
                                       no_index=not index)
        case = memory.get_case(case.id)
        result = CorrectionResult(case=case, correction=stored, truth=truth_from_correction(case, stored))
    if (unheard := _unheard_of(case, said["root_cause_service"])) is not None:
        result.notes.append(f"{unheard.describe()}: stored as given")
    if data_gone(case.bundle_path):
        result.notes.append(f"case {case.id}'s data is gone ({case.bundle_path}: its kept data pruned, or the folder "
                            "moved away): `skills refine` and replays cannot use the case; the correction is stored")
    if knowledge is None:
        return result
    if index:
        _index(memory, knowledge, result)
    else:
        _unindex(memory, knowledge, result, wording)
    return result


@dataclass(frozen=True)
class Unheard:
    """A service a correction names that its case never mentions, and the case's name closest to it, if any."""

    service: str
    case_id: str
    near: str | None

    def describe(self) -> str:
        return (f"{self.service!r} appears nowhere in case {self.case_id} (its event, Findings, call graph or "
                "verdict)")


def _unheard_of(case: CaseRecord, service: str | None) -> Unheard | None:
    """The service a correction names when its case never mentions it (its event, Findings, call graph, verdict):
    a typo there teaches every lesson about a service that does not exist. None for a service it mentions, or a
    case that mentions none."""
    if not service:
        return None
    pack = case.evidence
    known = {*case.event.services, *(f.owner for f in case.findings if f.owner)}
    if pack is not None:
        known |= {*pack.target_services, *pack.topology, *(c for callees in pack.topology.values() for c in callees)}
    if case.verdict is not None:
        known |= {cause.service for cause in case.verdict.root_causes}
    if not known or service in known:
        return None
    near = difflib.get_close_matches(service, sorted(known), 1, 0.75)
    return Unheard(service, case.id, near[0] if near else None)


def _opened(knowledge: Any | Callable[[], Any]) -> Any:
    """The store ``knowledge`` is, or the one it opens (a function); None when it opens none."""
    return knowledge() if callable(knowledge) else knowledge


def _index(memory: Any, knowledge: Any, result: CorrectionResult) -> None:
    """Index the case and refresh its experience note; a store failure leaves the correction stored."""
    from agent.evolve.casebase import index_case

    try:
        store = _opened(knowledge)
        if store is None:
            return
        result.indexed.append(index_case(store, result.case, result.truth))
    except Exception as exc:  # the knowledge store is optional: never lose the correction over it
        result.notes.append(f"correction stored but not indexed: {type(exc).__name__}: {exc}")
        return
    if note_id := _refresh_note(memory, store, result):
        result.indexed.append(note_id)


def _unindex(memory: Any, knowledge: Any, result: CorrectionResult, wording: Wording) -> None:
    """Remove the record an earlier correction indexed (similar-case retrieval would still find it) and refresh
    the case's group note; a store failure leaves the correction stored and says how to remove it later (in the
    words of ``wording``'s face). A case no correction ever asked to index has no record and is in no note: the
    store is not opened."""
    from agent.evolve.casebase import case_doc_id, forget_case

    if all(c.no_index for c in result.case.corrections):
        return
    try:
        store = _opened(knowledge)
        if store is None:
            return
        removed = forget_case(store, result.case.id)
    except Exception as exc:  # the knowledge store is optional: never lose the correction over it
        result.notes.append(
            f"correction stored, but a record {case_doc_id(result.case.id)} indexed by an earlier correction stays "
            f"in the knowledge store, where similar-case retrieval still finds it ({type(exc).__name__}: {exc}); "
            f"remove it with {wording.forget_case.format(case_id=result.case.id)}")
        return
    if removed:
        result.removed.append(removed)
    _refresh_note(memory, store, result)  # the note of its group no longer counts it


def _refresh_note(memory: Any, store: Any, result: CorrectionResult) -> str | None:
    """Refresh the experience note of the case's group; its id, if the case is in one. A failure is a note saying so
    (the case's record, written or removed already, stands), never raised."""
    from agent.evolve.distill import refresh_note_for

    try:
        return refresh_note_for(memory, store, result.case)
    except Exception as exc:  # the knowledge store is optional: never lose the correction over it
        result.notes.append(f"the experience note of case {result.case.id}'s group was not refreshed "
                            f"({type(exc).__name__}: {exc}); `bianque knowledge distill` refreshes it")
        return None
