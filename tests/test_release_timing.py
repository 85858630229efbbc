"""Release timing per BUNDLE.md: the change began at ``started`` / ``ts`` / its changes line / ``time``;
the evidence runs from that start up to ``time`` (or over the Skill's window after it); too little
data since the start holds the change and says how long to wait."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.bundles.reader import CaseBundle, load_bundle
from agent.config import PROJECT_ROOT
from agent.events import ChangeEvent, Event, Pattern
from agent.graph.coverage import MIN_OBSERVATION_S, coverage_findings
from agent.graph.plan import time_window
from agent.graph.timing import DEFAULT_RELEASE_OBSERVATION_S, change_start, with_logged_details
from agent.investigate import investigate
from agent.runtime import bundle_toolkit
from agent.series import ChangeRecord, Series
from agent.sim.scenario import build_scenario, write_scenario
from agent.skills.library import load_default_library
from agent.sources.base import ChangeRequest, SourceResult
from agent.timeparse import to_rfc3339

T0 = 1_772_452_800.0  # 2026-03-02T12:00:00Z
SKILL = load_default_library().get("generic-release").skill
LOOKBACK, AFTER = SKILL.window.lookback, SKILL.window.after


class Changes:
    """A change source holding fixed records; records what it was asked."""

    name = "fake-changes"

    def __init__(self, *records: ChangeRecord) -> None:
        self.records = list(records)
        self.requests: list[ChangeRequest] = []

    def query(self, request: ChangeRequest) -> SourceResult[ChangeRecord]:
        self.requests.append(request)
        found = [r for r in self.records if request.start <= r.ts <= request.end]
        return SourceResult.of(self.name, {}, found)


def release(time: float = T0, **change: Any) -> Event:
    return Event(pattern=Pattern.RELEASE_INTERCEPTION, time=time, service="ranking",
                 change=ChangeEvent(id="canary-9", type="canary", service="ranking", **change))


def window(event: Event, changes: Changes | None = None) -> tuple[float, float, float]:
    return time_window(SKILL, event, change_start(event, changes))


# -- where the change began, and the evidence window -----------------------------------------


def test_started_is_the_start_and_the_evidence_ends_at_time():
    event = release(started=T0 - 1200, ts=T0 - 5000)  # started wins over the older ts
    assert window(event) == (T0 - 1200 - LOOKBACK, T0, T0 - 1200)


def test_ts_is_accepted_as_the_start_when_started_is_absent():
    assert window(release(ts=T0 - 900)) == (T0 - 900 - LOOKBACK, T0, T0 - 900)


def test_the_changes_line_with_the_change_id_gives_the_start():
    changes = Changes(
        ChangeRecord(ts=T0 - 2400, service="ranking", type="deploy", id="deploy-1", description="other"),
        ChangeRecord(ts=T0 - 1500, service="ranking", type="canary", id="canary-9", description="this one"),
    )
    assert window(release(), changes) == (T0 - 1500 - LOOKBACK, T0, T0 - 1500)
    assert changes.requests[0].services == ("ranking",)


def test_without_a_start_the_change_began_at_time_and_is_observed_after_it():
    changes = Changes(ChangeRecord(ts=T0 - 600, service="ranking", type="canary", id="canary-other", description=""))
    assert window(release(), changes) == (T0 - LOOKBACK, T0 + AFTER, T0)
    assert window(release()) == (T0 - LOOKBACK, T0 + AFTER, T0)


@pytest.mark.parametrize("offset", [0.0, 300.0])
def test_a_start_not_before_time_is_observed_over_the_skill_window(offset):
    start = T0 + offset
    assert window(release(started=start)) == (start - LOOKBACK, start + AFTER, start)


def test_a_skill_without_an_after_window_observes_the_default():
    skill = SKILL.model_copy(update={"window": SKILL.window.model_copy(update={"after": 0.0})})
    assert time_window(skill, release(started=T0), T0)[1] == T0 + DEFAULT_RELEASE_OBSERVATION_S


def test_change_file_events_are_judged_now_from_when_the_change_began():
    from agent.events import event_from_change

    event = event_from_change(ChangeEvent(id="d1", service="ranking", ts=T0 - 900), now=T0)
    assert event.time == T0 and change_start(event) == T0 - 900
    assert window(event) == (T0 - 900 - LOOKBACK, T0, T0 - 900)


@pytest.mark.parametrize("said", [{}, {"type": None}, {"type": " "}])
def test_a_change_named_by_id_takes_its_type_from_its_own_line(said):
    changes = Changes(ChangeRecord(ts=T0 - 900, service="ranking", type="config", id="cfg-3", description="push"))
    event = Event(pattern=Pattern.RELEASE_INTERCEPTION, time=T0, change=ChangeEvent(id="cfg-3", **said))
    assert with_logged_details(event, changes).change.type == "config"
    told = event.model_copy(update={"change": ChangeEvent(id="cfg-3", type="deploy")})
    assert with_logged_details(told, changes).change.type == "deploy"  # what the event says wins


def test_a_config_push_named_by_id_alone_is_judged_as_a_config_push(tmp_path):
    """The event's change type was read as the default (deploy) whatever the change's line said: the gate chose
    its Skill for a deploy and named the regression a bad release instead of a bad config."""
    bundle = Path(shutil.copytree(PROJECT_ROOT / "examples" / "scenarios" / "release-bad-config", tmp_path / "case"))
    (bundle / "event.yaml").write_text("pattern: release_interception\ntime: '2026-03-28T06:00:00Z'\n"
                                       "change: {id: cfg-24}\n")
    loaded = load_bundle(bundle)
    result = investigate(loaded.event, bundle_toolkit(loaded, knowledge=None, memory=None))
    assert "change type config" in result.skill["reason"]
    assert result.verdict.decision == "block" and result.verdict.root_causes[0].fault == "bad_config"


# -- too little data since the start ---------------------------------------------------------


def gathered_after(start: float, minutes: int, every: int = 60) -> dict[str, Any]:
    """The changed service's series, a sample every ``every`` seconds: an hour before the start (or a day, for
    coarse samples) and ``minutes`` after it."""
    before = max(3600, 24 * every)
    times = [start - before + every * i for i in range(int((before + 60 * minutes) // every) + 1)]
    return {"series": [{"signal": "latency", "service": "ranking", "role": "target", "period": "current",
                        "metric": "latency_seconds", "labels": {"service": "ranking"}, "t": times,
                        "v": [0.1] * len(times)}], "logs": []}


def test_too_little_data_after_the_start_says_when_to_judge_again():
    event = release(started=T0 - 120)
    start, end, anchor = window(event)
    [gap] = coverage_findings(event, gathered_after(anchor, 2), {"start": start, "end": end, "anchor": anchor},
                              ["ranking"], ["latency_seconds"], 60.0)
    assert gap.kind == "missing_data" and gap.numbers["samples"] == 3
    assert gap.summary.startswith(f"only 2m of data since the change began at {to_rfc3339(T0 - 120)}")
    assert f"judge again after {to_rfc3339(T0 - 120 + MIN_OBSERVATION_S)}" in gap.summary


def test_coarse_data_is_held_until_five_of_its_own_samples_have_come():
    """Hourly data 85 minutes after the change holds two samples: judge again four hours after the start,
    not five minutes after it (the Skill's one-minute step is not the data's)."""
    event = release(started=T0 - 85 * 60)
    start, end, anchor = window(event)
    [gap] = coverage_findings(event, gathered_after(anchor, 85, every=3600),
                              {"start": start, "end": end, "anchor": anchor}, ["ranking"], ["latency_seconds"], 60.0)
    assert gap.numbers["samples"] == 2 and gap.numbers["min_observation_s"] == 4 * 3600
    assert f"judge again after {to_rfc3339(anchor + 4 * 3600)} (at least 4.0h and 5 samples)" in gap.summary


def test_a_gap_in_the_data_says_how_many_samples_are_missing_not_a_time_already_past():
    event = release(started=T0 - 40 * 60)
    start, end, anchor = window(event)
    gathered = gathered_after(anchor, 0)
    gathered["series"][0]["t"].append(anchor + 600)  # one sample ten minutes in, then nothing for half an hour
    gathered["series"][0]["v"].append(0.1)
    [gap] = coverage_findings(event, gathered, {"start": start, "end": end, "anchor": anchor}, ["ranking"],
                              ["latency_seconds"], 60.0)
    assert gap.numbers["samples"] == 2 and gap.numbers["ready_at"] <= end
    assert gap.summary.startswith(f"only 2 sample(s) in 10m of data since the change began at {to_rfc3339(anchor)}")
    assert "judge again when 3 more sample(s) have come (none for 30m)" in gap.summary


def test_a_canary_that_stopped_reporting_is_held_though_its_baseline_reports():
    """The canary's series ended two minutes in (a crash loop reports nothing) while the baseline's went on: the
    service's samples were enough, and the gate passed a canary it had two minutes of."""
    event = release(started=T0 - 1200, canary={"version": "v2"}, baseline={"version": "v1"})
    start, end, anchor = window(event)
    [baseline] = gathered_after(anchor, 20)["series"]
    baseline["labels"] = {"service": "ranking", "version": "v1"}
    canary = {**baseline, "labels": {"service": "ranking", "version": "v2"}, "t": [anchor + 60.0 * i for i in range(3)],
              "v": [0.1] * 3}
    [gap] = coverage_findings(event, {"series": [baseline, canary], "logs": []},
                              {"start": start, "end": end, "anchor": anchor}, ["ranking"], ["latency_seconds"], 60.0)
    assert gap.summary.startswith(f"only 2m of the canary's data since the change began at {to_rfc3339(anchor)}")
    assert "judge again when 3 more sample(s) have come (none for 18m)" in gap.summary


