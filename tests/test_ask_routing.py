"""Routing free-text questions to a pattern and services."""

from __future__ import annotations

import pytest

from agent.ask import route_question
from agent.events import Pattern

SERVICES = ["gateway", "ranking", "feature-store", "ad-serving", "cache"]


@pytest.mark.parametrize(
    ("question", "pattern", "services"),
    [
        ("why is ranking slow?", Pattern.RCA, ["ranking"]),
        ("is the ranking canary safe to roll out?", Pattern.RELEASE_INTERCEPTION, ["ranking"]),
        ("is anything about to go wrong with feature-store or cache?", Pattern.INSPECTION, ["feature-store", "cache"]),
        ("tell me about the system", Pattern.INSPECTION, []),
    ],
)
def test_route(question, pattern, services):
    route = route_question(question, SERVICES)
    assert route.pattern == pattern
    assert sorted(route.services) == sorted(services)


def test_service_names_match_whole_words_only():
    assert route_question("why is the ad-serving-v2 slow", SERVICES).services == []


class _Investigated(Exception):
    """Raised by a stand-in for the investigation, holding the event it was given."""

    def __init__(self, event) -> None:
        super().__init__(event)
        self.event = event


def _investigated(event, *args, **kwargs):
    raise _Investigated(event)


def _store_lines_of(services: list[str]) -> None:
    """The configured SQL log store holding a line of each service (as `bianque bundle ingest` stores them)."""
    from agent.config import get_settings
    from agent.series import LogRecord
    from agent.sources.sqlstore import ObservabilityStore

    settings = get_settings()
    settings.ensure_home()
    ObservabilityStore(settings.resolved_observability_url).ingest_logs(
        LogRecord(1000.0 + i, name, "INFO", "started") for i, name in enumerate(services))


def test_a_live_question_names_a_service_of_the_sources_without_a_topology_file(bianque_home, monkeypatch):
    """Without BIANQUE_TOPOLOGY_FILE (optional), a service the log store (or metric server) knows is routed to: the
    chat's 'why is ranking slow?' investigated ranking, not the system's entry points."""
    import agent.ask
    import agent.runtime
    from agent.config import get_settings

    monkeypatch.delenv("BIANQUE_TOPOLOGY_FILE", raising=False)
    _store_lines_of(["gateway", "ranking"])
    monkeypatch.setattr(agent.runtime, "investigation_toolkit", lambda *a, **k: None)
    monkeypatch.setattr(agent.ask, "investigate_checkpointed", _investigated)
    with pytest.raises(_Investigated) as asked:
        agent.ask.answer_question("why is ranking slow?", get_settings())
    assert (asked.value.event.pattern, asked.value.event.service) == (Pattern.RCA, "ranking")


@pytest.mark.parametrize(
    ("question", "services", "said"),
    [
        ("why is gatway slow?", ["gateway"], "'gatway' read as service 'gateway' (no service of that name)"),
        ("why is featur-store erroring", ["feature-store"], "'featur-store' read as service 'feature-store'"),
    ],
)
def test_a_misspelt_service_is_read_as_the_close_one_and_said(question, services, said):
    route = route_question(question, SERVICES)
    assert route.services == services and said in route.reason


@pytest.mark.parametrize("question", ["why is gateway slow? the gatway logs say so", "why is it slow", "is the cat ok"])
def test_no_service_is_guessed_when_one_is_named_or_no_word_is_close(question):
    route = route_question(question, SERVICES)
    assert route.services == (["gateway"] if "gateway" in question else []) and "read as" not in route.reason


def store_changes(changes: list[tuple[str, str, float]]) -> None:
    """The configured change store holding a deploy (id, service, ts) for each, as `bianque bundle ingest` stores
    them; their services are the log store's too (known to a question)."""
    from agent.config import get_settings
    from agent.series import ChangeRecord
    from agent.sources.sqlstore import ObservabilityStore

    _store_lines_of(sorted({service for _, service, _ in changes}))
    ObservabilityStore(get_settings().resolved_observability_url).ingest_changes(
        ChangeRecord(ts, service, "deploy", change_id, description=f"roll out {service}")
        for change_id, service, ts in changes)


def test_the_latest_change_of_the_named_service_is_the_one_a_release_question_judges(bianque_home):
    from agent.ask import judged_change
    from agent.config import get_settings
    from agent.sources.sqlstore import SqlChangeSource

    now = 100_000.0
    store_changes([("d-old", "ranking", now - 90_000), ("d-1", "ranking", now - 7200), ("d-2", "ranking", now - 1800),
                   ("d-3", "gateway", now - 60), ("d-future", "ranking", now + 60)])
    changes = SqlChangeSource(get_settings().resolved_observability_url)
    route, change = judged_change(route_question("is the ranking deploy safe?", SERVICES), changes, now)
    assert (change.id, change.service, change.type) == ("d-2", "ranking", "deploy")
    assert route.reason.endswith("judging the latest change of ranking in the change store: deploy d-2 (roll out "
                                 "ranking) at 03:16 UTC")
    assert judged_change(route_question("is the cache deploy safe?", SERVICES), changes, now)[1] is None
    assert judged_change(route_question("why is ranking slow?", SERVICES), changes, now)[1] is None


