"""Cases: stored investigations, one case's report, findings and corrections, the correction form, and
for a case corrected as wrong a proposed fix of its Skill."""

from __future__ import annotations

import streamlit as st

from agent.memory import CaseNotFoundError
from agent.memory.lines import correction_line, data_line
from agent.memory.records import CaseRecord
from agent.timeparse import to_rfc3339
from ui import backend
from ui.correction_form import FORM_WORDING, render_correction_form, render_flash
from ui.formatting import case_option, case_rows, code, finding_rows, plain, report_markdown, skill_label
from ui.refine_panel import render_refine_panel
from ui.widgets import SELECTED_CASE, loaded_or_stop, log, render_verdict, show_error

CASE_PARAM = "case"  # /cases?case=ID opens that case (docs/ui.md)
LINKED_CASE = "linked_case"  # the case the address named when last read: a new one opens, an old one is not forced
PATTERNS = {"all patterns": None, "rca": "rca", "release": "release_interception", "inspection": "inspection"}


def render_case(case: CaseRecord) -> None:
    st.subheader(f"Case {case.id}")
    st.caption(plain(case.event.describe()))
    duration = f"{case.duration_ms} ms" if case.duration_ms is not None else "-"
    st.markdown(
        f"**Status** {case.status} · **Skill** {code(skill_label(case))} · **Reasoner** {case.reasoner or '-'} · "
        f"**Duration** {duration}"
    )
    st.caption(
        f"Created {to_rfc3339(case.created_at)} · selection: {plain(case.selection_reason or '-')} · "
        f"data: {plain(data_line(case.bundle_path) if case.bundle_path else 'live sources')}"
    )
    if case.error:
        st.error(plain(f"The investigation failed: {case.error}"))
    if case.verdict is not None:
        render_verdict(case.verdict, case.findings)
    report, findings, corrections = st.tabs(
        ["Report", f"Findings ({len(case.findings)})", f"Corrections ({len(case.corrections)})"]
    )
    with report:
        st.markdown(report_markdown(case.report) if case.report else "_no report_")
    with findings:
        if case.findings:
            st.dataframe(finding_rows(case.findings), hide_index=True, width="stretch")
        else:
            st.write("No findings.")
    with corrections:
        for correction in case.corrections:
            st.markdown(f"- {plain(correction_line(correction, FORM_WORDING.no_index))}")
        if not case.corrections:
            st.write("No corrections yet.")
    render_flash(case.id)
    render_correction_form(case)
    render_refine_panel(case)


st.title("Cases")
pattern_name = st.selectbox("Pattern", list(PATTERNS), key="cases_pattern")
cases = loaded_or_stop("Listing the cases", lambda: backend.list_cases(pattern=PATTERNS[pattern_name]))
if not cases:
    st.info("No cases stored yet: ask a question in the Chat page first." if PATTERNS[pattern_name] is None
            else f"No {pattern_name} cases stored: pick 'all patterns' to see the others.")
    st.stop()
if len(cases) == backend.CASES_SHOWN:  # the list is capped: say so, and how to reach an older case
    st.caption(f"The newest {backend.CASES_SHOWN} cases are listed; older ones: `bianque cases list --limit N` or "
               "`bianque cases show ID`.")
st.dataframe(case_rows(cases), hide_index=True, width="stretch")
by_id = {case.id: case for case in cases}
linked = st.query_params.get(CASE_PARAM)
if linked and linked != st.session_state.get(LINKED_CASE):  # a link to a case (a notification's): open it
    st.session_state[SELECTED_CASE] = st.session_state[LINKED_CASE] = linked
wanted = st.session_state.get(SELECTED_CASE)
if wanted and wanted not in by_id:  # opened from another page (a schedule's run): it may be older than those listed
    try:
        by_id = {wanted: backend.get_case(wanted), **by_id}
    except CaseNotFoundError:  # a mistyped link, or one from another Bian Que's database: said, not swapped silently
        st.warning(plain(f"No case {wanted!r} is stored here (a link from another Bian Que, or a mistyped id): "
                         "the newest case is shown instead."))
    except Exception as exc:  # the database away: the newest case is shown instead, saying why
        log.warning("opening case %s failed", wanted, exc_info=exc)
        st.warning(plain(f"Case {wanted!r} could not be opened ({type(exc).__name__}: {exc}): the newest case is "
                         "shown instead."))
ids = list(by_id)
chosen = st.selectbox(
    "Case", ids, index=ids.index(wanted) if wanted in by_id else 0, format_func=lambda i: case_option(by_id[i])
)
st.session_state[SELECTED_CASE] = st.session_state[LINKED_CASE] = chosen
st.query_params[CASE_PARAM] = chosen  # the address names the case shown: a link to share, a reload keeps it
try:
    render_case(backend.get_case(chosen))
except Exception as exc:
    show_error(f"Loading case {chosen}", exc)
