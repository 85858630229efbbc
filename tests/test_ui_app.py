"""The Streamlit app through Streamlit's AppTest: pages render, the chat answers from a curated bundle,
cases are listed and corrections are stored in memory."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from agent.ask import MAX_QUESTION_CHARS
from agent.bundles.reader import load_bundle
from agent.config import PROJECT_ROOT, get_settings
from agent.investigate import investigate
from agent.memory import Memory
from agent.memory.corrections import NAME_MAX_CHARS
from agent.runtime import bundle_toolkit

APP = PROJECT_ROOT / "ui" / "app.py"
SCENARIOS = PROJECT_ROOT / "examples" / "scenarios"
# The first investigation loads the embedding model and ingests the handbook.
TIMEOUT_S = 300

pytestmark = pytest.mark.usefixtures("fresh_resources")  # tests/conftest.py


def app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)


def texts(at: AppTest) -> str:
    """Every markdown, caption, error, success and info text of the page, joined."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [s.value for s in at.success] + [i.value for i in at.info]
    return "\n".join(parts)


def shown(markdown: str) -> str:
    """What a markdown renderer shows for text escaped with ``ui.formatting.plain``."""
    return re.sub(r"\\(.)", r"\1", markdown)


def seed_case(name: str) -> str:
    """Investigate a curated bundle without the knowledge store (fast) and return the stored case id."""
    path = SCENARIOS / name
    bundle = load_bundle(path)
    with Memory() as memory:
        toolkit = bundle_toolkit(bundle, get_settings(), memory=memory)
        result = investigate(bundle.event, toolkit, bundle_path=str(path))
    assert result.case_id
    return result.case_id


def open_cases(at: AppTest) -> AppTest:
    at.run()
    return at.switch_page("views/cases.py").run()


