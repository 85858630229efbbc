"""Notifications of background results: what they say, when they are posted, and how a failed post is handled."""

from __future__ import annotations

import logging
import time

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from agent.config import Settings, get_settings
from agent.investigate import InvestigationResult
from agent.notify import Notifier, failure_notice, notifier_for, result_notice
from agent.verdict import InspectionItem, RootCause, Verdict
from tests.fakes.receiver import receiving
from tests.fixtures.graph.world import alert_event, inspection_event

ORIGIN = "scheduled inspection disk-check (schedule skill:disk-check)"


def result(verdict: Verdict, case_id: str = "case-1") -> InvestigationResult:
    return InvestigationResult(case_id=case_id, thread_id="t", skill={"name": "disk-check"}, verdict=verdict,
                               report="")


def inspection(*items: InspectionItem, judged: bool = True) -> Verdict:
    return Verdict(pattern="inspection", summary="disk filling on ranking", items=list(items), judged=judged)


DISK = InspectionItem(service="ranking", kind="disk_full", severity="warning", summary="disk at 91 %")


def rca(needs_attention: bool | None, reason: str | None = None) -> Verdict:
    return Verdict(pattern="rca", summary="latency from the cache", needs_attention=needs_attention,
                   attention_reason=reason, root_causes=[RootCause(service="cache", fault="slow_dependency",
                                                                   confidence=0.8)])


@pytest.mark.parametrize(("verdict", "attention"), [
    (inspection(DISK), True),
    (inspection(DISK.model_copy(update={"severity": "info"})), False),
    (inspection(), False),
    (inspection(judged=False), True),
    (rca(True), True),
    (rca(None), True),
    (rca(False, "recovered"), False),
    (Verdict(pattern="release_interception", summary="s", decision="pass"), False),
    (Verdict(pattern="release_interception", summary="s", decision="hold"), True),
    (Verdict(pattern="release_interception", summary="s", decision="pass", judged=False), True),
])
def test_a_result_needs_attention_when_serious_held_blocked_or_not_judged(verdict, attention):
    assert result_notice(result(verdict), inspection_event(["ranking"]), ORIGIN).attention is attention


def test_an_inspection_notice_says_how_bad_first_then_its_items_and_how_to_read_the_case():
    notice = result_notice(result(inspection(DISK)), inspection_event(["ranking"]), ORIGIN)
    lines = notice.text.splitlines()
    assert lines[0] == f"Bian Que · {ORIGIN}: WARNING: 1 item"
    assert "- ranking: disk_full (warning) disk at 91 %" in lines
    assert lines[-1] == "case case-1: `bianque cases show case-1`"
    payload = notice.payload()
    assert payload["bianque"]["kind"] == "inspection" and payload["bianque"]["level"] == "warning"
    assert payload["bianque"]["items"] == [DISK.model_dump(exclude={"evidence"})]
    assert notice.payload("text") == {"text": notice.text}


def test_with_the_ui_address_a_notice_links_its_case_there():
    notice = result_notice(result(inspection(DISK)), inspection_event(), ORIGIN, "https://bianque.example.com/")
    link = "https://bianque.example.com/cases?case=case-1"
    assert notice.text.splitlines()[-1] == f"case case-1: {link} or `bianque cases show case-1`"
    assert notice.payload()["bianque"]["case_url"] == link
    assert result_notice(result(inspection(DISK)), inspection_event(), ORIGIN).payload()["bianque"]["case_url"] is None


def test_untrusted_text_can_mention_no_one_and_link_nowhere_but_the_data_keeps_it_as_given():
    annotation = "<!channel> p99 high, see <https://evil.example|the fix> & run `rm -rf`\nsecond line"
    event = alert_event(annotations={"summary": annotation})
    notice = result_notice(result(rca(True)), event, "alert investigation (incident inc-1)")
    assert "<" not in notice.text and "&lt;!channel&gt;" in notice.text
    assert "&lt;https://evil.example|the fix&gt; &amp; run" in notice.text
    assert "second line" in notice.text.splitlines()[1]  # the annotation's line break cannot start a line of ours
    assert annotation.replace("\n", " ") in notice.payload()["bianque"]["event"]


