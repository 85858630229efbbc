"""A pod replaced mid-window: its successor's series continue its own, so the service is still judged."""

from __future__ import annotations

import numpy as np

from agent.config import PROJECT_ROOT
from agent.events import Event, Pattern
from agent.graph.analysis import analyze_gathered
from agent.graph.continued import continued, without_new_replicas
from agent.graph.gathered import series_by_signal
from agent.series import Series
from agent.skills.library import load_library
from tests.test_catch_all import T0, _gathered

SPLIT = 52  # the minute the pod was replaced: after the RCA reference ends (ten minutes before the alert)


def _series(metric: str, pod: str, minutes: range, **labels: str) -> Series:
    times = T0 - 3600 + 60.0 * np.asarray(minutes, dtype=float)
    return Series(metric, {"service": "svc", "instance": pod, **labels}, times, np.arange(len(minutes), dtype=float))


def test_a_replaced_pods_series_is_continued_by_its_successors():
    old, new = _series("m", "svc-a", range(0, SPLIT)), _series("m", "svc-b", range(SPLIT, 66))
    replica = _series("m", "svc-c", range(0, 66))  # running beside both: another role's series
    other_metric = _series("n", "svc-d", range(SPLIT, 66))
    other_labels = _series("m", "svc-e", range(SPLIT, 66), route="/x")
    no_pod = Series("m", {"service": "svc"}, new.timestamps, new.values)
    out = continued([old, replica, new, other_metric, other_labels, no_pod])
    joined = out[0]
    assert joined.labels == old.labels  # under the first pod's labels: its history, a day back, still matches
    assert np.array_equal(joined.timestamps, np.concatenate([old.timestamps, new.timestamps]))
    assert np.array_equal(joined.values, np.concatenate([old.values, new.values]))
    assert out[1:] == [replica, other_metric, other_labels, no_pod]  # the rest as they were, in order


def test_successive_restarts_chain_and_each_successor_continues_the_latest_ended():
    first, second = _series("m", "a-1", range(0, 20)), _series("m", "b-1", range(0, 47))
    third, fourth = _series("m", "a-2", range(25, 45)), _series("m", "x-3", range(50, 66))
    [one, two] = continued([first, second, third, fourth])
    assert one.labels["instance"] == "a-1" and len(one) == 20 + 20  # a-2 began after a-1 ended, b-1 still ran
    assert two.labels["instance"] == "b-1" and len(two) == 47 + 16  # b-1 ended after a-2: x-3 follows it


def test_a_service_whose_pod_was_replaced_before_the_alert_is_still_judged():
    skill = load_library([PROJECT_ROOT / "skills"]).get("generic-rca").skill
    rng = np.random.default_rng(0)
    latency = 0.2 + rng.normal(0.0, 0.01, 66)
    latency[58:] += 0.3  # slow from two minutes before the alert, on the new pod
    item = _gathered("latency", "request_latency_seconds", latency)
    old = {**item, "labels": {"service": "svc", "instance": "svc-7d9-abcde"}, "t": item["t"][:SPLIT],
           "v": item["v"][:SPLIT]}
    new = {**item, "labels": {"service": "svc", "instance": "svc-7d9-fghij"}, "t": item["t"][SPLIT:],
           "v": item["v"][SPLIT:]}
    gathered = {"series": [old, new], "logs": [], "changes": []}
    [series] = series_by_signal(gathered)["latency"].current["svc"]
    assert len(series) == 66
    event = Event(pattern=Pattern.RCA, time=T0, service="svc")
    findings = analyze_gathered(skill, event, gathered, ["svc"], {"start": T0 - 3600, "end": T0 + 300, "anchor": T0})
    slow = [f for f in findings if f.metric == "request_latency_seconds" and f.score >= 0.5]
    assert slow and slow[0].subject == "svc/svc-7d9-abcde"


def test_a_pod_label_is_read_as_instance_is_and_only_successors_of_one_role_are_joined():
    def pod(name: str, minutes: range, **labels: str) -> Series:
        times = T0 - 3600 + 60.0 * np.asarray(minutes, dtype=float)
        return Series("m", {"service": "svc", "pod": name, **labels}, times, np.zeros(len(minutes)))

    [joined] = continued([pod("p-1", range(0, 30)), pod("p-2", range(30, 66))])
    assert joined.labels["pod"] == "p-1" and len(joined) == 66
    canary = [pod("p-1", range(0, 30), version="v1"), pod("p-2", range(30, 66), version="v2")]
    assert continued(canary) == canary  # a new version is another role: a release is judged by its versions
    side_by_side = [pod("p-1", range(0, 33)), pod("p-2", range(30, 66))]
    assert continued(side_by_side) == side_by_side  # both scraped for three minutes: two processes, not one


