"""The regression set on the Skills page: which labelled bundles a Skill patch must not break; add, remove."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from agent.evolve.regression import RegressionError
from ui import backend
from ui.formatting import plain

ADD_KEY, REMOVE_KEY = "regression_dir", "regression_registered"


def _add() -> None:
    directory = st.session_state.get(ADD_KEY, "")
    try:
        bundles = backend.regression_add(directory)
    except RegressionError as exc:
        st.session_state["regression_message"] = ("error", str(exc))
        return
    st.session_state["regression_message"] = (
        "success", f"{len(bundles)} labelled bundle(s) under {Path(directory.strip()).expanduser().resolve()} "
        "join the regression set")
    st.session_state[ADD_KEY] = ""


def _remove() -> None:
    directory = st.session_state.get(REMOVE_KEY)
    try:  # a registry that cannot be written is said, not shown as a traceback (a callback is outside the page's try)
        removed = bool(directory) and backend.regression_remove(directory)
    except RegressionError as exc:
        st.session_state["regression_message"] = ("error", str(exc))
        return
    if removed:
        st.session_state["regression_message"] = ("success", f"{directory} left the regression set")
    else:
        st.session_state["regression_message"] = ("error", f"{directory} is not registered")


def render_regression() -> None:
    """Registered directories (or the curated default), their bundles, and the add / remove controls."""
    st.subheader("Regression set")
    st.caption("A refined Skill is accepted only when it fixes a corrected case and breaks none of these "
               "labelled bundles (nor any stored case with a known truth).")
    message = st.session_state.pop("regression_message", None)
    if message:
        (st.success if message[0] == "success" else st.error)(plain(message[1]))
    state = backend.regression_set()
    if state["default"]:
        st.info("Nothing registered: the curated scenarios are the regression set, each for the Skills it selects.")
    else:
        st.markdown("**Registered:**\n" + "\n".join(f"- {plain(str(d))}" for d in state["registered"]))
    for reason in state.get("refused", {}).values():
        st.warning(plain(f"refused now, a refinement's replay stops on it: {reason}"))
    st.dataframe({"bundle": state["bundles"]}, hide_index=True, width="stretch")
    st.text_input("Add a directory of labelled bundles", key=ADD_KEY, placeholder="/path/to/bundles")
    st.button("Add to the regression set", key="regression_add", on_click=_add)
    if state["registered"]:
        st.selectbox("Registered directory", state["registered"], key=REMOVE_KEY)
        st.button("Remove from the regression set", key="regression_remove", on_click=_remove)
