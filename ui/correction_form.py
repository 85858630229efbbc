"""The correction form of one case: right or wrong, and the truth, through the evolution step."""

from __future__ import annotations

import streamlit as st

from agent.evolve.corrections import Wording
from agent.memory.corrections import NAME_RULE, NOTE_MAX_CHARS
from agent.memory.lines import correction_line
from agent.memory.records import CaseRecord
from agent.phrases import command
from ui import backend
from ui.formatting import friendly_error, plain
from ui.widgets import log

FLASH = "correction_flash"
NOT_STATED = "(not stated)"
ATTENTION = {NOT_STATED: None, "needs attention": True, "no action needed": False}
DECISIONS = [NOT_STATED, "pass", "hold", "block"]
FORM_WORDING = Wording(
    service="'Root-cause service'", root_cause="'Root-cause service' and 'Fault kind'", attention="'Needs attention'",
    no_attention="'no action needed'", decision="a 'Right decision'", right="'Right'", wrong="'Wrong'",
    fault="'Fault kind'", author="'Author'", no_index="'Add to experience knowledge' off",
    as_given="'Service as typed' on",
    forget_case="'Store correction' again with the same values (a repeat: nothing new is stored, the removal is "
                f"tried again), or {command('bianque knowledge forget-case')} {{case_id}}",
)
FLASH_STYLES = {  # kind -> how the outcome is shown
    "success": (st.success, ":material/check_circle:"),
    "info": (st.info, ":material/info:"),
    "warning": (st.warning, ":material/warning:"),
    "error": (st.error, ":material/error:"),
}
HELP = {
    "rca": "Wrong? Give the real root cause (service and fault kind) and/or whether the alert needed attention.",
    "inspection": "Wrong? Give what should have been reported (service and fault kind), or 'no action needed'.",
    "release_interception": "Wrong? Give the decision that was right.",
}


def _key(case_id: str, name: str) -> str:
    return f"correction-{case_id}-{name}"


def _submit(case_id: str) -> None:
    """Form callback: store the correction and leave the outcome for the next run to show."""
    state = st.session_state

    def value(name: str) -> object:
        return state.get(_key(case_id, name))

    text = {name: (str(value(name) or "").strip() or None) for name in ("service", "fault", "author")}
    decision = value("decision")
    try:
        result = backend.correct(
            case_id,
            index=bool(value("index")),
            correct=value("verdict") == "Right",
            service=text["service"],
            fault=text["fault"],
            decision=None if decision in (None, NOT_STATED) else str(decision),
            needs_attention=ATTENTION.get(str(value("attention")), None),
            note=str(value("note") or "").strip(),
            author=text["author"],
            as_given=bool(value("as_given")),
            wording=FORM_WORDING,
        )
    except Exception as exc:  # shown beside the form, never as a traceback
        log.warning("correction of %s failed", case_id, exc_info=exc)
        state[FLASH] = (case_id, "error", f"Correction not stored: {friendly_error(exc)}")
        return
    # the same form again (a second click; or kept out again, to remove the record a store that could not be opened
    # left): nothing new stored, but what it did to the knowledge store is shown; its first note says it was a repeat,
    # which the headline says
    notes = result.notes[1:] if result.repeated else result.notes
    stored = correction_line(result.correction, FORM_WORDING.no_index)
    if result.repeated:
        headline, kind = f"Already stored as {stored}: nothing new stored", "info"
    else:
        headline, kind = f"Stored {stored} — truth: {result.truth.describe()}", "success"
    indexed = f"; indexed as {', '.join(result.indexed)}" if result.indexed else ""
    indexed += f"; removed from knowledge: {', '.join(result.removed)}" if result.removed else ""
    message = headline + indexed + "".join(f"; {note}" for note in notes)  # e.g. stored but not indexed, and why
    state[FLASH] = (case_id, "warning" if notes else kind, message)


def render_flash(case_id: str) -> None:
    """The outcome of the last correction of this case, once."""
    flash = st.session_state.get(FLASH)
    if not flash or flash[0] != case_id:
        return
    del st.session_state[FLASH]
    _, kind, message = flash
    show, icon = FLASH_STYLES.get(kind, FLASH_STYLES["error"])
    show(plain(message), icon=icon)


def render_correction_form(case: CaseRecord) -> None:
    """Only the fields that fit the case's pattern; the evolution step checks the rest."""
    pattern = case.pattern
    with st.form(_key(case.id, "form")):
        st.markdown("**Correct this answer**")
        st.caption(HELP.get(pattern, ""))
        st.radio("The answer was", ["Right", "Wrong"], key=_key(case.id, "verdict"), horizontal=True)
        if pattern == "release_interception":
            st.selectbox("Right decision", DECISIONS, key=_key(case.id, "decision"))
        else:
            left, right = st.columns(2)
            # no max_chars: it would count the blanks around a name, which memory's rule does not (NAME_RULE);
            # the evolution step checks that rule and names the field in the refusal
            left.text_input("Root-cause service", key=_key(case.id, "service"), placeholder="e.g. feature-store",
                            help=NAME_RULE)
            right.text_input("Fault kind", key=_key(case.id, "fault"), placeholder="e.g. slow_dependency",
                             help=NAME_RULE)
            left, right = st.columns(2)
            left.selectbox("Needs attention", list(ATTENTION), key=_key(case.id, "attention"))
            right.checkbox("Service as typed", key=_key(case.id, "as_given"),
                           help="Store the root-cause service as typed though the case never mentions it and one of "
                                "its names is close (refused otherwise as a likely typo): a cause outside its data.")
        st.text_area("Note", key=_key(case.id, "note"), placeholder="What was really going on?",
                     max_chars=NOTE_MAX_CHARS)
        left, right = st.columns(2)
        left.text_input("Author", key=_key(case.id, "author"), help=NAME_RULE)
        right.checkbox(
            "Add to experience knowledge",
            value=True,
            key=_key(case.id, "index"),
            help="Index the corrected case so later investigations can retrieve it. Off: the case stays out of "
                 "experience (distilled notes and the ranking's lessons too).",
        )
        st.form_submit_button("Store correction", on_click=_submit, args=(case.id,), type="primary")