def test_a_service_named_with_glob_characters_is_asked_for_its_own_changes_only(bianque_home):
    """The release gate's latest change and a listing of the span ask the change store the same way
    (``changes_asked``): a service whose name holds glob characters is its own name, not a pattern."""
    from agent.ask import latest_change
    from agent.asked import asked_listings
    from agent.config import get_settings
    from agent.sources.sqlstore import SqlChangeSource

    now = 100_000.0
    store_changes([("d-1", "svc[1]", now - 1800), ("d-2", "svc1", now - 60)])
    changes = SqlChangeSource(get_settings().resolved_observability_url)
    assert latest_change("svc[1]", now, changes).id == "d-1"
    [listed] = asked_listings("what changed?", ["svc[1]"], now, changes, None)
    assert [line.split()[4] for line in listed.said()] == ["d-1"]


def test_a_question_asking_what_changed_lists_the_change_store_s_lines_of_the_span_it_names(bianque_home):
    """'what changed in the last hour?' was answered by a health inspection that never names a change (a change is
    a Finding only near an anomaly's onset): the store's changes of the span are listed, newest first."""
    from agent.asked import asked_listings
    from agent.config import get_settings
    from agent.sources.sqlstore import SqlChangeSource

    now = 100_000.0
    store_changes([("d-1", "ranking", now - 7200), ("d-2", "ranking", now - 1800), ("d-3", "gateway", now - 60)])
    changes = SqlChangeSource(get_settings().resolved_observability_url)

    def asked(question: str):
        return asked_listings(question, route_question(question, SERVICES).services, now, changes, None)

    [hour] = asked("what changed in the last hour?")
    assert hour.title == "Changes logged in the last 60m (every service)"
    assert hour.said() == ["01-02 03:45 gateway: deploy d-3 (roll out gateway)",
                           "01-02 03:16 ranking: deploy d-2 (roll out ranking)"]
    [ranking] = asked("any changes to ranking in the past 3 hours?")
    assert ranking.title == "Changes logged in the last 3h (ranking)"
    assert [line.split()[4] for line in ranking.said()] == ["d-2", "d-1"]
    assert asked("what changed on cache?")[0].said() == ["none"]
    assert asked("why is ranking slow?") == []


def test_a_question_asking_for_the_logs_lists_the_newest_warnings_and_errors_of_its_services(bianque_home):
    """'show me the logs of ranking' got a health inspection's log templates: the newest lines are listed, capped."""
    from agent.asked import SHOWN_LOG_LINES, asked_listings
    from agent.config import get_settings
    from agent.series import LogRecord
    from agent.sources.sqlstore import ObservabilityStore, SqlLogSource

    now = 100_000.0
    url = get_settings().resolved_observability_url
    lines = [LogRecord(now - 3000 + i, "ranking", "ERROR", f"timeout {i} ![x](http://evil)") for i in range(30)]
    lines += [LogRecord(now - 10, "ranking", "INFO", "ok"), LogRecord(now - 5, "gateway", "ERROR", "refused")]
    ObservabilityStore(url).ingest_logs(lines)
    [listing] = asked_listings("show me the logs of ranking", ["ranking"], now, None, SqlLogSource(url))
    assert listing.title == f"Newest WARN/ERROR/FATAL log lines in the last 60m (ranking) (at most {SHOWN_LOG_LINES})"
    assert len(listing.lines) == SHOWN_LOG_LINES
    assert listing.lines[0] == "01-02 02:57 ranking ERROR: timeout 29 ![x](http://evil)"  # escaped where shown


def test_an_alert_pasted_whole_is_investigated_as_the_webhook_would_investigate_it():
    """A webhook body pasted in the chat was routed by its words, investigated now, its labels and startsAt unread:
    an alert that fired an hour ago was judged on the wrong minutes. Its first firing alert is the event now."""
    import json

    from agent.ask import pasted_alert

    body = {"version": "4", "status": "firing", "alerts": [
        {"status": "resolved", "labels": {"alertname": "CacheMiss", "service": "cache"},
         "startsAt": "2026-03-02T09:00:00Z"},
        {"status": "firing", "labels": {"alertname": "GatewayErrors", "service": "gateway"},
         "annotations": {"summary": "ranking is fine"}, "startsAt": "2026-03-02T10:14:00Z"}]}
    route, event = pasted_alert(json.dumps(body, indent=1), now=0.0)
    assert (event.pattern, event.service, event.alert.name, event.time) == (Pattern.RCA, "gateway", "GatewayErrors",
                                                                           1772446440.0)
    assert route.services == ["gateway"]
    assert route.reason == ("a pasted alert: GatewayErrors (firing since 03-02 10:14 UTC); 1 more alert(s) in it: "
                            "send the body to the webhook for each")
    assert pasted_alert(json.dumps(body["alerts"][1]), now=0.0)[1].alert.name == "GatewayErrors"


