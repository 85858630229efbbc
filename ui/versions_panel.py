"""One Skill's stored versions on the Skills page: the history, and a rollback with its diff shown first."""

from __future__ import annotations

import streamlit as st

from agent.timeparse import to_rfc3339
from ui import backend
from ui.formatting import friendly_error, plain
from ui.widgets import log

FLASH = "rollback_flash"


def _key(name: str, what: str) -> str:
    return f"{what}-{name}"


def _rollback(name: str) -> None:
    version = st.session_state.get(_key(name, "rollback_version"))
    try:
        done = backend.rollback(name, int(version))
    except Exception as exc:
        log.warning("rollback of %s to v%s failed", name, version, exc_info=exc)
        st.session_state[FLASH] = ("error", f"Not rolled back: {friendly_error(exc)}")
        return
    if not done.written:
        from agent.evolve.versions import already_line

        st.session_state[FLASH] = ("success", already_line(name, int(version), done.record))
        return
    st.session_state[FLASH] = ("success", f"{name} v{done.record.version} ({done.record.reason}) written to "
                                          f"{done.path}{done.set_aside_line}")


def render_versions(name: str) -> None:
    """Every stored version of Skill ``name``, and the controls to roll back to one."""
    st.subheader("Versions")
    flash = st.session_state.pop(FLASH, None)
    if flash:
        (st.success if flash[0] == "success" else st.error)(plain(flash[1]))
    history = backend.skill_history(name)
    if not history:
        st.info("No stored versions: Bian Que has never changed this Skill (a version is stored when a "
                "refinement is applied, together with the text it replaced).")
        return
    st.dataframe([{"version": f"v{v.version}", "active": v.active, "reason": v.reason, "author": v.author or "",
                   "saved": to_rfc3339(v.created_at)} for v in history], hide_index=True, width="stretch")
    numbers = [v.version for v in history]
    version = st.selectbox("Roll back to", numbers, index=0, key=_key(name, "rollback_version"),
                           format_func=lambda n: f"v{n}")
    preview = backend.rollback_preview(name, version)
    st.code(preview or "identical to the current text", language="diff")
    st.button(f"Roll back to v{version}", key=_key(name, "rollback"), on_click=_rollback, args=(name,),
              disabled=not preview)
