"""Chat: ask a free-text question; Bian Que routes it, investigates and answers with evidence."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from agent.ask import MAX_QUESTION_CHARS
from agent.phrases import command
from ui import backend
from ui.formatting import plain
from ui.widgets import render_answer, show_error

HISTORY = "chat_history"
LIVE = "Live sources (settings)"
OTHER = "Another bundle directory…"
PREVIEW_CHARS = 200  # how much of a question too long to ask its bubble shows
STOPPED = ("Stopped before it finished: the case is listed on the Cases page as failed (stopped), and "
           "`bianque cases resume` with its id finishes it from the step it stopped at.")


def too_long(length: int) -> str:
    """Why a question of ``length`` characters is not asked, and what to do instead."""
    return (f"Not asked: the question is {length} characters long, and a question takes at most {MAX_QUESTION_CHARS} "
            "(as POST /ask does). Ask it in fewer words; an alert is investigated whole when Alertmanager posts it to "
            f"the service (POST /webhook/alertmanager) or with {command('bianque rca --alert FILE')}.")


def choose_source() -> tuple[Path | None, str, bool]:
    """The sidebar's data-source picker: (bundle or None for live, its label, usable)."""
    scenarios = {p.name: p for p in backend.curated_scenarios()}
    config = backend.settings()
    live_metrics = bool(config.prometheus_url)
    choice = st.sidebar.selectbox(
        "Data source",
        [LIVE, *scenarios, OTHER],
        index=0 if live_metrics or not scenarios else 1,  # no metric source: live answers could not judge anything
        key="chat_source",
        help="A curated scenario bundle from examples/scenarios, any bundle directory, or the live sources.",
    )
    if not live_metrics and choice != LIVE:
        st.sidebar.caption("No metric source configured (BIANQUE_PROMETHEUS_URL): a bundled scenario is the default.")
    if choice == LIVE:
        st.sidebar.caption(f"Live: {backend.metrics_label(config)}; logs and changes from the SQL store.")
        return None, "live sources", True
    if choice == OTHER:
        typed = st.sidebar.text_input("Bundle directory", key="chat_bundle_path", placeholder="/path/to/bundle")
        if not typed.strip():
            st.sidebar.info("Type the path of a case bundle directory (with event.yaml).")
            return None, "", False
        path = Path(typed.strip()).expanduser()
    else:
        path = scenarios[choice]
    info = backend.inspect_bundle(path)
    if info.event is None:
        st.sidebar.error(plain(f"Not a usable bundle: {info.error}"))
        return path, info.name, False
    st.sidebar.caption(plain(f"Event: {info.event.describe()}"))
    return path, f"bundle {info.name}", True


def render_message(message: dict, index: int) -> None:
    with st.chat_message(message["role"]):
        if "answer" in message:
            render_answer(message["answer"], message["source"], key=str(index))
        elif "error" in message:
            st.error(plain(message["error"]), icon=":material/error:")
        else:
            st.markdown(plain(message["content"]))


st.title("Ask Bian Que")
history: list[dict] = st.session_state.setdefault(HISTORY, [])
bundle, source, usable = choose_source()
if st.sidebar.button("Clear chat", disabled=not history):
    history.clear()
    st.rerun()
intro = st.empty()
if not history:
    intro.markdown(
        "Ask about a release, the health of a service or an alert, e.g. *is this canary safe to roll out?*, "
        "*why is the gateway slow?*, *is anything about to go wrong with ranking?*. "
        "Pick a data source in the sidebar."
    )
for number, message in enumerate(history):
    render_message(message, number)

# No ``max_chars``: the browser drops a paste longer than it whole, with no word; a long question is refused below.
question = st.chat_input("Ask about a release, an alert or a service…", disabled=not usable)
if question and len(question) > MAX_QUESTION_CHARS:
    intro.empty()
    history.extend([{"role": "user", "content": f"{question[:PREVIEW_CHARS]}… ({len(question)} characters)"},
                    {"role": "assistant", "error": too_long(len(question))}])
    for number in (len(history) - 2, len(history) - 1):
        render_message(history[number], number)
elif question and question.strip():  # a blank message asks nothing: no bubble, no failed investigation
    intro.empty()
    history.append({"role": "user", "content": question})
    render_message(history[-1], len(history) - 1)
    with st.chat_message("assistant"):
        status = st.status("Investigating…")
        try:
            answer = backend.ask(question, bundle, progress=lambda done, total, item: status.update(
                label=f"Embedding the handbook (first use of this knowledge store): {done}/{total}"),
                on_step=lambda step, steps, what: status.update(label=f"Investigating: {what} ({step}/{steps})…"))
        except Exception as exc:  # any failure becomes a message in the chat, never a traceback
            status.update(label="The investigation failed", state="error")
            history.append({"role": "assistant", "error": show_error("The investigation", exc)})
        except BaseException:  # the page's Stop (or a rerun) between two steps: the case is stored as stopped
            history.append({"role": "assistant", "error": STOPPED})
            raise
        else:
            status.update(label="Investigated", state="complete")
            history.append({"role": "assistant", "answer": answer, "source": source})
            render_answer(answer, source, key=str(len(history) - 1))
