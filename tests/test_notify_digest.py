"""The digest of alerts judged not needing attention: what it lists, posted once per tick across replicas, only when
there is something, listed again when not delivered; `notify digest --dry-run` shows it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from agent.config import Settings, get_settings
from agent.cron import cron_trigger
from agent.memory import Memory
from agent.memory.records import QuietAlertRecord
from agent.notify.digest import DIGEST, Digest, digest_trigger
from agent.scheduler import configure
from agent.scheduler.digest import scheduled_digest
from agent.verdict import Verdict
from tests.at_once import each_at_once
from tests.fakes.receiver import receiving
from tests.fixtures.graph.world import alert_event

CRON = "0 9 * * *"
TICK = 1_765_098_000.0  # 2025-12-07T09:00:00Z, a tick of CRON


def alert_case(memory: Memory, *, needs_attention: bool | None = False, judged: bool = True, source: str = "webhook",
               alertname: str = "ApiLatencyHigh", service: str = "api", reason: str = "recovered") -> str:
    """A finished alert investigation, as the service's queue stores it."""
    stored = memory.record_event(alert_event(service=service, alertname=alertname), source=source)
    case = memory.start_case(stored.id, "alert-rca", thread_id="t")
    verdict = Verdict(pattern="rca", summary="s", needs_attention=needs_attention, attention_reason=reason,
                      judged=judged)
    memory.finish_case(case.id, [], verdict, "report", reasoner="offline")
    return case.id


def check_digest_claims(memory: Memory) -> None:
    """A tick is claimed once; a later tick again; what was told only moves forward. Also run on PostgreSQL."""
    assert memory.claim_digest(DIGEST, 1000.0, "host-a:1") is True
    assert memory.claim_digest(DIGEST, 1000.0, "host-b:2") is False
    assert memory.claim_digest(DIGEST, 900.0, "host-b:2") is False
    assert memory.claim_digest(DIGEST, 2000.0, "host-b:2") is True
    assert memory.digest_told_until(DIGEST) is None


def check_digest_periods(memory: Memory) -> None:
    """Each run takes the period up to its time (the first one ever: ``first_s`` before it) before it posts; what it
    took no other run lists; one not delivered is given back. Also run on PostgreSQL."""
    assert memory.take_digest_period(DIGEST, 2000.0, 100.0) == 1900.0
    assert memory.take_digest_period(DIGEST, 2000.0, 100.0) is None  # taken: a run beside it lists nothing
    assert memory.take_digest_period(DIGEST, 1500.0, 100.0) is None
    assert memory.take_digest_period(DIGEST, 2500.0, 100.0) == 2000.0  # only what came after
    assert memory.take_digest_period(DIGEST, 3000.0, 100.0) == 2500.0
    memory.give_back_digest_period(DIGEST, 2000.0)  # the run from 2000 failed; the one after it is listed again too
    assert memory.digest_told_until(DIGEST) == 2000.0
    memory.give_back_digest_period(DIGEST, 2500.0)  # moves nothing forward
    assert memory.take_digest_period(DIGEST, 3000.0, 100.0) == 2000.0


def test_digest_periods(memory) -> None:
    check_digest_periods(memory)


def test_digest_claims(memory) -> None:
    check_digest_claims(memory)


def claim_digest_at_once(url: str, claimants: int, ask: Any = None) -> list[Any]:
    """``claimants`` processes claim one digest tick at the same moment (or ``ask(store, claimant)`` something else
    of the digest): what each was told."""
    def claim(store: Memory, index: int) -> Any:
        name = f"host-{index}:1"
        return store.claim_digest(DIGEST, TICK, name) if ask is None else ask(store, name)

    return each_at_once(url, claimants, claim)


def test_one_digest_tick_claimed_at_once_is_claimed_once(tmp_path) -> None:
    assert sorted(claim_digest_at_once(f"sqlite:///{tmp_path / 'race.db'}", 4)) == [False, False, False, True]


def take_period_at_once(store: Memory, _claimant: str) -> float | None:
    return store.take_digest_period(DIGEST, TICK, 100.0)