def test_data_that_stopped_is_not_told_to_judge_again_at_a_time_already_past():
    """The summary said "when 3 more sample(s) have come", the next step "judge again after" a time before the
    judgement."""
    started = T0 - 1800
    times = np.arange(started - 3600, started + 121, 60.0)
    series = Series("http_request_latency_seconds", {"service": "checkout-api"}, times, np.full(times.size, 0.1))
    event = Event(pattern=Pattern.RELEASE_INTERCEPTION, time=T0, service="checkout-api",
                  change=ChangeEvent(id="deploy-7", service="checkout-api", started=started))
    bundle = CaseBundle(event=event, series=[series])
    verdict = investigate(event, bundle_toolkit(bundle, knowledge=None, memory=None)).verdict
    assert verdict.decision == "hold" and not verdict.judged
    assert "judge again when 3 more sample(s) have come (none for 28m)" in verdict.summary
    assert verdict.actions[-1] == "judge again when 3 more sample(s) have come"


def test_samples_that_stopped_early_are_counted_by_the_time_still_missing():
    """Five samples in the first two minutes and nothing since: three more minutes of samples are missing."""
    event = release(started=T0 - 20 * 60)
    start, end, anchor = window(event)
    gathered = gathered_after(anchor, 0)
    for minute in (1, 2):  # with the one at the start and two more below: five in the first 140 s, then none
        gathered["series"][0]["t"].append(anchor + 60 * minute)
        gathered["series"][0]["v"].append(0.1)
    gathered["series"][0]["t"] += [anchor + 130.0, anchor + 140.0]
    gathered["series"][0]["v"] += [0.1, 0.1]
    [gap] = coverage_findings(event, gathered, {"start": start, "end": end, "anchor": anchor}, ["ranking"],
                              ["latency_seconds"], 60.0)
    assert gap.numbers["samples"] == 5
    assert "judge again when 3 more sample(s) have come (none for 18m)" in gap.summary