def ask_about(bundle: Path, question: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The chat asked ``question`` about the bundle directory ``bundle`` (chosen in the sidebar), without the
    knowledge store (no handbook: fast)."""
    monkeypatch.setattr("agent.runtime.open_knowledge", lambda settings, **_: None)
    at = app().run()
    at.sidebar.selectbox(key="chat_source").set_value("Another bundle directory…").run()
    at.sidebar.text_input(key="chat_bundle_path").set_value(str(bundle)).run()
    return at.chat_input[0].set_value(question).run()


def test_every_page_renders_without_exception():
    at = app().run()
    assert not at.exception
    assert "offline evidence reasoner" in texts(at)
    assert get_settings().home.name in texts(at)
    assert at.chat_input[0].disabled is False  # live sources are the default data source

    at.switch_page("views/cases.py").run()
    assert not at.exception
    assert "No cases stored yet" in texts(at)

    at.switch_page("views/skills.py").run()
    assert not at.exception
    names = list(at.dataframe[0].value["name"])
    assert "serving-canary-release" in names and "generic-rca" in names
    assert at.selectbox(key="skills_shown").value == sorted(names)[0]
    at.selectbox(key="skills_shown").set_value("serving-canary-release").run()
    assert "name: serving-canary-release" in at.code[0].value


def test_skills_page_lists_a_broken_file_with_its_error(bianque_home):
    user_skills = bianque_home / "skills"
    user_skills.mkdir(parents=True)
    (user_skills / "broken.yaml").write_text("name: broken\npattern: not-a-pattern\n")
    at = app().run()
    at.switch_page("views/skills.py").run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "broken.yaml" in errors and "pattern" in errors


def test_chat_answers_from_a_curated_bundle_and_the_case_is_listed():
    at = app().run()
    at.sidebar.selectbox(key="chat_source").set_value("release-bad-canary").run()
    assert "canary-25" in texts(at)  # the sidebar describes the bundle's event
    at.chat_input[0].set_value("is this canary safe to roll out?").run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    [status] = at.status  # each step was shown as it ran; the box ends complete
    assert (status.label, status.state) == ("Investigated", "complete")
    page = texts(at)
    assert ":red-badge[Decision: BLOCK]" in page
    assert "Root causes" in page and list(at.dataframe[0].value["service"]) == ["recommendation"]
    history = at.session_state["chat_history"]
    assert [m["role"] for m in history] == ["user", "assistant"]
    case_id = history[1]["answer"].result.case_id
    assert case_id and f"`{case_id}`" in page

    at.button(key="open-1").click().run()  # "Open in Cases" switches page and selects the case
    assert not at.exception
    assert case_id in list(at.dataframe[0].value["id"])
    assert at.selectbox[1].value == case_id
    assert f"Case {case_id}" in [h.value for h in at.subheader]
    with Memory() as memory:
        assert memory.get_case(case_id).verdict.decision == "block"


def test_a_bundle_path_that_does_not_exist_is_refused_in_the_sidebar(tmp_path):
    at = app().run()
    at.sidebar.selectbox(key="chat_source").set_value("Another bundle directory…").run()
    assert at.chat_input[0].disabled  # nothing typed yet
    at.sidebar.text_input(key="chat_bundle_path").set_value(str(tmp_path / "nowhere")).run()
    assert not at.exception
    assert "does not exist" in " ".join(e.value for e in at.sidebar.error)
    assert at.chat_input[0].disabled


def test_an_investigation_failure_is_shown_as_a_message(tmp_path, monkeypatch):
    """A bundle whose event is fine but whose metrics file is not: the error names the file and line."""
    bundle = tmp_path / "bad-bundle"
    bundle.mkdir()
    (bundle / "event.yaml").write_text((SCENARIOS / "release-bad-canary" / "event.yaml").read_text())
    (bundle / "metrics.csv").write_text("timestamp,metric,service,value\n1776783420,up,gateway,not-a-number\n")
    at = ask_about(bundle, "is this canary safe?", monkeypatch)
    assert not at.exception
    message = shown(" ".join(e.value for e in at.error))
    assert message.startswith("The investigation failed:") and f"{bundle}/metrics.csv:2" in message
    assert "Traceback" not in message
    assert at.session_state["chat_history"][-1]["error"] == message


def test_a_stopped_investigation_says_so_in_the_chat(monkeypatch):
    """The page's Stop raises between two steps (from the status update): the chat keeps the question and says
    where the stopped case went."""
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException

    def stopped(_question, _bundle, *, progress, on_step, thread_id):
        on_step(1, 7, "reading the event")
        raise StopException

    monkeypatch.setattr("ui.backend.ask", stopped)
    at = app().run()
    at.sidebar.selectbox(key="chat_source").set_value("release-bad-canary").run()
    at.chat_input[0].set_value("is this canary safe to roll out?").run()
    assert not at.exception
    at.run()
    assert [m["role"] for m in at.session_state["chat_history"]] == ["user", "assistant"]
    assert "Stopped before it finished" in shown(" ".join(e.value for e in at.error))
    assert "and `bianque cases resume` with its id" in at.error[0].value  # rendered as code, not escaped backticks


def test_a_reloaded_page_links_the_question_the_reload_stopped(monkeypatch):
    """A reload (or a closed tab) makes Streamlit raise StopException from the page's next call, the status update
    between two steps: the case says the page stopped it, and the fresh page (a new session, the same address)
    links that case and asks its question again."""
    from streamlit.elements.lib.mutable_status_container import StatusContainer
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException

    update = StatusContainer.update

    def closed(self, *, label=None, **kwargs):
        if label and label.startswith("Investigating: "):
            raise StopException
        return update(self, label=label, **kwargs)

    monkeypatch.setattr("agent.runtime.open_knowledge", lambda settings, **_: None)
    monkeypatch.setattr(StatusContainer, "update", closed)
    at = app().run()
    at.sidebar.selectbox(key="chat_source").set_value("release-bad-canary").run()
    at.chat_input[0].set_value("is this canary safe to roll out?").run()
    thread = at.query_params["asked"]  # the address the reload keeps
    with Memory() as memory:
        case = memory.case_of_thread(thread)
    assert (case.status, case.error) == ("failed", "stopped before it finished (the page was stopped, reloaded or "
                                                   "closed)")
    monkeypatch.setattr(StatusContainer, "update", update)
    fresh = app()
    fresh.query_params["asked"] = thread
    fresh.run()
    assert not fresh.exception
    [message] = fresh.session_state["chat_history"]
    assert message["interrupted"] == case.id
    warning = shown(" ".join(w.value for w in fresh.warning))
    assert f"(is this canary safe to roll out?) was stopped with the page: case {case.id}" in warning
    assert "(the page was stopped, reloaded or closed)" in warning and "`bianque cases resume`" in warning
    assert "asked" not in fresh.query_params
    fresh.button(key="reask-0").click().run()
    assert not fresh.exception
    assert ":red-badge[Decision: BLOCK]" in texts(fresh)
    assert [m["role"] for m in fresh.session_state["chat_history"]] == ["assistant", "user", "assistant"]


@pytest.mark.parametrize(("asked", "looked_up"), [("0" * 32, True), ("nosuch", False), ("a\x00b", False),
                                                ("x" * 5000, False)])
def test_an_address_naming_no_question_of_this_page_opens_the_chat_as_it_is(asked, looked_up, monkeypatch):
    """`?asked=` is anyone's text (a link): one that is no thread id this page gives is not even looked up (a NUL
    is an error on PostgreSQL), one without a case is dropped."""
    import ui.backend

    looked: list[str] = []
    lookup = ui.backend.case_of_thread
    monkeypatch.setattr(ui.backend, "case_of_thread", lambda thread: looked.append(thread) or lookup(thread))
    at = app()
    at.query_params["asked"] = asked
    at.run()
    assert not at.exception and not at.error and not at.warning
    assert at.session_state["chat_history"] == [] and "asked" not in at.query_params
    assert looked == ([asked] if looked_up else [])


def test_a_correction_is_stored_and_shown():
    case_id = seed_case("rca-cache-failure")
    with Memory() as memory:
        said = {(c.service, c.fault) for c in memory.get_case(case_id).verdict.root_causes[:1]}
    assert ("cache", "memory_leak") not in said  # the truth below must contradict the verdict
    at = open_cases(app())
    assert not at.exception
    assert list(at.dataframe[0].value["id"]) == [case_id]
    assert at.text_area(key=f"correction-{case_id}-note").max_chars == 4000
    at.radio(key=f"correction-{case_id}-verdict").set_value("Wrong")
    at.text_input(key=f"correction-{case_id}-service").set_value("cache")
    at.text_input(key=f"correction-{case_id}-fault").set_value("memory_leak")
    at.selectbox(key=f"correction-{case_id}-attention").set_value("needs attention")
    at.text_area(key=f"correction-{case_id}-note").set_value("the cache hit ratio collapsed first")
    at.text_input(key=f"correction-{case_id}-author").set_value("oncall")
    at.form_submit_button[0].click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    success = shown(" ".join(s.value for s in at.success))
    assert "root cause cache/memory_leak" in success and f"case-{case_id}" in success  # indexed as experience
    with Memory() as memory:
        (stored,) = memory.corrections_for(case_id)
    assert (stored.correct, stored.root_cause_service, stored.root_cause_fault) == (False, "cache", "memory_leak")
    assert (stored.needs_attention, stored.author) == (True, "oncall")
    assert "the cache hit ratio collapsed first" in texts(at)  # the Corrections tab shows it
    assert at.dataframe[0].value["status"][0] == "done ✗"
    at.radio(key=f"correction-{case_id}-verdict").set_value("Wrong")  # the same correction again: a double submit
    at.text_input(key=f"correction-{case_id}-service").set_value("cache")
    at.text_input(key=f"correction-{case_id}-fault").set_value("memory_leak")
    at.selectbox(key=f"correction-{case_id}-attention").set_value("needs attention")
    at.text_area(key=f"correction-{case_id}-note").set_value("the cache hit ratio collapsed first")
    at.form_submit_button[0].click().run()
    assert not at.exception and not at.error and not at.success
    assert "Already stored as #1" in " ".join(i.value for i in at.info)
    with Memory() as memory:
        assert len(memory.corrections_for(case_id)) == 1


def test_names_are_measured_as_memory_measures_them_and_refused_in_the_forms_words():
    case_id = seed_case("rca-cache-failure")
    at = open_cases(app())
    names = {name: at.text_input(key=f"correction-{case_id}-{name}") for name in ("service", "fault", "author")}
    # a cap on typed characters would count the blanks around a name, which memory does not store or count
    assert all(not box.max_chars and "not counting blanks" in box.help for box in names.values())  # 0: no cap

    def submit(author: str) -> None:
        at.radio(key=f"correction-{case_id}-verdict").set_value("Wrong")
        at.text_input(key=f"correction-{case_id}-service").set_value("cache")
        at.text_input(key=f"correction-{case_id}-fault").set_value("memory_leak")
        at.text_input(key=f"correction-{case_id}-author").set_value(author)
        at.checkbox(key=f"correction-{case_id}-index").uncheck()
        at.form_submit_button[0].click().run()

    submit("a" * (NAME_MAX_CHARS + 1))
    message = shown(" ".join(e.value for e in at.error))
    assert f"'Author': at most {NAME_MAX_CHARS} characters, got {NAME_MAX_CHARS + 1}" in message
    assert "author:" not in message  # the form's label, not memory's field
    with Memory() as memory:
        assert memory.corrections_for(case_id) == []
    submit("  " + "a" * NAME_MAX_CHARS + " ")  # memory takes it: the blanks around it are not stored
    assert not at.exception and not at.error, [e.value for e in at.error]
    with Memory() as memory:
        assert [c.author for c in memory.corrections_for(case_id)] == ["a" * NAME_MAX_CHARS]


def test_a_correction_that_does_not_fit_is_refused_with_the_reason():
    case_id = seed_case("release-bad-canary")
    at = open_cases(app())
    at.radio(key=f"correction-{case_id}-verdict").set_value("Wrong")
    at.form_submit_button[0].click().run()
    assert not at.exception
    message = shown(" ".join(e.value for e in at.error))
    assert message.startswith("Correction not stored:") and "needs the truth" in message
    assert "'Right decision'" in message and "--decision" not in message  # the form's words, not CLI flags
    with Memory() as memory:
        assert memory.corrections_for(case_id) == []


def wrong_answer_corrected(case_id: str, service: str, fault: str) -> tuple[AppTest, str]:
    """The Cases page after "Wrong" with ``service`` and ``fault`` was submitted for the case, and its error text."""
    at = open_cases(app())
    at.radio(key=f"correction-{case_id}-verdict").set_value("Wrong")
    at.text_input(key=f"correction-{case_id}-service").set_value(service)
    at.text_input(key=f"correction-{case_id}-fault").set_value(fault)
    at.form_submit_button[0].click().run()
    return at, shown(" ".join(e.value for e in at.error))


def test_a_bad_fault_kind_is_refused_in_the_forms_words():
    _at, message = wrong_answer_corrected(seed_case("rca-cache-failure"), "cache", "Memory Leak")
    assert "'Fault kind': 'Memory Leak' is not a fault kind" in message and "--fault" not in message


def test_a_likely_typo_of_a_service_is_refused_unless_taken_as_typed():
    case_id = seed_case("rca-cache-failure")
    at, message = wrong_answer_corrected(case_id, "cach", "cache_failure")
    assert "did you mean 'cache'? Give that name, or 'Service as typed' on to store it as given" in message
    with Memory() as memory:
        assert memory.corrections_for(case_id) == []
    at.checkbox(key=f"correction-{case_id}-as_given").check()
    at.form_submit_button[0].click().run()
    assert not at.exception
    with Memory() as memory:
        assert [c.root_cause_service for c in memory.corrections_for(case_id)] == ["cach"]


def test_a_release_correction_offers_only_the_decision():
    case_id = seed_case("release-bad-canary")
    at = open_cases(app())
    keys = {w.key for w in (*at.text_input, *at.selectbox) if w.key}
    assert f"correction-{case_id}-decision" in keys
    assert f"correction-{case_id}-service" not in keys
    at.radio(key=f"correction-{case_id}-verdict").set_value("Wrong")
    at.selectbox(key=f"correction-{case_id}-decision").set_value("hold")
    at.checkbox(key=f"correction-{case_id}-index").uncheck()
    at.form_submit_button[0].click().run()
    assert not at.exception and not at.error
    with Memory() as memory:
        (stored,) = memory.corrections_for(case_id)
    assert (stored.correct, stored.decision) == (False, "hold")
    assert "indexed" not in " ".join(s.value for s in at.success)


HOSTILE = "p99 $5 ![pix](http://x.test/t.png) [go](javascript:x) <b>b</b> :red[R] `c`"


def test_alert_annotations_and_verdicts_are_shown_as_text_not_markup(tmp_path, monkeypatch):
    """An alert's summary annotation (sidebar, question, Cases page) and a verdict naming metric globs
    (``*[Ll]atency*``) are shown as written: no image fetched, no link, no emphasis eating the asterisks."""
    bundle = shutil.copytree(SCENARIOS / "rca-slow-dependency", tmp_path / "hostile")
    event = bundle / "event.yaml"
    event.write_text(event.read_text().replace("summary: gateway p99 latency above 280ms", f"summary: '{HOSTILE}'"))
    at = ask_about(bundle, f"why? {HOSTILE}", monkeypatch)
    assert not at.exception
    (caption,) = [c.value for c in at.sidebar.caption if "GatewayP99LatencyHigh" in c.value]
    assert "![pix](" not in caption and HOSTILE in shown(caption)
    assert shown(at.markdown[0].value) == f"why? {HOSTILE}" and "<b>" not in at.markdown[0].value

    at.switch_page("views/cases.py").run()
    (described,) = [c.value for c in at.caption if "pix" in c.value]
    assert "![pix](" not in described and HOSTILE in shown(described)


def test_without_a_metric_source_a_bundled_scenario_is_the_default(monkeypatch):
    at = app().run()
    first = at.sidebar.selectbox(key="chat_source")
    assert first.value == first.options[1] != "Live sources (settings)"  # live would judge nothing
    assert any("No metric source configured" in c.value for c in at.sidebar.caption)
    monkeypatch.setenv("BIANQUE_PROMETHEUS_URL", "http://127.0.0.1:9090")
    get_settings.cache_clear()
    configured = app().run()
    assert configured.sidebar.selectbox(key="chat_source").value == "Live sources (settings)"


def test_a_verdict_naming_metric_globs_keeps_its_asterisks(tmp_path, monkeypatch):
    """A service with no data of the generic Skill's metrics: the summary lists the Skill's globs (``*[Ll]atency*``)."""
    bundle = tmp_path / "no-data"
    bundle.mkdir()
    (bundle / "event.yaml").write_text(
        "pattern: rca\ntime: 2026-03-02T10:15:00Z\nservice: checkout-api\n"
        "alert: {labels: {alertname: CheckoutSlow, service: checkout-api}, startsAt: 2026-03-02T10:14:00Z}\n")
    (bundle / "metrics.csv").write_text("timestamp,metric,service,value\n")
    at = ask_about(bundle, "why is checkout slow?", monkeypatch)
    assert not at.exception
    verdict = at.session_state["chat_history"][-1]["answer"].result.verdict
    assert "*[Ll]atency*" in verdict.summary
    (summary,) = [m.value for m in at.markdown if "Could not judge" in m.value and m.value.startswith("**")]
    assert shown(summary) == f"**{verdict.summary}**" and "*[" not in summary  # each glob's asterisk escaped


def test_submitting_the_same_correction_twice_stores_it_once():
    case_id = seed_case("release-bad-canary")
    at = open_cases(app())
    at.radio(key=f"correction-{case_id}-verdict").set_value("Wrong")
    at.selectbox(key=f"correction-{case_id}-decision").set_value("hold")
    at.checkbox(key=f"correction-{case_id}-index").uncheck()
    at.form_submit_button[0].click().run()
    assert "Stored #1" in shown(" ".join(s.value for s in at.success))
    at.form_submit_button[0].click().run()  # the form still holds the same values
    assert not at.exception and not at.error and not at.success
    assert "Already stored as #1" in shown(" ".join(i.value for i in at.info))
    with Memory() as memory:
        assert [c.id for c in memory.corrections_for(case_id)] == [1]

    at.text_area(key=f"correction-{case_id}-note").set_value("the canary's p99 doubled")
    at.form_submit_button[0].click().run()  # something new to say: stored
    assert "Stored #2" in shown(" ".join(s.value for s in at.success))
    with Memory() as memory:
        assert [c.note for c in memory.corrections_for(case_id)] == ["", "the canary's p99 doubled"]


def test_a_correction_stored_but_not_indexed_says_so(monkeypatch):
    case_id = seed_case("release-bad-canary")

    def broken_index(*args, **kwargs):
        raise RuntimeError("knowledge store unavailable")

    monkeypatch.setattr("agent.runtime.open_knowledge", lambda settings, ingest=False: object())
    monkeypatch.setattr("agent.evolve.casebase.index_case", broken_index)
    at = open_cases(app())
    at.radio(key=f"correction-{case_id}-verdict").set_value("Wrong")
    at.selectbox(key=f"correction-{case_id}-decision").set_value("hold")
    at.form_submit_button[0].click().run()  # 'Add to experience knowledge' is on
    assert not at.exception and not at.error and not at.success
    warning = shown(" ".join(w.value for w in at.warning))
    assert "Stored #1" in warning and "not indexed" in warning and "knowledge store unavailable" in warning
    with Memory() as memory:
        assert len(memory.corrections_for(case_id)) == 1


def test_a_blank_message_asks_nothing():
    at = app().run()
    at.chat_input[0].set_value("   \n").run()
    assert not at.exception and not at.error
    assert at.session_state["chat_history"] == []  # no empty bubble, no "the question is empty" failure


def test_a_question_longer_than_the_api_takes_is_refused_saying_so_not_dropped(monkeypatch):
    """The box has no ``max_chars``: with one, the browser dropped a longer paste (a whole alert's JSON) whole and said
    nothing. The page refuses it, naming its length and POST /ask's limit, and asks nothing."""
    monkeypatch.setattr("ui.backend.ask", lambda *a, **k: pytest.fail("a question too long was asked"))
    at = app().run()
    assert at.chat_input[0].proto.max_chars == 0
    at.chat_input[0].set_value("why is gateway slow? " + "x" * MAX_QUESTION_CHARS).run()
    assert not at.exception
    refusal = shown(" ".join(e.value for e in at.error))
    assert refusal.startswith(f"Not asked: the question is {MAX_QUESTION_CHARS + 21} characters long")
    assert "at most 4000 (as POST /ask does)" in refusal
    assert [m["role"] for m in at.session_state["chat_history"]] == ["user", "assistant"]
    assert at.session_state["chat_history"][0]["content"].startswith("why is gateway slow? xxx")


def test_a_question_asking_what_changed_and_for_the_logs_shows_them_first(monkeypatch):
    """On the live sources (no metric server here: the verdict cannot judge), the change store's lines answer it."""
    import time

    from agent.config import get_settings
    from agent.series import LogRecord
    from agent.sources.sqlstore import ObservabilityStore
    from tests.test_ask_routing import store_changes

    store_changes([("deploy-7", "ranking", time.time() - 900)])
    ObservabilityStore(get_settings().resolved_observability_url).ingest_logs(
        [LogRecord(time.time() - 60, "ranking", "ERROR", "upstream failed ![x](http://evil.example/x.png)")])
    monkeypatch.setattr("agent.runtime.open_knowledge", lambda settings, **_: None)
    at = app().run()
    at.sidebar.selectbox(key="chat_source").set_value("Live sources (settings)").run()
    at.chat_input[0].set_value("what changed in the last hour? and show me the logs").run()
    assert not at.exception
    listed = next(shown(m.value) for m in at.markdown if "Changes logged" in m.value)
    assert listed.startswith("**Changes logged in the last 60m (every service)**\n- ")
    assert listed.endswith("ranking: deploy deploy-7 (roll out ranking)")
    logs = next(m.value for m in at.markdown if m.value.startswith("**Newest WARN/ERROR/FATAL log lines"))
    assert shown(logs).endswith("ranking ERROR: upstream failed ![x](http://evil.example/x.png)")
    assert "![x](" not in logs  # escaped: shown as text, never an image


def test_a_pattern_filter_that_hides_every_case_does_not_say_none_are_stored():
    seed_case("release-bad-canary")
    at = open_cases(app())
    at.selectbox(key="cases_pattern").set_value("inspection").run()
    assert not at.exception
    (info,) = [i.value for i in at.info]
    assert "No inspection cases stored" in info and "No cases stored yet" not in info


def test_a_capped_case_list_says_so(monkeypatch):
    """Only the newest 200 cases are listed: the page had said nothing of the older ones."""
    from ui import backend

    seed_case("release-bad-canary")
    seed_case("rca-slow-dependency")
    at = open_cases(app())
    assert not [c for c in at.caption if "cases are listed" in c.value]  # two of 200: nothing to say
    monkeypatch.setattr(backend, "CASES_SHOWN", 2)
    at = open_cases(app())
    assert not at.exception
    assert any("The newest 2 cases are listed" in c.value for c in at.caption)


def test_the_skills_page_shows_directory_and_file_paths_as_written(bianque_home, monkeypatch):
    """A path is the user's text: `team_*ops*_skills` shows as written, neither italic nor bold."""
    from ui.formatting import plain

    user_skills = bianque_home / "team_*ops*_skills"
    user_skills.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "skills" / "disk-full-rca.yaml", user_skills / "disk-full-rca.yaml")
    monkeypatch.setenv("BIANQUE_USER_SKILLS_DIR", str(user_skills))
    get_settings.cache_clear()
    at = app().run()
    at.switch_page("views/skills.py").run()
    assert not at.exception
    captions = [c.value for c in at.caption]
    assert any(plain(str(user_skills)) in c and c.startswith("Directories") for c in captions)
    [override] = [c for c in captions if " overrides " in c]
    assert override.startswith(f"`disk-full-rca`: {plain(str(user_skills / 'disk-full-rca.yaml'))} overrides ")
    at.selectbox(key="skills_shown").set_value("disk-full-rca").run()
    assert f"· `{user_skills / 'disk-full-rca.yaml'}`" in texts(at)