def test_one_digest_period_taken_at_once_is_taken_once(tmp_path) -> None:
    """A scheduled and a manual run at the same moment: one lists the period, the other nothing."""
    told = claim_digest_at_once(f"sqlite:///{tmp_path / 'race.db'}", 4, take_period_at_once)
    assert sorted(told, key=str) == [TICK - 100.0, None, None, None]


def test_only_the_service_alerts_judged_not_needing_attention_are_listed_by_when_their_case_finished(memory):
    check_quiet_alerts(memory)


def check_quiet_alerts(memory: Memory) -> None:
    """What a digest lists: the service's alerts judged not needing attention, by when their case finished. Also
    run on PostgreSQL."""
    quiet = alert_case(memory)
    alert_case(memory, needs_attention=True)
    alert_case(memory, needs_attention=None)  # not said: it needed attention, and was posted
    alert_case(memory, judged=False)  # could not judge: posted
    alert_case(memory, source="cli")  # a manual run: its caller read the answer
    middle = time.time()
    later = alert_case(memory, alertname="DiskFull", service="store", reason="benign")
    listed = memory.quiet_alerts(None, time.time() + 1)
    assert [(a.case_id, a.alertname, a.service, a.reason) for a in listed] == [
        (quiet, "ApiLatencyHigh", "api", "recovered"), (later, "DiskFull", "store", "benign")]
    assert [a.case_id for a in memory.quiet_alerts(middle, time.time() + 1)] == [later]
    assert memory.quiet_alerts(None, middle) == [listed[0]]


def test_a_quiet_alert_corrected_to_needing_attention_is_left_out(memory):
    check_corrected_quiet_alerts(memory)


def check_corrected_quiet_alerts(memory: Memory) -> None:
    """An engineer said a silenced alert needed attention after all: the digest listed it as silenced. Its latest
    correction counts. Also run on PostgreSQL."""
    cases = {name: alert_case(memory, alertname=name) for name in ("Attention", "Cause", "Right", "StillNoise", "Back")}
    memory.add_correction(cases["Attention"], False, needs_attention=True)
    memory.add_correction(cases["Cause"], False, root_cause_service="db")  # a root cause: it was actionable
    memory.add_correction(cases["Right"], True)
    memory.add_correction(cases["StillNoise"], False, needs_attention=False, note="noise, for another reason")
    memory.add_correction(cases["Back"], False, needs_attention=True)
    memory.add_correction(cases["Back"], True, note="second look: it was noise")
    listed = memory.quiet_alerts(None, time.time() + 1)
    assert [a.alertname for a in listed] == ["Right", "StillNoise", "Back"]


def entry(i: int, **update) -> QuietAlertRecord:
    return QuietAlertRecord(case_id=f"case-{i}", service="api", alertname="ApiLatencyHigh", time=TICK - 3600 + i,
                            finished_at=TICK - 60, reason="recovered").model_copy(update=update)


def test_a_digest_lists_at_most_n_alerts_with_their_case_and_counts_the_rest():
    notice = Digest(TICK - 86400, TICK, [entry(i) for i in range(5)]).notice("https://bianque.example.com", 3)
    lines = notice.text.splitlines()
    assert lines[0] == ("Bian Que · digest: 5 alerts judged not needing attention since 2025-12-06T09:00:00Z "
                        "(not posted one by one)")
    assert lines[1] == ("- 2025-12-07T08:00:00Z api: ApiLatencyHigh: recovered · "
                        "https://bianque.example.com/cases?case=case-0")
    assert len(lines) == 5 and lines[-1] == "… and 2 more: `bianque cases list --pattern rca`"
    data = notice.payload()["bianque"]
    assert data["kind"] == "digest" and data["total"] == 5 and len(data["alerts"]) == 3
    assert data["alerts"][0]["case_url"] == "https://bianque.example.com/cases?case=case-0"
    without_ui = Digest(TICK - 86400, TICK, [entry(0)]).notice(None, 3).text.splitlines()
    assert without_ui[1].endswith("· `bianque cases show case-0`") and "1 alert judged" in without_ui[0]


