"""Bian Que's Streamlit app: ``streamlit run ui/app.py`` (or ``bianque ui``).

A thin face over the library: every page calls :mod:`ui.backend`, which calls the agent.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # ``streamlit run`` puts only ui/ on the path; the pages import ``ui.*``
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from ui import backend  # noqa: E402
from ui.formatting import code, friendly_error, plain  # noqa: E402
from ui.widgets import log  # noqa: E402

PAGES = [
    st.Page("views/chat.py", title="Chat", icon=":material/chat:", default=True),
    st.Page("views/cases.py", title="Cases", icon=":material/folder_open:"),
    st.Page("views/skills.py", title="Skills", icon=":material/extension:"),
    st.Page("views/schedules.py", title="Schedules", icon=":material/schedule:"),
]


def render_sidebar() -> bool:
    """Which reasoner answers and where the state lives; False (and why, on the page) when the settings are bad."""
    try:
        config = backend.settings()
    except Exception as exc:  # a bad BIANQUE_* variable or .env line: every page needs the settings
        log.warning("reading the settings failed", exc_info=exc)
        st.error(plain(f"Reading the settings (BIANQUE_* variables and .env) failed: {friendly_error(exc)}"),
                 icon=":material/error:")
        return False
    with st.sidebar:
        st.markdown("### Bian Que")
        st.caption(f"Reasoner: {backend.reasoner_label(config)}")
        st.caption(f"Data home: {code(str(config.home))}")
        st.caption(f"Metrics: {backend.metrics_label(config)}")
        st.caption(plain(f"Notifications: {backend.notifications_label(config)}"))
    return True


st.set_page_config(page_title="Bian Que", page_icon=":material/health_and_safety:", layout="wide")
page = st.navigation(PAGES)
if render_sidebar():
    page.run()
