"""What notifications have told: the last news of each origin (``notice_holds``), so the same news again within the
repeat interval is posted once, by whichever process shares the database, and not again after a restart.

Origins and signatures are kept by their SHA-256 (an origin's text is kept beside it, for people reading the table).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import delete, select

from agent.memory.errors import InvalidInputError, storable_text
from agent.memory.models import NoticeHoldRow
from agent.memory.store import Store

ORIGIN_CHARS = 500  # of an origin's text kept for people (its key is the hash of all of it)


def text_key(text: str) -> str:
    """The SHA-256 of ``text`` in hex (a lone surrogate in untrusted text included as it is)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class NoticeStore(Store):
    """The news notifications told, per origin."""

    def claim_news(self, origin: str, signature: str, now: float, repeat_s: float) -> bool:
        """Claim telling ``signature`` as the news of ``origin`` at ``now``: True when it is to be posted (the origin
        told nothing yet, other news, or this news ``repeat_s`` or more ago: now remembered as told at ``now``),
        False when it is a repeat; of processes claiming the same news at once one is told True
        (:meth:`Store._claim_or_create`). Holds expired by then are removed first,
        in a transaction of their own (two claims each removing the other's expired hold had deadlocked)."""
        if not signature:
            raise InvalidInputError("signature: empty (news without one is never a repeat)")
        origin_key, signature_key = text_key(origin), text_key(signature)
        with self._write() as session:
            session.execute(delete(NoticeHoldRow).where(NoticeHoldRow.told_at <= now - repeat_s)
                            .execution_options(synchronize_session=False))
        other_news = ~((NoticeHoldRow.signature_key == signature_key) & (NoticeHoldRow.told_at > now - repeat_s))
        told = {"signature_key": signature_key, "told_at": now}
        return self._claim_or_create(
            NoticeHoldRow, origin_key, (NoticeHoldRow.origin_key == origin_key) & other_news, told,
            {"origin_key": origin_key, "origin": storable_text(origin, ORIGIN_CHARS), **told})

    def forget_news(self, origin: str, signature: str | None = None, told_at: float | None = None) -> bool:
        """Forget what ``origin`` told (its next news is posted whatever it is): any news, or only ``signature``
        claimed at ``told_at`` (a post that was not delivered: a newer claim stays). False when there was none: then
        only read (every healthy run forgets its origin's news, mostly with none held), with no write transaction."""
        where = [NoticeHoldRow.origin_key == text_key(origin)]
        if signature is not None:
            where.append(NoticeHoldRow.signature_key == text_key(signature))
        if told_at is not None:
            where.append(NoticeHoldRow.told_at == told_at)
        with self._read() as session:
            if session.scalar(select(NoticeHoldRow.origin_key).where(*where)) is None:
                return False  # a hold claimed after this read is as if claimed after the delete: it stays
        with self._write() as session:
            return bool(session.execute(delete(NoticeHoldRow).where(*where)
                                        .execution_options(synchronize_session=False)).rowcount)