def test_the_skills_page_reports_an_unreachable_database_without_a_traceback(monkeypatch):
    monkeypatch.setenv("BIANQUE_DATABASE_URL", "postgresql+psycopg://u:p@127.0.0.1:1/db")  # refused on loopback
    get_settings.cache_clear()
    at = app().run()
    at.switch_page("views/skills.py").run()
    assert not at.exception
    assert "serving-canary-release" in list(at.dataframe[0].value["name"])  # the library is still shown
    message = shown(" ".join(e.value for e in at.error))
    assert message.startswith("Reading the stored versions of") and "cannot open database" in message
    assert "u:p@" not in message  # the password stays hidden


@pytest.mark.parametrize(("opened", "said"), [
    (False, "cannot open database 'memory' on 127.0.0.1:{port} (user bianque): connection refused: nothing listens "
            "there"),
    (True, "database 'memory' on 127.0.0.1:{port} (user bianque) did not answer: connection refused: nothing listens "
           "there"),
])
def test_a_database_that_cannot_be_used_is_named_on_one_line_and_the_page_stops(monkeypatch, caplog, opened, said):
    """Opened, or gone since it was opened (the UI keeps its memory open for the process): the latter was SQLAlchemy's
    OperationalError, shown as "unexpected OperationalError: (psycopg.OperationalError) connection failed: …", where
    the CLI and the API name the database, its host:port and user, and why; either was logged with its traceback."""
    from agent.memory.db import make_engine
    from tests.test_cli_errors import unreachable_postgres_url

    url, port = unreachable_postgres_url()
    monkeypatch.setenv("BIANQUE_DATABASE_URL", url)
    get_settings.cache_clear()
    if opened:  # while it answered: make_engine connects at the first query
        monkeypatch.setattr("ui.backend.Memory", lambda url: Memory(engine=make_engine(url)))
    at = open_cases(app())
    assert not at.exception
    assert [shown(e.value) for e in at.error] == [f"Listing the cases failed: {said.format(port=port)}"]
    assert not at.dataframe and [box.key for box in at.selectbox] == ["cases_pattern"]  # stopped after the message
    [logged] = [r for r in caplog.records if r.name == "bianque.ui"]
    assert logged.exc_info is None and "s3cr3tpw" not in caplog.text