def test_untrusted_names_in_a_digest_mention_no_one_and_link_nowhere():
    hostile = entry(0, alertname="<!channel> @here", service="[x](https://evil.example)", reason="<https://e|fix>")
    line = Digest(TICK - 86400, TICK, [hostile]).notice(None, 3).text.splitlines()[1]
    assert "<" not in line and "@here" not in line and "](" not in line
    assert "&lt;!channel&gt;" in line and "&lt;https://e|fix&gt;" in line


def next_tick(memory: Memory) -> float:
    """The first tick of CRON after the alert cases stored finished: its digest is the first to list them (the first
    digest ever lists the day before it)."""
    finished = max(alert.finished_at for alert in memory.quiet_alerts(None, time.time() + 1))
    return cron_trigger(CRON).get_next_fire_time(None, datetime.fromtimestamp(finished, UTC)).timestamp()


@pytest.fixture
def digest_settings(bianque_home, monkeypatch):
    """Settings with a digest every day at 09:00, posting to ``receiver`` (set the URL with ``use``)."""

    def use(url: str, **update) -> Settings:
        monkeypatch.setenv("BIANQUE_NOTIFY_URL", url)
        monkeypatch.setenv("BIANQUE_NOTIFY_DIGEST", CRON)
        get_settings.cache_clear()
        settings = get_settings().model_copy(update=update)
        configure(settings, lambda *a, **k: None)
        return settings

    yield use
    configure(None, None)


def test_the_scheduled_digest_is_posted_once_per_tick_across_replicas_and_only_with_something_to_list(
        memory, digest_settings):
    with receiving() as receiver:
        digest_settings(receiver.url)
        assert scheduled_digest(now=TICK + 5) is False  # nothing to list: nothing posted
        alert_case(memory)
        tick = next_tick(memory)
        now = tick + 5  # the job fires just after its tick
        assert scheduled_digest(now=now) is True
        assert scheduled_digest(now=now) is False  # the same tick, another replica: taken
        assert scheduled_digest(now=now + 86400) is False  # the next tick: nothing new since
    (body,) = receiver.bodies
    assert body["text"].startswith("Bian Que · digest: 1 alert judged not needing attention since")
    assert body["bianque"]["until"] == tick


def test_a_digest_not_delivered_is_listed_again_by_the_next(memory, digest_settings):
    with receiving([404]) as receiver:
        digest_settings(receiver.url)
        case_id = alert_case(memory)
        now = next_tick(memory) + 5
        assert scheduled_digest(now=now) is False  # refused: what it listed stays to tell
        assert scheduled_digest(now=now + 86400) is True
    assert [body["bianque"]["alerts"][0]["case_id"] for body in receiver.bodies] == [case_id, case_id]


def test_notify_digest_dry_run_shows_what_would_be_posted_and_posts_nothing(memory, digest_settings):
    runner = CliRunner()
    with receiving() as receiver:
        digest_settings(receiver.url)
        empty = runner.invoke(app, ["notify", "digest", "--dry-run"])
        alert_case(memory, alertname="[bold]DiskFull[/bold]")
        shown = runner.invoke(app, ["notify", "digest", "--dry-run"])
        posted = runner.invoke(app, ["notify", "digest"])
        again = runner.invoke(app, ["notify", "digest", "--dry-run"])
    assert empty.exit_code == 0 and "nothing to post" in empty.output
    assert shown.exit_code == 0 and "1 alert judged not needing attention" in shown.output
    assert "api: [bold]DiskFull[/bold]: recovered" in shown.output and "not posted" in shown.output
    assert posted.exit_code == 0 and len(receiver.bodies) == 1
    assert again.exit_code == 0 and "nothing to post" in again.output


def test_notify_digest_without_a_url_says_so(memory):
    result = CliRunner().invoke(app, ["notify", "digest"])
    assert result.exit_code == 2 and "BIANQUE_NOTIFY_URL" in result.output


@pytest.mark.parametrize(("cron", "said"), [("0 9 * *", "expected a crontab of 5 fields"),
                                            ("0 25 * * *", "hour '25'")])
