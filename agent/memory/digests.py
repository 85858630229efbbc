"""The digest of alerts judged not needing attention: what it lists (the service's finished alert cases whose verdict
said so), and its claim, so replicas post each digest once and a digest not delivered is listed again."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from agent.memory.cases import correction_record
from agent.memory.errors import InvalidInputError, check_length
from agent.memory.models import CaseRow, CorrectionRow, EventRow, NoticeDigestRow
from agent.memory.records import CorrectionRecord, QuietAlertRecord
from agent.memory.store import Store, load
from agent.memory.truth import corrected_truth
from agent.verdict import Verdict

ALERT_SOURCE = "webhook"  # the events of the alerts `bianque serve` takes in (a manual run's caller reads its answer)


def quiet_alert(case_id: str, finished_at: float, payload: dict[str, Any], verdict: Any) -> QuietAlertRecord | None:
    """The digest's entry for a finished alert case, or None when its verdict did not judge it not needing
    attention (a verdict that could not judge needs attention: it was posted)."""
    if not isinstance(verdict, dict) or verdict.get("needs_attention") is not False or verdict.get("judged") is False:
        return None
    alert = payload.get("alert") or {}
    labels = alert.get("labels") or {}
    return QuietAlertRecord(case_id=case_id, service=payload.get("service"), alertname=str(labels.get("alertname", "")),
                            time=payload.get("time") or finished_at, finished_at=finished_at,
                            reason=verdict.get("attention_reason"))


def _corrected_to_attention(row: Any, correction: CorrectionRecord | None) -> bool:
    """Whether an engineer's latest correction of the quiet alert case ``row`` (id, finished, event, verdict) says it
    needed attention after all (``needs_attention``, or a root cause named): the digest leaves it out."""
    if correction is None:
        return False
    verdict = load(Verdict, row[3], f"case {row[0]} verdict")
    return corrected_truth("rca", verdict, correction).needs_attention is True


class DigestStore(Store):
    """What the digest lists, and who posts it when."""

    def quiet_alerts(self, since: float | None, until: float) -> list[QuietAlertRecord]:
        """The alerts ``bianque serve`` investigated whose case finished after ``since`` (None: ever) and by
        ``until``, judged not needing attention, oldest first."""
        query = (select(CaseRow.id, CaseRow.finished_at, EventRow.payload, CaseRow.verdict)
                 .join(CaseRow.event)
                 .where(EventRow.pattern == "rca", EventRow.source == ALERT_SOURCE, CaseRow.status == "done",
                        CaseRow.finished_at <= until)
                 .order_by(CaseRow.finished_at, CaseRow.id))
        if since is not None:
            query = query.where(CaseRow.finished_at > since)
        with self._read() as session:
            rows = session.execute(query).all()
            latest = {row.case_id: correction_record(row) for row in session.scalars(  # the last one wins
                select(CorrectionRow).where(CorrectionRow.case_id.in_(query.with_only_columns(CaseRow.id)))
                .order_by(CorrectionRow.id))}
        return [entry for row in rows
                if (entry := quiet_alert(*row)) is not None and not _corrected_to_attention(row, latest.get(row[0]))]

    def claim_digest(self, name: str, tick: float, claimant: str) -> bool:
        """Claim posting the digest ``name`` due at ``tick``: True for the first process to ask, False for every
        other (replicas post each digest once; :meth:`Store._claim_or_create`)."""
        check_length("claimant", claimant, NoticeDigestRow.__table__.c.claimed_by.type.length)
        unclaimed = or_(NoticeDigestRow.claimed_tick.is_(None), NoticeDigestRow.claimed_tick < tick)
        claim = {"claimed_tick": tick, "claimed_by": claimant}
        return self._claim_or_create(NoticeDigestRow, name, (NoticeDigestRow.name == name) & unclaimed, claim,
                                     {"name": name, **claim})

    def take_digest_period(self, name: str, until: float, first_s: float) -> float | None:
        """Take the period of the digest ``name`` up to ``until`` to post, noted as told at once, so that no other run
        (a replica at the same tick, a manual ``bianque notify digest``, the next tick while this one posts) lists it
        too: where it begins (what was told before, else ``first_s`` before ``until``), None when nothing is left
        before ``until``. One not delivered is given back (:meth:`give_back_digest_period`)."""
        if until != until:  # NaN
            raise InvalidInputError("until: not a number")

        def work(session: Session) -> float | None:
            row = session.get(NoticeDigestRow, name, with_for_update=True)
            if row is None:  # on PostgreSQL a racing insert meets the primary key and is tried again
                session.add(NoticeDigestRow(name=name, told_until=until))
                session.flush()
                return until - first_s
            since = row.told_until if row.told_until is not None else until - first_s
            if since >= until:
                return None
            row.told_until = until
            return since

        return self._write_retrying(work)

    def give_back_digest_period(self, name: str, since: float) -> None:
        """A period taken from ``since`` was not delivered: the next digest lists from ``since`` again (with any later
        period taken meanwhile: listed twice rather than lost)."""
        with self._write() as session:
            row = session.get(NoticeDigestRow, name, with_for_update=True)
            if row is not None and row.told_until is not None and row.told_until > since:
                row.told_until = since

    def digest_told_until(self, name: str) -> float | None:
        """Up to when what the digest ``name`` lists was delivered; None: never."""
        with self._read() as session:
            row = session.get(NoticeDigestRow, name)
            return None if row is None else row.told_until