def test_a_notice_is_posted_as_json_and_a_healthy_one_only_when_everything_is_wanted():
    with receiving() as receiver:
        attention, every = Notifier(receiver.url), Notifier(receiver.url, on="all")
        assert not attention.result(result(inspection()), inspection_event(), ORIGIN)
        assert every.result(result(inspection()), inspection_event(), ORIGIN) and every.flush(30)
        assert attention.result(result(inspection(DISK)), inspection_event(), ORIGIN) and attention.flush(30)
    assert attention.status()["sent"] == every.status()["sent"] == 1
    assert [path for path, _ in receiver.posts] == ["/services/T0/B0/secret-part"] * 2
    assert [body["bianque"]["level"] for body in receiver.bodies] == [None, "warning"]


def test_a_receiver_failing_for_a_moment_is_tried_again_with_a_doubling_wait():
    waits: list[float] = []
    with receiving([503, 502]) as receiver:
        notifier = Notifier(receiver.url, backoff_s=0.5, sleep=waits.append)
        delivery = notifier.send(failure_notice(ORIGIN, "RuntimeError: sources down"))
    assert (delivery.delivered, delivery.attempts, waits) == (True, 3, [0.5, 1.0])
    assert len(receiver.posts) == 3 and notifier.status()["sent"] == 1


def test_a_refused_post_is_not_retried_and_says_where_without_the_secret_path(caplog):
    with receiving([404]) as receiver, caplog.at_level(logging.WARNING):
        notifier = Notifier(receiver.url, sleep=lambda _: pytest.fail("a 404 was retried"))
        delivery = notifier.send(failure_notice(ORIGIN, "boom"))
    port = receiver.server.server_address[1]
    assert not delivery.delivered and delivery.problem == f"http://127.0.0.1:{port}/…: HTTP 404: no such hook"
    status = notifier.status()
    assert (status["failed"], status["problem"], status["url"]) == (1, delivery.problem, f"http://127.0.0.1:{port}/…")
    assert "not delivered" in caplog.text and "secret-part" not in caplog.text


def test_the_same_news_of_a_schedule_is_held_back_until_it_changes_or_clears():
    now = [1000.0]
    with receiving() as receiver:
        notifier = Notifier(receiver.url, repeat_s=3600, clock=lambda: now[0])
        send = lambda verdict: notifier.result(result(verdict), inspection_event(), ORIGIN)  # noqa: E731
        assert send(inspection(DISK))
        assert not send(inspection(DISK.model_copy(update={"summary": "disk at 92 %"})))  # the same news
        assert send(inspection(DISK, DISK.model_copy(update={"service": "cache"})))  # a new item: news
        assert not send(inspection())  # healthy: not posted, but the trouble is over
        assert send(inspection(DISK))  # trouble again: news
        now[0] += 3601
        assert send(inspection(DISK))  # the same news, an interval later: posted again
        assert notifier.flush(30)
    assert len(receiver.posts) == 4 and notifier.status()["repeats_held"] == 1


def test_a_receiver_that_does_not_answer_holds_no_work_and_its_news_is_posted_again_next_time():
    """Posting is the notifier's own thread: the run that queued a notice is not held by a slow receiver; a notice
    not delivered is not remembered as told, so the same news at the next run is posted."""
    import threading

    answered, posted = threading.Event(), []

    def post(body):
        answered.wait(30)
        posted.append(body)
        return False, "HTTP 404: no such hook"

    notifier = Notifier("http://127.0.0.1:9/hooks/secret-part", repeat_s=3600)
    notifier._post = post  # a receiver that answers only when told, then refuses
    assert notifier.result(result(inspection(DISK)), inspection_event(), ORIGIN)
    # back while the receiver has not answered: queued, the caller not waiting for it
    assert not answered.is_set() and notifier.unsent == 1 and notifier.status()["waiting"] == 1
    answered.set()
    assert notifier.flush(30) and notifier.status()["failed"] == 1
    assert notifier.result(result(inspection(DISK)), inspection_event(), ORIGIN)  # not held back as a repeat
    assert notifier.flush(30) and len(posted) == 2