def test_a_digest_crontab_that_cannot_be_read_names_the_variable(cron, said, monkeypatch, bianque_home):
    monkeypatch.setenv("BIANQUE_NOTIFY_URL", "http://127.0.0.1:9/hook")
    monkeypatch.setenv("BIANQUE_NOTIFY_DIGEST", cron)
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="BIANQUE_NOTIFY_DIGEST") as refused:
        digest_trigger(get_settings())
    assert said in str(refused.value) and str(refused.value).startswith("invalid setting: BIANQUE_NOTIFY_DIGEST: ")


def test_the_scheduler_runs_the_digest_only_when_one_is_asked_for(bianque_home, monkeypatch):
    from agent.scheduler.digest import DIGEST_JOB
    from agent.scheduler.service import start_scheduler

    monkeypatch.setenv("BIANQUE_NOTIFY_URL", "http://127.0.0.1:9/hook")
    get_settings.cache_clear()
    for digest, jobs in ((None, []), (CRON, [DIGEST_JOB])):
        settings = get_settings().model_copy(update={"notify_digest": digest, "skills_dirs": []})
        scheduler = start_scheduler(settings, paused=True)
        try:
            assert [job.id for job in scheduler.get_jobs(jobstore="local") if job.id == DIGEST_JOB] == jobs
        finally:
            scheduler.shutdown(wait=False)


def test_where_notifications_go_says_when_a_digest_is_posted(bianque_home, monkeypatch):
    from agent.cli.notify import notification_line

    monkeypatch.setenv("BIANQUE_NOTIFY_URL", "http://127.0.0.1:9/hook")
    get_settings.cache_clear()
    assert "digest" not in notification_line(get_settings())
    line = notification_line(get_settings().model_copy(update={"notify_digest": CRON}))
    assert line.endswith("; a digest of the alerts judged not needing attention on '0 9 * * *' (UTC)")


@pytest.mark.parametrize("command", [["schedule", "start"], ["serve", "--with-scheduler", "--port", "9"]])
def test_a_digest_crontab_that_cannot_be_read_stops_the_scheduler_before_anything_starts(command, bianque_home,
                                                                                         monkeypatch):
    monkeypatch.setenv("BIANQUE_NOTIFY_URL", "http://127.0.0.1:9/hook")
    monkeypatch.setenv("BIANQUE_NOTIFY_DIGEST", "0 9 * * 8")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2 and "BIANQUE_NOTIFY_DIGEST" in result.output and "Traceback" not in result.output


def test_a_manual_digest_beside_the_scheduled_one_lists_each_alert_once(memory, digest_settings, monkeypatch):
    """`notify digest` did not take its period: run while the scheduled digest was posting, both posted the same
    alerts."""
    from agent.notify.delivery import Notifier

    send, manual, started = Notifier.send, [], []

    def send_and_run_by_hand(self, notice, **kwargs):
        if not started:  # while the scheduled digest posts, someone runs it by hand (once)
            started.append(True)
            manual.append(CliRunner().invoke(app, ["notify", "digest"]))
        return send(self, notice, **kwargs)

    with receiving() as receiver:
        digest_settings(receiver.url)
        first = alert_case(memory)
        monkeypatch.setattr(Notifier, "send", send_and_run_by_hand)
        assert scheduled_digest(now=next_tick(memory) + 5) is True
        assert manual[0].exit_code == 0 and "taken by another run" in manual[0].output, manual[0].output
    assert [[a["case_id"] for a in body["bianque"]["alerts"]] for body in receiver.bodies] == [[first]]


def test_a_manual_digest_takes_its_period_from_the_next_scheduled_one(memory, digest_settings):
    with receiving() as receiver:
        digest_settings(receiver.url)
        first = alert_case(memory)
        result = CliRunner().invoke(app, ["notify", "digest"])
        assert result.exit_code == 0 and "digest of 1 alert(s) delivered" in result.output, result.output
        second = alert_case(memory, alertname="Later")
        assert scheduled_digest(now=next_tick(memory) + 5) is True  # only what came after the manual run
    assert [[a["case_id"] for a in body["bianque"]["alerts"]] for body in receiver.bodies] == [[first], [second]]
