"""Chat: ask a free-text question; Bian Que routes it, investigates and answers with evidence."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import StopException

from agent.ask import MAX_QUESTION_CHARS
from agent.phrases import command
from ui import backend
from ui.formatting import plain
from ui.widgets import loaded_or_stop, open_case_button, render_answer, show_error

if TYPE_CHECKING:
    from agent.memory import CaseRecord

HISTORY = "chat_history"
LIVE = "Live sources (settings)"
OTHER = "Another bundle directory…"
PREVIEW_CHARS = 200  # how much of a question too long to ask its bubble shows
ASKED = "asked"  # the query parameter naming the thread of the question being investigated: a reload keeps it
THREAD_ID = re.compile(r"[0-9a-f]{32}")  # what ``ASKED`` holds: ``uuid4().hex``
REASK = "chat_reask"  # a question to ask again (the case a reload stopped), with its bundle
PAGE_CLOSED = "the page was stopped, reloaded or closed"
STOPPED = ("Stopped before it finished: the case is listed on the Cases page as failed (stopped), and "
           f"{command('bianque cases resume')} with its id finishes it from the step it stopped at.")


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


class PageClosed(StopException):
    """Streamlit stopped the script mid-investigation: the page's Stop, a reload or a closed tab (one signal)."""


def step_shown(status: object) -> object:
    """``on_step`` for an investigation: the status box names the step; a stop the page raises says it is the page's."""
    def on_step(step: int, steps: int, what: str) -> None:
        try:
            status.update(label=f"Investigating: {what} ({step}/{steps})…")  # type: ignore[attr-defined]
        except StopException as exc:
            raise PageClosed(PAGE_CLOSED) from exc
    return on_step


def interrupted(case: CaseRecord) -> str:
    """What became of the question a reload (or a closed tab) took the page away from."""
    asked = f"The question asked before the page was reloaded ({case.event.question or case.event.describe()}) "
    if case.status == "running":
        return (asked + f"is case {case.id}, still running: it stops at the end of its current step and is stored as "
                "failed (stopped). Ask it again below.")
    if case.status == "done":
        return asked + f"finished as case {case.id}: open it in Cases."
    return (asked + f"was stopped with the page: case {case.id} is stored as failed ({case.error}). Ask it again, or "
            f"finish it from the step it stopped at with {command('bianque cases resume')} and its id.")


def pick_up_interrupted(history: list[dict]) -> None:
    """A page opened on an address naming a question's thread (a reload mid-investigation): the chat links its case."""
    thread = st.query_params.get(ASKED)
    if thread is None:
        return
    del st.query_params[ASKED]
    if history or not THREAD_ID.fullmatch(thread):  # the same session (the chat said it), or not an id this page gave
        return
    case = loaded_or_stop("Finding the interrupted question's case", lambda: backend.case_of_thread(thread))
    if case is not None:
        history.append({"role": "assistant", "interrupted": case.id, "content": interrupted(case),
                        "question": case.event.question, "bundle": case.bundle_path})


def _ask_again(question: str, bundle: str | None) -> None:
    st.session_state[REASK] = (question, bundle)


def render_interrupted(message: dict, index: int) -> None:
    st.warning(plain(message["content"]), icon=":material/restart_alt:")
    left, right = st.columns(2)
    with left:
        open_case_button(message["interrupted"], key=f"open-{index}")
    if message.get("question"):
        right.button("Ask again", key=f"reask-{index}", on_click=_ask_again,
                     args=(message["question"], message["bundle"]))


def render_message(message: dict, index: int) -> None:
    with st.chat_message(message["role"]):
        if "interrupted" in message:
            render_interrupted(message, index)
        elif "answer" in message:
            render_answer(message["answer"], message["source"], key=str(index))
        elif "error" in message:
            st.error(plain(message["error"]), icon=":material/error:")
        else:
            st.markdown(plain(message["content"]))


def investigate(question: str, bundle: Path | None, source: str, history: list[dict]) -> None:
    """Ask ``question`` and add the answer (or why there is none) to the chat; the address names its thread while
    it runs, so a page reloaded meanwhile finds its case (:func:`pick_up_interrupted`)."""
    history.append({"role": "user", "content": question})
    render_message(history[-1], len(history) - 1)
    thread = uuid.uuid4().hex
    st.query_params[ASKED] = thread
    with st.chat_message("assistant"):
        status = st.status("Investigating…")
        try:
            answer = backend.ask(question, bundle, progress=lambda done, total, item: status.update(
                label=f"Embedding the handbook (first use of this knowledge store): {done}/{total}"),
                on_step=step_shown(status), thread_id=thread)
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
    del st.query_params[ASKED]


st.title("Ask Bian Que")
history: list[dict] = st.session_state.setdefault(HISTORY, [])
pick_up_interrupted(history)
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
    investigate(question, bundle, source, history)
elif REASK in st.session_state:  # *Ask again* under a question a reload stopped: its own bundle, or the live sources
    intro.empty()
    asked, path = st.session_state.pop(REASK)
    investigate(asked, Path(path) if path else None, f"bundle {Path(path).name}" if path else "live sources", history)
