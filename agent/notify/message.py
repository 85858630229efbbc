"""What a background result says in a notification: whether it needs someone, a short text for people (chat
webhooks show it) and the same as data for programs.

Names, summaries and reasons come from the data (alert annotations, log-derived findings, Skill files): in the text
they are squeezed onto one line and escaped for chat markup (``<!channel>`` or a ``<url|link>`` in an annotation
stays text), and they never become our own words. The data part holds them as given, as JSON values.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, Field

from agent.events import Event
from agent.investigate import InvestigationResult
from agent.llm.prompting import one_line
from agent.verdict import SERIOUS, Verdict

SHOWN = 5  # items or root causes a notification lists at most (the case holds them all)
TEXT_LIMIT = 200  # characters of one untrusted value in the text
NoticeKind = Literal["inspection", "rca", "release_interception", "failure", "test", "digest"]
FormName = Literal["json", "text"]
BREAK = "\u200b"  # a zero-width space: invisible, but no mention or link syntax reads across it
MENTION = re.compile(r"@(?=\w)")  # Mattermost's (and Discord's) @channel, @here, @all, @someone
LINK = re.compile(r"\](?=\()")  # a Markdown link or image, [text](url) / ![](url), as Mattermost renders it


class Notice(BaseModel):
    """One notification: its kind, whether it needs someone, its text (escaped) and its data (as given)."""

    kind: NoticeKind
    attention: bool = Field(description="Someone should look: a serious inspection, an alert needing attention, a "
                                        "held or blocked change, anything not judged, a failure.")
    text: str = Field(description="For people: the first line says what and how bad; chat-markup escaped.")
    data: dict[str, Any] = Field(default_factory=dict)
    signature: str = Field(default="", description="What a repeat is told by, with its origin: the same signature "
                                                   "again is the same news (empty: never a repeat).")

    @property
    def origin(self) -> str:
        """What started the work the notice reports (its repeats are judged per origin)."""
        return str(self.data.get("origin", ""))

    def payload(self, form: FormName = "json") -> dict[str, Any]:
        """The JSON body posted: ``{"text": …}`` alone (``text``: chat webhooks that refuse other fields), or with
        ``bianque`` holding the data (``json``, the default; Slack- and Mattermost-style webhooks read ``text``)."""
        if form == "text":
            return {"text": self.text}
        return {"text": self.text, "bianque": {"kind": self.kind, "attention": self.attention, **self.data}}


def chat_text(value: Any, limit: int = TEXT_LIMIT) -> str:
    """An untrusted value for a notification's text: one line, truncated, and ``&``, ``<``, ``>`` escaped as chat
    webhooks (Slack, Mattermost) read them, so it can mention no one and link nowhere: Slack's ``<!channel>`` and
    ``<url|text>`` are escaped, and a zero-width space follows the ``@`` of a Mattermost mention (``@channel``) and
    the ``]`` of a Markdown link (``[text](url)``), which Slack shows as typed."""
    flat = one_line(value, limit)
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return LINK.sub("]" + BREAK, MENTION.sub("@" + BREAK, flat))


def needs_attention(verdict: Verdict) -> bool:
    """Whether a result needs someone: anything not judged (the fail-safe answer), an inspection at warning or
    critical, an alert needing attention (or not said), a change held or blocked."""
    if not verdict.judged:
        return True
    if verdict.pattern == "inspection":
        return verdict.inspection_level() in SERIOUS
    if verdict.pattern == "rca":
        return verdict.needs_attention is not False
    return verdict.decision != "pass"


def result_notice(result: InvestigationResult, event: Event, origin: str, ui_url: str | None = None) -> Notice:
    """The notification of a finished investigation; ``origin`` says what started it, in our words with any name in
    it given as is (``scheduled inspection disk-check``); ``ui_url``: the web UI, where the case is linked."""
    verdict = result.verdict
    attention = needs_attention(verdict)
    lines = [f"Bian Que · {chat_text(origin)}: {_headline(verdict)}"]
    about = event.about()
    if about:
        lines.append(chat_text(about))
    lines.extend(_details(verdict))
    lines.append(chat_text(verdict.summary, 400))
    link = case_link(ui_url, result.case_id)
    if result.case_id:
        opened = f"{link} or " if link else ""  # a bare address: every chat links it
        lines.append(f"case {result.case_id}: {opened}`bianque cases show {result.case_id}`")
    data = {
        "origin": origin,
        "case_id": result.case_id,
        "case_url": link,
        "event": about,
        "services": event.services,
        "skill": result.skill.get("name"),
        "verdict": verdict.model_dump(include={"pattern", "summary", "judged", "decision", "needs_attention",
                                               "attention_reason", "confidence"}),
        "level": verdict.inspection_level() if verdict.pattern == "inspection" else None,
        "root_causes": [cause.model_dump(include={"service", "fault", "confidence"})
                        for cause in verdict.root_causes[:SHOWN]],
        "items": [item.model_dump(include={"service", "kind", "severity", "summary"})
                  for item in verdict.items[:SHOWN]],
    }
    return Notice(kind=verdict.pattern, attention=attention, text="\n".join(lines), data=data,
                  signature=_signature(origin, verdict))


def case_link(ui_url: str | None, case_id: str | None) -> str | None:
    """The web UI's address of a case (its Cases page opens it), or None without a UI address or a case."""
    if not ui_url or not case_id:
        return None
    url = urlsplit(ui_url)  # a query or fragment of the UI's address (a proxy's `?tenant=`) stays after the path
    query = "&".join(part for part in (url.query, urlencode({"case": case_id})) if part)
    return urlunsplit((url.scheme, url.netloc, f"{url.path.rstrip('/')}/cases", query, ""))


