"""Streamlit renderers shared by the pages: a verdict, an answer, an error, a button opening a case."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

import streamlit as st

from agent.ask import Answer
from agent.findings import Finding
from agent.verdict import Verdict
from ui import backend
from ui.formatting import (
    badges_markdown,
    code,
    friendly_error,
    inspection_rows,
    plain,
    report_markdown,
    root_cause_rows,
    verdict_badges,
)

log = logging.getLogger("bianque.ui")
T = TypeVar("T")

# Session-state key: the case the Cases page opens (set by "Open in Cases" in the chat).
SELECTED_CASE = "selected_case"
CASES_PAGE = "views/cases.py"
CONFIDENCE = {"confidence": st.column_config.NumberColumn(format="%.2f")}


def show_error(what: str, exc: BaseException) -> str:
    """Show a failure as a clear message (the traceback goes to the server log only; a memory database that cannot be
    used is one line there too, naming it and why, as the CLI says it); returns the message."""
    database = backend.database_problem(exc)
    if database is None:
        log.warning("%s failed", what, exc_info=exc)
    else:
        log.warning("%s failed: %s", what, database)
    message = f"{what} failed: {database or friendly_error(exc)}"
    st.error(plain(message), icon=":material/error:")
    return message


def loaded_or_stop(what: str, load: Callable[[], T]) -> T:
    """What ``load`` returns; when it fails, the failure shown as :func:`show_error` shows it and the page stopped."""
    try:
        return load()
    except Exception as exc:
        show_error(what, exc)
        st.stop()
        raise  # st.stop() ends the script run; never reached


def render_verdict(verdict: Verdict, findings: Sequence[Finding] = ()) -> None:
    """Badges, the summary, ranked root causes (cited Findings of other services marked, given the
    ``findings``) or inspection items, and the next steps."""
    st.markdown(badges_markdown(verdict_badges(verdict)))
    st.markdown(f"**{plain(verdict.summary)}**" if verdict.summary else "_no summary_")
    if verdict.attention_reason:
        st.caption(plain(verdict.attention_reason))
    if verdict.root_causes:
        st.markdown("**Root causes**")
        st.dataframe(root_cause_rows(verdict, findings), hide_index=True, width="stretch", column_config=CONFIDENCE)
    if verdict.items:
        st.markdown("**Inspection items**")
        st.dataframe(inspection_rows(verdict), hide_index=True, width="stretch")
    if verdict.actions:
        st.markdown("**Next steps**\n" + "\n".join(f"- {plain(action)}" for action in verdict.actions))


def _open_case(case_id: str) -> None:
    st.session_state[SELECTED_CASE] = case_id


def open_case_button(case_id: str, *, key: str, label: str = "Open in Cases") -> None:
    """A button that opens ``case_id`` on the Cases page."""
    if st.button(label, key=key, on_click=_open_case, args=(case_id,)):
        st.switch_page(CASES_PAGE)


def render_answer(answer: Answer, source: str, *, key: str) -> None:
    """One chat answer: the verdict, where it came from, the case id and the full markdown report."""
    result = answer.result
    for listing in answer.listed:  # what changed, the logs: the stores' lines answer it first
        st.markdown(f"**{plain(listing.title)}**\n" + "\n".join(f"- {plain(line)}" for line in listing.said()))
    render_verdict(result.verdict, result.findings)
    skill = result.skill.get("name", "?")
    st.caption(
        f"Data: {plain(source)} · routed to **{answer.route.pattern.value}** ({plain(answer.route.reason)}) · "
        f"Skill {code(skill)} · {len(result.findings)} findings"
    )
    if result.case_id:
        left, right = st.columns([3, 1], vertical_alignment="center")
        left.markdown(f"Case id: `{result.case_id}`")
        with right:
            open_case_button(result.case_id, key=f"open-{key}")
    with st.expander("Full report", expanded=False):
        st.markdown(report_markdown(answer.text))
