"""Corrections: an engineer's judgement of a case, stored beside its verdict (never over it)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePath
from typing import NamedTuple

from sqlalchemy import and_, exists, func, or_, select

from agent.memory.cases import case_record, correction_record, load_case_row
from agent.memory.errors import InvalidInputError, check_length, length_problem
from agent.memory.models import CaseRow, CorrectionRow, now
from agent.memory.records import CaseRecord, CorrectionRecord
from agent.memory.store import Store

DECISIONS = ("pass", "hold", "block")
NAME_MAX_CHARS: int = CorrectionRow.__table__.c.root_cause_service.type.length  # a service, fault kind or author
NOTE_MAX_CHARS = 4000
PRUNABLE_AMONG_CHUNK = 500  # ids bound in one IN (...): well under SQLite's oldest limit of 999 variables
NAME_RULE = f"At most {NAME_MAX_CHARS} characters, not counting blanks around it (they are not stored)."


class KeptDataOf(NamedTuple):
    """Which cases' kept data a store may prune (:meth:`CorrectionStore.kept_data_of`)."""

    prunable: set[str]  # held by the store, uncorrected
    orphans: set[str]  # held by no case of the store


def stored_name(value: str | None) -> str | None:
    """A name as a correction stores it: stripped, None when blank."""
    return (value or "").strip() or None


def name_length_problem(value: str) -> str | None:
    """Why a correction cannot store this name (a service, fault kind or author), or None: it is measured as
    stored, without the blanks around it. Every face (CLI, API, UI) checks names by this one rule."""
    return length_problem(value.strip(), NAME_MAX_CHARS)


def _clean(field: str, value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{field}: must be text, got {type(value).__name__}")
    problem = name_length_problem(value)
    if problem:
        raise InvalidInputError(f"{field}: {problem}")
    return stored_name(value)


class CorrectionStore(Store):
    """Corrections and the corrected cases they mark."""

    def add_correction(
        self,
        case_id: str,
        correct: bool,
        *,
        root_cause_service: str | None = None,
        root_cause_fault: str | None = None,
        decision: str | None = None,
        needs_attention: bool | None = None,
        note: str = "",
        author: str | None = None,
        no_index: bool = False,
    ) -> CorrectionRecord:
        """Record whether a case's answer was right and, if not, what the truth was; ``no_index`` keeps the case
        out of experience (see :meth:`experience_cases`).

        The case's verdict is left untouched; several corrections may accumulate, the newest last.
        Raises CaseNotFoundError for an unknown case and InvalidInputError for a bad field.
        """
        if not isinstance(correct, bool):
            raise InvalidInputError(f"correct: must be true or false, got {correct!r}")
        if not isinstance(no_index, bool):
            raise InvalidInputError(f"no_index: must be true or false, got {no_index!r}")
        if decision is not None and decision not in DECISIONS:
            raise InvalidInputError(f"decision: must be one of {', '.join(DECISIONS)}, got {decision!r}")
        if needs_attention is not None and not isinstance(needs_attention, bool):
            raise InvalidInputError(f"needs_attention: must be true or false, got {needs_attention!r}")
        service = _clean("root_cause_service", root_cause_service)
        fault = _clean("root_cause_fault", root_cause_fault)
        if isinstance(note, str):  # stored as given: measured as given
            check_length("note", note, NOTE_MAX_CHARS)
        if fault and not service:
            raise InvalidInputError(
                "root_cause_fault: give root_cause_service too (which service had the fault)"
            )
        with self._write() as session:
            case = load_case_row(session, case_id)
            row = CorrectionRow(
                case_id=case.id,
                correct=correct,
                root_cause_service=service,
                root_cause_fault=fault,
                decision=decision,
                needs_attention=needs_attention,
                note=note or "",
                author=_clean("author", author),
                no_index=no_index,
                created_at=now(),
            )
            session.add(row)
            session.flush()
            return correction_record(row)

    def corrections_for(self, case_id: str) -> list[CorrectionRecord]:
        """A case's corrections, oldest first (CaseNotFoundError for an unknown case)."""
        with self._read() as session:
            return [correction_record(c) for c in load_case_row(session, case_id).corrections]

    def prunable_among(self, case_ids: Iterable[str]) -> set[str]:
        """Which of ``case_ids`` this store holds with no correction: the cases whose kept data may go once old. A
        case it does not hold is none of them: another store's, of a process sharing ``BIANQUE_HOME`` with another
        database. Nor is one whose folder a corrected case reads as its bundle (``rca --bundle`` over a kept case's
        data: a folder of that name, wherever it is, is spared). See :meth:`kept_data_of`."""
        return self.kept_data_of(case_ids).prunable

    def orphans_among(self, case_ids: Iterable[str]) -> set[str]:
        """Which of ``case_ids`` this store holds no case of: kept data no prune of this store removes (another
        database's, sharing ``BIANQUE_HOME``, or of a case no database holds any more). A folder a corrected case
        reads as its bundle is spared, as by :meth:`prunable_among`. See :meth:`kept_data_of`."""
        return self.kept_data_of(case_ids).orphans

    def kept_data_of(self, case_ids: Iterable[str]) -> KeptDataOf:
        """The ids of ``case_ids`` this store holds uncorrected (``prunable``) and those it holds no case of
        (``orphans``), either less the folder names its corrected cases read as their bundles. One SELECT per 500
        ids, however many are asked (housekeeping asks about every old case's data): the first also reads the
        corrected cases' bundles; none when none is asked."""
        wanted = sorted(set(case_ids))
        held: set[str] = set()
        known: set[str] = set()
        read: set[str] = set()
        corrected = exists().where(CorrectionRow.case_id == CaseRow.id)
        reads_a_bundle = and_(CaseRow.bundle_path.is_not(None), corrected)
        with self._read() as session:
            for start in range(0, len(wanted), PRUNABLE_AMONG_CHUNK):
                chunk = wanted[start:start + PRUNABLE_AMONG_CHUNK]
                among = CaseRow.id.in_(chunk)
                rows = session.execute(select(CaseRow.id, CaseRow.bundle_path, corrected)
                                       .where(or_(among, reads_a_bundle) if start == 0 else among))
                asked = set(chunk)
                for case_id, bundle_path, is_corrected in rows:
                    if case_id in asked:
                        known.add(case_id)
                        if not is_corrected:
                            held.add(case_id)
                    if is_corrected and bundle_path is not None:
                        read.add(PurePath(bundle_path).name)
        return KeptDataOf(prunable=held - read, orphans=set(wanted) - known - read)

    def corrections_state(self) -> tuple[int, int]:
        """(number of corrections, highest correction id): changes whenever a correction is added or removed."""
        with self._read() as session:
            count, highest = session.execute(select(func.count(CorrectionRow.id), func.max(CorrectionRow.id))).one()
        return int(count or 0), int(highest or 0)

    def corrected_cases(self, skill: str | None = None) -> list[CaseRecord]:
        """Cases with at least one correction (optionally one Skill's), oldest first, with corrections."""
        query = select(CaseRow).where(exists().where(CorrectionRow.case_id == CaseRow.id))
        if skill is not None:
            query = query.where(CaseRow.skill == skill)
        query = query.order_by(CaseRow.created_at, CaseRow.id)
        with self._read() as session:
            return [case_record(row) for row in session.scalars(query)]

    def experience_cases(self, skill: str | None = None) -> list[CaseRecord]:
        """The corrected cases that are experience (optionally one Skill's), oldest first: those whose latest
        correction did not keep them out (``no_index``). Distillation and the ranking's lessons read these."""
        return [case for case in self.corrected_cases(skill) if case.in_experience]