def test_a_reference_of_too_few_samples_before_the_change_is_held():
    event = release(started=T0 - 1800)
    start, end, anchor = window(event)
    gathered = gathered_after(anchor, 30)
    series = gathered["series"][0]
    keep = [i for i, t in enumerate(series["t"]) if t >= anchor - 120]  # two samples before the change
    series["t"], series["v"] = [series["t"][i] for i in keep], [series["v"][i] for i in keep]
    [gap] = coverage_findings(event, gathered, {"start": start, "end": end, "anchor": anchor}, ["ranking"],
                              ["latency_seconds"], 60.0)
    assert gap.numbers["reference_samples"] == 2
    assert gap.summary.startswith(f"only 2 sample(s) of ranking in the 60m before the change began at "
                                  f"{to_rfc3339(anchor)}: too few to know its normal")


def test_enough_data_after_the_start_is_judged():
    event = release(started=T0 - 600)
    start, end, anchor = window(event)
    assert coverage_findings(event, gathered_after(anchor, 10), {"start": start, "end": end, "anchor": anchor},
                             ["ranking"], ["latency_seconds"], 60.0) == []


# -- whole investigations on simulator-made bundles ------------------------------------------


@pytest.fixture(scope="module")
def bad_canary() -> dict[str, Any]:
    """A simulated bad canary (labelled block); the bundle holds 30 minutes after the canary began."""
    return build_scenario("release_interception", "bad_release", 11, variant="block").__dict__


def write_variant(tmp_path: Path, scenario: dict[str, Any], **event: Any) -> Path:
    """The scenario as a bundle whose event is changed by ``event`` (a ``change`` dict replaces it)."""
    from agent.sim.scenario import Scenario

    changed = Scenario(**{**scenario, "event": {**scenario["event"], **event}})
    return write_scenario(changed, tmp_path / "case")


def decide(path: Path):
    bundle = load_bundle(path)
    return investigate(bundle.event, bundle_toolkit(bundle, knowledge=None, memory=None)).verdict


def test_the_simulated_bundle_as_written_is_blocked(tmp_path, bad_canary):
    assert decide(write_variant(tmp_path, bad_canary)).decision == "block"


def test_a_bad_canary_that_ran_before_time_is_intercepted(tmp_path, bad_canary):
    """A CD pipeline asks 30 minutes after the canary began; the start comes from changes.jsonl."""
    began = float(bad_canary["event"]["time"])
    change = {k: v for k, v in bad_canary["event"]["change"].items() if k != "ts"}
    verdict = decide(write_variant(tmp_path, bad_canary, time=began + 1800, change=change))
    assert verdict.decision == "block" and verdict.judged