def test_a_scheduled_run_needing_attention_is_posted_and_a_failed_one_says_no_answer_will_come(
        tmp_path, monkeypatch):
    from agent.memory import Memory
    from agent.scheduler import configure, sync_schedules
    from agent.scheduler.jobs import scheduled_inspection
    from tests.test_scheduler import write_skill

    skills = tmp_path / "skills"
    skills.mkdir()
    write_skill(skills, "disk-check", "*/10 * * * *")
    write_skill(skills, "cache-check", "*/10 * * * *")
    verdicts = [inspection(DISK)]

    def investigator(event, *, skill=None, source="api"):
        if not verdicts:
            raise RuntimeError("sources down")
        with Memory(settings.resolved_database_url) as memory:
            stored = memory.record_event(event, source=source)
            case = memory.start_case(stored.id, skill, thread_id="t")
            memory.finish_case(case.id, [], verdicts[0], "report", reasoner="offline")
        return result(verdicts.pop(), case.id)

    with receiving() as receiver:
        monkeypatch.setenv("BIANQUE_NOTIFY_URL", receiver.url)
        get_settings.cache_clear()
        settings = get_settings().model_copy(update={"skills_dirs": [skills]})
        sync_schedules(settings)
        configure(settings, investigator)
        try:
            scheduled_inspection("skill:disk-check")
            with pytest.raises(RuntimeError, match="sources down"):
                scheduled_inspection("skill:cache-check")
            assert notifier_for(settings).flush(30)
        finally:
            configure(None, None)
    first, second = (body["text"].splitlines()[0] for body in receiver.bodies)
    assert first == "Bian Que · scheduled inspection disk-check (schedule skill:disk-check): WARNING: 1 item"
    assert second == ("Bian Que · scheduled inspection cache-check (schedule skill:cache-check): "
                      "FAILED, no answer will come")
    assert receiver.bodies[1]["bianque"]["reason"] == "RuntimeError: sources down"


def test_an_alert_the_service_investigates_is_posted_with_its_incident_and_health_counts_it(memory, monkeypatch):
    from agent.api.dryrun import DryRunInvestigator
    from tests.test_api_support import alert, make_client, wait_idle

    with receiving() as receiver:
        monkeypatch.setenv("BIANQUE_NOTIFY_URL", receiver.url)
        get_settings.cache_clear()
        with make_client(memory, DryRunInvestigator(memory)) as client:
            answer = client.post("/webhook/alertmanager", json={"version": "4", "status": "firing",
                                                                "alerts": [alert()]})
            assert answer.status_code == 200 and answer.json()["investigations_queued"] == 1, answer.text
            wait_idle(client)
            health = wait_for_health(client, lambda notifications: notifications["sent"] == 1)
    (body,) = receiver.bodies
    incident = memory.open_incidents()[0].id
    assert body["text"].startswith(f"Bian Que · alert investigation (incident {incident}): needs attention")
    assert body["bianque"]["case_id"] and body["bianque"]["kind"] == "rca"
    assert (health["sent"], health["failed"]) == (1, 0) and "secret-part" not in str(health)


def wait_for_health(client, condition, timeout: float = 30.0) -> dict:
    """The health's notifications once ``condition`` holds (it is posted after the queue item is done)."""
    deadline = time.monotonic() + timeout
    while not condition(notifications := client.get("/healthz").json()["notifications"]):
        assert time.monotonic() < deadline, f"notifications never got there: {notifications}"
        time.sleep(0.02)
    return notifications


