""""Propose a Skill fix" on the Cases page: for a case corrected as wrong, the patch of the Skill that
answered, its replay against the corrected cases and the regression set, and "Apply" when it passed."""

from __future__ import annotations

from typing import Any

import streamlit as st

from agent.memory.records import CaseRecord
from ui import backend
from ui.formatting import friendly_error, plain
from ui.widgets import log, show_error

HELD = "refinement"  # session state: (case id, Refinement) of the last proposal
FLASH = "refinement_flash"
TITLES = {"corrected": "Corrected cases (a fix is wanted)", "regression": "Regression set (must not break)"}


def _key(case_id: str, name: str) -> str:
    return f"refine-{case_id}-{name}"


def _propose(case_id: str) -> None:
    """Run the refinement behind a progress bar and keep it for the page to show."""
    bar = st.progress(0.0, text="Proposing a patch ...")

    def step(at: Any) -> None:
        bar.progress(min(1.0, at.done / at.total) if at.total else 0.0, text=at.message[:160])

    try:
        st.session_state[HELD] = (case_id, backend.propose_fix(case_id, step))
    except Exception as exc:  # shown as a message, never a traceback
        st.session_state.pop(HELD, None)
        show_error("Proposing a Skill fix", exc)
    finally:
        bar.empty()


def _apply(case_id: str) -> None:
    """Button callback: save the held proposal; the outcome is shown on the next run."""
    held = st.session_state.get(HELD)
    if not held or held[0] != case_id:
        return
    author = str(st.session_state.get(_key(case_id, "author")) or "").strip() or None
    try:
        done = backend.apply_fix(held[1], author=author)
    except Exception as exc:
        log.warning("applying the refinement of %s failed", case_id, exc_info=exc)
        st.session_state[FLASH] = ("error", f"Not saved: {friendly_error(exc)}")
        return
    st.session_state[FLASH] = ("success", f"Saved {done.record.name} v{done.record.version} to {done.path}"
                                          f"{done.set_aside_line}")


def _render_search(search: Any) -> None:
    with st.expander(f"Parameter search: {len(search.tried)} candidate change(s) replayed"):
        st.dataframe([{"change": t.describe, "corrected fixed": t.fixed, "broken": t.broken, "gate": t.gate,
                       "kept": t is search.best} for t in search.tried], hide_index=True, width="stretch")


def render_refinement(case_id: str, refinement: Any) -> None:
    """The decision, the patch as a diff, the replay table, what the search tried, and Apply."""
    (st.success if refinement.accepted else st.error)(plain(refinement.reason))
    for note in refinement.notes:
        st.caption(plain(note))
    proposal, report = refinement.proposal, refinement.report
    if proposal is not None:
        st.markdown(f"**Patch** ({proposal.source}, as v{proposal.patched.new_version}): {plain(proposal.summary)}")
        st.markdown("\n".join(f"- {plain(reason)}" for reason in proposal.reasons))
        st.code(proposal.diff, language="diff")
    if report is not None:
        for role, rows in report.rows().items():
            st.markdown(f"**{TITLES[role]}**")
            st.dataframe(rows, hide_index=True, width="stretch")
        for note in report.notes:
            st.caption(plain(note))
    if refinement.search is not None:
        _render_search(refinement.search)
    if refinement.applied is not None:
        return
    st.text_input("Author", key=_key(case_id, "author"))
    st.button("Apply", key=_key(case_id, "apply"), on_click=_apply, args=(case_id,), type="primary",
              disabled=not refinement.accepted, help="Save the patch as the Skill's next version.")


def render_refine_panel(case: CaseRecord) -> None:
    """Only for a case whose latest correction says its answer was wrong."""
    correction = case.latest_correction
    if correction is None or correction.correct:
        return
    st.markdown("**Propose a Skill fix**")
    st.caption("Patches the Skill that answered (rules, else a search of its parameters) and replays it against "
               "its corrected cases and the regression set. Nothing is saved until you apply it.")
    flash = st.session_state.pop(FLASH, None)
    if flash:
        (st.success if flash[0] == "success" else st.error)(plain(flash[1]))
    if st.button("Propose a Skill fix", key=_key(case.id, "propose")):
        _propose(case.id)
    held = st.session_state.get(HELD)
    if held and held[0] == case.id:
        render_refinement(case.id, held[1])