def failure_notice(origin: str, reason: str) -> Notice:
    """The notification of background work that failed for good (a scheduled run, a queued investigation out of
    tries): someone must look, since no answer will come."""
    text = f"Bian Que · {chat_text(origin)}: FAILED, no answer will come\n{chat_text(reason, 400)}"
    return Notice(kind="failure", attention=True, text=text, data={"origin": origin, "reason": reason},
                  signature=f"{origin}\nfailed: {reason}")


def test_notice(origin: str) -> Notice:
    """A notification saying only that notifications arrive (``bianque notify test``)."""
    text = f"Bian Que · test notification from {chat_text(origin)}: results needing attention will arrive here"
    return Notice(kind="test", attention=False, text=text, data={"origin": origin})


def _headline(verdict: Verdict) -> str:
    """How bad, first: ``CRITICAL: 2 items``, ``needs attention``, ``BLOCK``, ``could not judge``."""
    if not verdict.judged:
        return "could not judge (treat as needing attention)"
    if verdict.pattern == "inspection":
        level = verdict.inspection_level()
        count = len(verdict.items)
        return f"{(level or 'healthy').upper()}: {count} item{'' if count == 1 else 's'}"
    if verdict.pattern == "rca":
        if verdict.needs_attention is False:
            return f"no attention needed ({chat_text(verdict.attention_reason or 'no reason given', 80)})"
        return "needs attention"
    return (verdict.decision or "hold").upper()


def _details(verdict: Verdict) -> list[str]:
    """The items of an inspection, or the ranked causes of an alert or change, at most SHOWN."""
    if verdict.pattern == "inspection":
        return [f"- {chat_text(item.service, 80)}: {chat_text(item.kind, 60)} ({item.severity})"
                + (f" {chat_text(item.summary)}" if item.summary else "") for item in verdict.items[:SHOWN]]
    return [f"{rank}. {chat_text(cause.service, 80)}: {chat_text(cause.fault, 60)} (confidence {cause.confidence:.2f})"
            for rank, cause in enumerate(verdict.root_causes[:SHOWN], 1)]


def _signature(origin: str, verdict: Verdict) -> str:
    """An inspection's news is its level and its items (service, kind, severity), or that it could not judge: the
    same again at the next run is a repeat. An alert's or a change's case is news once (the service opens one
    investigation per incident)."""
    if verdict.pattern != "inspection":
        return ""
    if not verdict.judged:
        return f"{origin}\ncould not judge"
    items = sorted({(item.service, item.kind, item.severity) for item in verdict.items})
    return f"{origin}\n{verdict.inspection_level()}\n{items}"