def test_a_bad_setting_is_named_on_the_page_not_raised(monkeypatch):
    monkeypatch.setenv("BIANQUE_MAX_QUERY_POINTS", "lots")
    get_settings.cache_clear()
    at = app().run()
    assert not at.exception
    (message,) = [shown(e.value) for e in at.error]
    assert "BIANQUE_MAX_QUERY_POINTS: Input should be a valid integer" in message and "(got 'lots')" in message
    assert not at.chat_input  # no page runs on settings it cannot read


def test_a_case_kept_out_of_experience_is_removed_from_the_knowledge_store():
    """Indexed by a first correction, then kept out (the box unticked): its record no longer answers similar-case
    retrieval."""
    from agent.runtime import open_knowledge

    case_id = seed_case("release-bad-canary")
    at = open_cases(app())
    at.radio(key=f"correction-{case_id}-verdict").set_value("Wrong")
    at.selectbox(key=f"correction-{case_id}-decision").set_value("hold")
    at.form_submit_button[0].click().run()  # 'Add to experience knowledge' is on
    assert f"indexed as case-{case_id}" in shown(" ".join(s.value for s in at.success))
    at.checkbox(key=f"correction-{case_id}-index").uncheck()
    at.form_submit_button[0].click().run()  # the same truth, kept out: a new correction
    assert not at.exception and not at.error and not at.warning
    message = shown(" ".join(s.value for s in at.success))
    assert "Stored #2" in message and f"removed from knowledge: case-{case_id}" in message
    kept_out = "kept out of experience ('Add to experience knowledge' off)"  # the form's words, not the CLI's
    page = shown(texts(at))  # the Corrections tab lists it too
    assert kept_out in message and page.count(kept_out) == 2 and "--no-index" not in page
    assert open_knowledge(get_settings(), ingest=False).get("cases", f"case-{case_id}") is None