def test_notify_test_posts_a_test_and_says_whether_it_arrived(monkeypatch):
    runner = CliRunner()
    assert runner.invoke(app, ["notify", "test"]).exit_code == 2
    with receiving([404, 200]) as receiver:
        monkeypatch.setenv("BIANQUE_NOTIFY_URL", receiver.url)
        get_settings.cache_clear()
        refused = runner.invoke(app, ["notify", "test"])
        delivered = runner.invoke(app, ["notify", "test"])
    assert refused.exit_code == 1 and "HTTP 404" in refused.output and "secret-part" not in refused.output
    assert delivered.exit_code == 0 and "delivered to http://127.0.0.1:" in delivered.output
    assert receiver.bodies[1]["bianque"]["kind"] == "test"


@pytest.mark.parametrize("url", ["hooks.example.com/services/x", "ftp://hooks.example.com/x", "http://h:port/x"])
def test_a_notification_url_that_is_no_http_url_is_refused_without_showing_it(url, monkeypatch):
    monkeypatch.setenv("BIANQUE_NOTIFY_URL", url)
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="BIANQUE_NOTIFY_URL") as refused:
        get_settings()
    assert url not in str(refused.value)
    assert Settings(notify_url="  ").notify_url is None


@pytest.mark.parametrize("url", ["http://xn--zz--/services/T0/secret-part", "http://127.0.0.1:9/secret-part\x7f"])
def test_a_url_the_http_client_refuses_is_a_failed_delivery_not_an_exception(url, caplog):
    notifier = Notifier(url, sleep=lambda _: pytest.fail("a URL that cannot be posted to was retried"))
    with caplog.at_level(logging.WARNING):
        assert notifier.failure(ORIGIN, "RuntimeError: sources down") and notifier.flush(30)
    status = notifier.status()
    assert status["failed"] == 1 and status["problem"] and "secret-part" not in status["problem"]
    assert "secret-part" not in caplog.text


def test_a_mattermost_mention_or_markdown_link_in_untrusted_text_mentions_no_one_and_links_nowhere():
    annotation = "@channel @here look: [the fix](https://evil.example) ![](https://track.example/p.png) a@b.c"
    event = alert_event(annotations={"summary": annotation})
    notice = result_notice(result(rca(True)), event, "alert investigation (incident inc-1)")
    line = notice.text.splitlines()[1]
    assert "@channel" not in line and "@here" not in line and "](" not in line
    assert line.replace("\u200b", "").count(annotation) == 1  # shown as typed, only made inert
    assert annotation in notice.payload()["bianque"]["event"]


@pytest.mark.parametrize(("url", "where"), [
    ("http://[::1]:8080/hooks/secret-part", "http://[::1]:8080/…"),
    ("http://127.0.0.1:0/hooks/secret-part", "http://127.0.0.1:0/…"),
    ("https://user:pw@hooks.example.com/services/secret-part?token=t", "https://hooks.example.com/…"),
])
def test_the_receiver_is_named_by_scheme_host_and_port_as_given_never_its_secret_parts(url, where):
    assert Notifier(url).where == where


def test_a_webhook_port_out_of_range_is_said_so_without_the_url(monkeypatch):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as raised:
        Settings(notify_url="http://127.0.0.1:99999/hooks/secret-part")
    [error] = raised.value.errors()
    assert error["msg"] == "Value error, not a URL: its port is not a number from 0 to 65535"


@pytest.mark.parametrize(("ui_url", "link"), [
    ("https://bianque.example.com", "https://bianque.example.com/cases?case=case-1"),
    ("https://example.com/bianque/", "https://example.com/bianque/cases?case=case-1"),
    ("https://example.com/bianque?tenant=ops#top", "https://example.com/bianque/cases?tenant=ops&case=case-1"),
])
def test_the_case_link_keeps_the_ui_address_path_and_query(ui_url, link):
    notice = result_notice(result(inspection(DISK)), inspection_event(), ORIGIN, ui_url)
    assert notice.payload()["bianque"]["case_url"] == link