@pytest.mark.parametrize("question", ['{"why": "is ranking slow"}', "[1, 2]", "{not json", "why is ranking slow?"])
def test_a_question_that_is_no_alert_is_routed_by_its_words(question):
    from agent.ask import pasted_alert

    assert pasted_alert(question, now=0.0) is None


def test_a_pasted_alert_that_does_not_validate_is_refused_naming_the_field():
    from agent.ask import pasted_alert
    from agent.inputs import InputError

    with pytest.raises(InputError, match=r"the pasted alert\[1\]: labels.alertname: required"):
        pasted_alert('{"alerts": [{"labels": {"alertname": "A"}}, {"labels": {"service": "x"}}]}', now=0.0)


def test_a_pasted_webhook_body_of_no_alerts_is_said_to_hold_none():
    """``{"alerts": []}`` had been read as a question in words (an inspection of every service)."""
    from agent.ask import pasted_alert
    from agent.inputs import InputError

    with pytest.raises(InputError, match=r"^the pasted alert: alerts: holds no alerts"):
        pasted_alert('{"version": "4", "alerts": []}', now=0.0)


def _counted_log_listings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each listing of the log store's services, recorded (no topology file: only the sources list them)."""
    from agent.sources.sqlstore import SqlLogSource

    asked: list[str] = []
    listing = SqlLogSource.services

    def counted(self, *args, **kwargs):
        asked.append(self.name)
        return listing(self, *args, **kwargs)

    monkeypatch.setattr(SqlLogSource, "services", counted)
    monkeypatch.delenv("BIANQUE_TOPOLOGY_FILE", raising=False)
    return asked


def test_the_sources_service_listing_is_kept_a_minute_per_store(bianque_home, monkeypatch, tmp_path):
    """Routing a question lists the sources' services (a SELECT DISTINCT over the log store): the listing is reused for
    60 s per configuration of sources, then asked again; another store is asked at once."""
    from agent.config import get_settings
    from agent.runtime import KeptListings, known_services

    asked = _counted_log_listings(monkeypatch)
    now = [1000.0]
    listings = KeptListings(clock=lambda: now[0])
    settings = get_settings()
    _store_lines_of(["gateway"])
    assert known_services(settings, listings=listings) == ["gateway"]
    _store_lines_of(["ranking"])
    now[0] += 59.0
    assert known_services(settings, listings=listings) == ["gateway"]  # kept
    assert len(asked) == 1
    now[0] += 1.0
    assert known_services(settings, listings=listings) == ["gateway", "ranking"]  # a minute old: asked again
    other = settings.model_copy(update={"observability_url": f"sqlite:///{tmp_path / 'other.db'}"})
    assert known_services(other, listings=listings) == []
    assert len(asked) == 3


def _with_a_silent_metric_server():
    """The settings with a PromQL server at a loopback port nothing listens on."""
    import socket

    from agent.config import get_settings

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return get_settings().model_copy(update={"prometheus_url": f"http://127.0.0.1:{port}"})


def test_a_listing_a_source_did_not_answer_is_not_kept(bianque_home, monkeypatch):
    """A PromQL server that refused the listing may know a name the log store does not: the next question asks again."""
    from agent.runtime import KeptListings, known_services

    asked = _counted_log_listings(monkeypatch)
    settings = _with_a_silent_metric_server()
    _store_lines_of(["gateway"])
    listings = KeptListings(clock=lambda: 0.0)
    assert known_services(settings, listings=listings) == known_services(settings, listings=listings) == ["gateway"]
    assert len(asked) == 2


def test_one_command_keeps_even_a_listing_a_source_did_not_answer(bianque_home, monkeypatch):
    """The keeper of one command (`schedule add`: the sync and the warning) waits for a silent server once: the
    listing it did not answer is kept as long as the others; the keeper of chat questions asks again."""
    import math

    from agent.runtime import KeptListings

    asked = _counted_log_listings(monkeypatch)
    settings = _with_a_silent_metric_server()
    _store_lines_of(["gateway"])
    command = KeptListings(math.inf, unanswered_kept_s=math.inf, clock=lambda: 0.0)
    first = command.listing(settings, 0.3)
    assert first.unanswered and command.listing(settings, 0.3) == first
    assert len(asked) == 1