def test_sending_the_kept_out_correction_again_shows_what_it_removed(monkeypatch):
    """Kept out while the knowledge store could not be opened: the record stays, and the note says to send the same
    correction again. That repeat stores nothing new but removes the record, which it said nothing of."""
    from agent.runtime import open_knowledge

    case_id = seed_case("release-bad-canary")
    at = open_cases(app())
    at.radio(key=f"correction-{case_id}-verdict").set_value("Wrong")
    at.selectbox(key=f"correction-{case_id}-decision").set_value("hold")
    at.form_submit_button[0].click().run()  # 'Add to experience knowledge' is on: indexed
    store = open_knowledge(get_settings(), ingest=False)
    assert store.get("cases", f"case-{case_id}") is not None

    def unopenable():
        raise RuntimeError("knowledge store unavailable")

    import ui.backend

    opens = ui.backend.knowledge
    monkeypatch.setattr(ui.backend, "knowledge", unopenable)
    at.checkbox(key=f"correction-{case_id}-index").uncheck()
    at.form_submit_button[0].click().run()
    warning = shown(" ".join(w.value for w in at.warning))
    assert "Stored #2" in warning and f"case-{case_id} indexed by an earlier correction stays" in warning
    assert "remove it with 'Store correction' again with the same values (a repeat" in warning
    assert f"or `bianque knowledge forget-case` {case_id}" in at.warning[0].value  # code, not escaped backticks
    monkeypatch.setattr(ui.backend, "knowledge", opens)
    at.form_submit_button[0].click().run()  # the same correction again, the store back
    assert not at.exception and not at.error and not at.warning and not at.success
    info = shown(" ".join(i.value for i in at.info))
    assert info.startswith("Already stored as #2") and info.endswith(f"; removed from knowledge: case-{case_id}")
    assert info.count("nothing new stored") == 1
    assert store.get("cases", f"case-{case_id}") is None
    with Memory() as memory:
        assert len(memory.corrections_for(case_id)) == 2