def test_a_rolling_updates_old_pod_scraped_a_sample_or_two_after_its_successor_began_is_continued_by_it():
    for overlap in (1, 2):
        old = _series("m", "svc-a", range(0, SPLIT + overlap))
        new = _series("m", "svc-b", range(SPLIT, 66))
        new = Series(new.metric, new.labels, new.timestamps, new.values + 100.0)  # told apart from the old pod's
        [joined] = continued([old, new])
        assert joined.labels == old.labels and len(joined) == 66 and np.all(np.diff(joined.timestamps) > 0)
        assert np.array_equal(joined.values[SPLIT:], new.values)  # where both report, the new pod's samples


def test_a_pod_added_mid_window_is_left_to_its_siblings_unless_one_began_with_it_or_ended_before_it():
    old, added = _series("m", "svc-a", range(0, 66)), _series("m", "svc-b", range(30, 66))
    other_role = _series("m", "svc-c", range(30, 66), route="/x")
    no_pod = Series("m", {"service": "svc"}, added.timestamps, added.values)
    assert without_new_replicas([old, added, other_role, no_pod]) == [old, other_role, no_pod]
    together = [old, _series("m", "svc-b", range(2, 66))]  # began within MIN_REFERENCE samples of its sibling
    assert without_new_replicas(together) == together
    overlapping = [_series("m", "svc-a", range(0, 40)), added]  # a long handover: the old pod ended first
    assert without_new_replicas(overlapping) == overlapping


def _with_replica(item: dict, began: int, factor: float) -> list[dict]:
    """``item`` as one pod's series and a pod added at minute ``began`` reporting ``factor`` times its values."""
    old = {**item, "labels": {**item["labels"], "instance": "svc-7d9-abcde"}}
    new = {**item, "labels": {**item["labels"], "instance": "svc-7d9-fghij"}, "t": item["t"][began:],
           "v": (np.asarray(item["v"][began:]) * factor).tolist()}
    return [old, new]


def _judged(skill_name: str, pattern: Pattern, series: list[dict],
            window: dict[str, float] | None = None) -> set[tuple[str, str | None, str, float]]:
    skill = load_library([PROJECT_ROOT / "skills"]).get(skill_name).skill
    event = Event(pattern=pattern, time=T0, service="svc")
    findings = analyze_gathered(skill, event, {"series": series, "logs": [], "changes": []}, ["svc"],
                                window or {"start": T0 - 3600, "end": T0 + 300, "anchor": T0})
    return {(f.subject, f.metric, f.detector, f.score) for f in findings}


def test_a_pod_added_mid_window_changes_nothing_of_how_its_service_is_judged_before_an_alert():
    rng = np.random.default_rng(3)
    latency = 0.2 + rng.normal(0.0, 0.01, 66)
    latency[57:] += 0.04  # a little slower at the alert
    item = _gathered("latency", "request_latency_seconds", latency)
    [old, new] = _with_replica(item, 44, 1.1)  # a few samples before the RCA reference ends
    alone = _judged("generic-rca", Pattern.RCA, [old])
    assert alone and _judged("generic-rca", Pattern.RCA, [old, new]) == alone  # not judged on its short reference


def test_a_pod_added_mid_window_is_not_one_more_series_an_inspection_judges():
    rng = np.random.default_rng(3)
    peak = 0.2 + rng.normal(0.0, 0.01, 250)
    peak[220] += 0.1  # one point far out in the inspected hour, after a reference three times as long
    item = _gathered("latency", "request_latency_seconds", peak)
    [old, new] = _with_replica(item, 100, 1.0)  # within the reference
    window = {"start": T0 - 3600, "end": T0 - 3600 + 250 * 60, "anchor": T0 - 3600 + 250 * 60,
              "reference_end": T0 - 3600 + 190 * 60}
    alone = _judged("generic-inspection", Pattern.INSPECTION, [old], window)
    assert max(score for *_, score in alone) > 0.3  # the weak cap lifted: the count of series judged matters
    assert _judged("generic-inspection", Pattern.INSPECTION, [old, new], window) == alone  # one series judged