def test_a_canary_asked_about_two_minutes_in_is_held_with_the_wait(tmp_path, bad_canary):
    began = float(bad_canary["event"]["time"])
    change = {**bad_canary["event"]["change"], "started": began}
    verdict = decide(write_variant(tmp_path, bad_canary, time=began + 120, change=change))
    assert verdict.decision == "hold" and verdict.judged is False
    assert "only 2m of the canary's data since the change began" in verdict.summary
    assert f"judge again after {to_rfc3339(began + MIN_OBSERVATION_S)}" in verdict.summary


# -- a regression that does not last the whole observation -----------------------------------


def late_regression_bundle(minutes_bad: int, at_start: bool = False) -> CaseBundle:
    """Latency of the changed service a sample a minute: an hour at 100 ms (with noise) before a change, 30
    minutes after it of which the last ``minutes_bad`` (or, ``at_start``, the first) at 500 ms; judged at the end."""
    rng = np.random.default_rng(7)
    started = T0 - 1800
    times = np.arange(started - 3600, T0 + 1, 60.0)
    values = 0.1 + rng.normal(0, 0.004, times.size)
    if at_start:
        values[(times >= started) & (times < started + 60 * minutes_bad)] = 0.5
    else:
        values[times > T0 - 60 * minutes_bad] = 0.5
    series = Series("http_request_latency_seconds", {"service": "checkout-api"}, times, values)
    event = Event(pattern=Pattern.RELEASE_INTERCEPTION, time=T0, service="checkout-api",
                  change=ChangeEvent(id="deploy-7", type="deploy", service="checkout-api", started=started))
    return CaseBundle(event=event, series=[series])


def test_a_regression_in_the_last_minutes_of_the_observation_is_not_passed():
    """Six bad minutes of thirty leave the observation's median where it was (the before/after comparison
    passes them); held a few samples against the reference, they are a regression all the same."""
    bundle = late_regression_bundle(6)
    verdict = investigate(bundle.event, bundle_toolkit(bundle, knowledge=None, memory=None)).verdict
    assert verdict.decision == "block", verdict.summary
    assert "http_request_latency_seconds" in verdict.summary


def test_no_regression_is_passed():
    bundle = late_regression_bundle(0)
    verdict = investigate(bundle.event, bundle_toolkit(bundle, knowledge=None, memory=None)).verdict
    assert verdict.decision == "pass", verdict.summary


def test_a_warm_up_that_passed_long_before_the_judgement_is_no_regression():
    """Ten slow minutes right after the restart (caches filling, a JIT warming up), normal for the twenty since:
    the change has no lasting effect to hold it for."""
    bundle = late_regression_bundle(10, at_start=True)
    verdict = investigate(bundle.event, bundle_toolkit(bundle, knowledge=None, memory=None)).verdict
    assert verdict.decision == "pass", verdict.summary


def canary_bundle(minutes_bad: int) -> CaseBundle:
    """A canary (v2) and two baseline instances (v1) of one service, a latency sample a minute for 30 minutes
    since the canary began, the canary's last ``minutes_bad`` at 500 ms instead of 100 ms."""
    rng = np.random.default_rng(11)
    started = T0 - 1800
    times = np.arange(started, T0 + 1, 60.0)

    def instance(name: str, version: str, bad: int) -> Series:
        values = 0.1 + rng.normal(0, 0.004, times.size)
        values[times > T0 - 60 * bad] = 0.5
        return Series("http_request_latency_seconds", {"service": "checkout-api", "instance": name,
                                                        "version": version}, times, values)

    series = [instance("c1", "v2", minutes_bad), instance("b1", "v1", 0), instance("b2", "v1", 0)]
    change = ChangeEvent(id="canary-3", type="canary", service="checkout-api", started=started,
                         canary={"version": "v2"}, baseline={"version": "v1"})
    return CaseBundle(event=Event(pattern=Pattern.RELEASE_INTERCEPTION, time=T0, service="checkout-api",
                                  change=change), series=series)


def test_a_canary_getting_worse_in_its_last_minutes_is_not_passed():
    """Six bad minutes of thirty leave the canary's median beside the baseline's; its last minutes do not. The
    instances have no data before the canary began: a canary is judged against its baseline, not its past."""
    verdict = decide_bundle(canary_bundle(6))
    assert verdict.decision in ("hold", "block"), verdict.summary
    assert "over the last" in verdict.summary
    assert decide_bundle(canary_bundle(0)).decision == "pass"


def decide_bundle(bundle: CaseBundle):
    return investigate(bundle.event, bundle_toolkit(bundle, knowledge=None, memory=None)).verdict