def test_a_link_to_a_case_opens_it_and_the_address_follows_the_case_shown():
    """A notification links /cases?case=ID: that case opens (not the newest), and picking another updates the
    address, which a later rerun does not force back."""
    older = seed_case("release-bad-canary")
    newer = seed_case("rca-slow-dependency")
    at = app()
    at.query_params["case"] = older
    at = open_cases(at)
    assert not at.exception
    assert at.selectbox[1].value == older and any(f"Case {older}" in h.value for h in at.subheader)
    at.selectbox[1].set_value(newer).run()
    assert at.query_params["case"] == newer
    at.run()
    assert at.selectbox[1].value == newer and any(f"Case {newer}" in h.value for h in at.subheader)


def test_the_sidebar_says_where_notifications_go_without_the_secret_path(monkeypatch):
    assert any("Notifications: no notification URL" in shown(c.value) for c in app().run().sidebar.caption)
    monkeypatch.setenv("BIANQUE_NOTIFY_URL", "https://hooks.example.com/services/T0/B0/secret-part")
    get_settings.cache_clear()
    captions = [shown(c.value) for c in app().run().sidebar.caption]
    assert "Notifications: results needing attention are posted to https://hooks.example.com/…" in captions
    assert "secret-part" not in "".join(captions)


def test_a_link_to_a_case_not_stored_here_says_so_instead_of_showing_another_case_silently():
    newest = seed_case("rca-slow-dependency")
    at = app()
    at.query_params["case"] = "[nosuch](https://evil.example)"
    at = open_cases(at)
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "No case '[nosuch](https://evil.example)' is stored here" in shown(warning)
    assert "\\[nosuch\\]" in warning  # escaped: the id from the address is text, never a link
    assert at.selectbox[1].value == newest and any(f"Case {newest}" in h.value for h in at.subheader)


def test_the_data_home_is_shown_as_written_whatever_its_path_holds(tmp_path, monkeypatch):
    """The sidebar put the home in a code span its own backtick ended (the rest rendered as markdown)."""
    from ui.formatting import code

    home = tmp_path / "team`s _data_ home"
    monkeypatch.setenv("BIANQUE_HOME", str(home))
    get_settings.cache_clear()
    at = app().run()
    assert not at.exception
    assert f"Data home: {code(str(home))}" in [c.value for c in at.sidebar.caption]


def test_a_case_whose_bundle_is_gone_says_so(tmp_path):
    """The case page named the folder of a case's data pruned (or moved) since as its data, as if it could still be
    replayed."""
    path = tmp_path / "kept"
    shutil.copytree(SCENARIOS / "rca-slow-dependency", path)
    bundle = load_bundle(path)
    with Memory() as memory:
        case_id = investigate(bundle.event, bundle_toolkit(bundle, get_settings(), memory=memory),
                              bundle_path=str(path)).case_id
    shutil.rmtree(path)
    at = app()
    at.query_params["case"] = case_id
    at = open_cases(at)
    assert not at.exception
    assert f"data: {path} (gone: the case cannot be replayed)" in shown(texts(at))
