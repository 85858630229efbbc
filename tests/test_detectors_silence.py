"""A target that stopped answering: its series end while the rest of the system goes on being sampled."""

from __future__ import annotations

import numpy as np

from agent.config import PROJECT_ROOT
from agent.detectors.onset import detect_onset
from agent.detectors.silence import detect_silence
from agent.events import Event, Pattern
from agent.findings import Finding, FindingKind, number_findings
from agent.graph.analysis import analyze_gathered
from agent.reasoners.faults import classify_fault
from agent.reasoners.ranking import rank_services
from agent.series import Series
from agent.skills.library import load_library
from tests.test_catch_all import T0 as ALERT
from tests.test_catch_all import _gathered

T0 = 1_700_000_000.0
STEP = 60.0
N = 30  # samples of a service that answers to the end
START, END, JUDGED = T0, T0 + N * STEP, T0 + 20 * STEP


def series(service: str, metric: str, count: int = N, *, times: np.ndarray | None = None,
           values: np.ndarray | None = None) -> Series:
    ts = T0 + STEP * np.arange(count) if times is None else times
    vals = np.full(ts.size, 10.0) + np.arange(ts.size) % 3 if values is None else values
    return Series(metric, {"service": service, "instance": f"{service}-0"}, ts, vals)


def system(**quiet: int) -> dict[str, list[Series]]:
    """Three services, each with two series; ``quiet[service]`` samples of those that stopped early."""
    return {name: [series(name, "cpu", quiet.get(name, N)), series(name, "latency", quiet.get(name, N))]
            for name in ("api", "cart", "db")}


def silent(by_service: dict[str, list[Series]], judged_from: float = JUDGED) -> list:
    return detect_silence(by_service, start=START, end=END, judged_from=judged_from)


def test_a_service_whose_series_all_stopped_went_silent_dated_by_its_last_sample():
    [finding] = silent(system(db=24))  # 6 scrapes missed while api and cart kept answering
    assert finding.kind == FindingKind.WENT_SILENT and finding.service == "db"
    assert finding.onset == T0 + 23 * STEP
    assert finding.numbers["missed_scrapes"] == 6
    assert 0.7 < finding.score < 0.8  # twice the three-scrape threshold: saturate(2)
    assert "stopped answering" in finding.summary and "6 scrapes" in finding.summary


def test_the_summary_counts_only_the_services_sampled_after_it_went_quiet():
    by_service = {**system(db=22, cart=22), "web": [series("web", "cpu")]}  # api and web answered on
    [finding] = [f for f in silent(by_service) if f.service == "db"]
    assert "while the other 2 service(s) kept being sampled" in finding.summary


def test_two_of_three_services_silent_together_are_both_reported():
    """The third service kept being sampled: the two silent ones do not hide each other (their median would)."""
    assert sorted(f.service for f in silent(system(db=26, cart=26))) == ["cart", "db"]  # 4 scrapes missed


def test_one_service_whose_data_ends_late_does_not_make_the_others_silent():
    by_service = {name: [series(name, "cpu", 24)] for name in ("api", "cart", "db", "web", "auth", "mail")}
    by_service["late"] = [series("late", "cpu")]
    assert silent(by_service) == []


def test_one_or_two_missed_scrapes_at_the_end_are_no_silence():
    assert silent(system(db=28)) == []


def test_missing_samples_in_the_middle_are_no_silence():
    by_service = system()
    keep = np.r_[0:18, 24:N]  # six scrapes missed, then it answered again
    by_service["db"] = [series("db", m, times=T0 + STEP * keep) for m in ("cpu", "latency")]
    assert silent(by_service) == []


def test_the_whole_system_stopping_is_the_collectors_gap_not_a_service_silent():
    assert silent(system(api=24, cart=24, db=24)) == []
    assert silent({"db": [series("db", "cpu", 24)]}) == []  # nothing else was sampled


def test_a_replaced_pod_keeps_its_service_answering():
    by_service = system()
    old = series("db", "cpu", 15)
    new = Series("cpu", {"service": "db", "instance": "db-1"}, T0 + STEP * np.arange(15, N), np.full(N - 15, 10.0))
    by_service["db"] = [old, new]
    assert silent(by_service) == []


def test_one_series_ending_early_while_the_services_other_series_go_on_is_no_silence():
    by_service = system()
    by_service["db"] = [series("db", "cpu", 20), series("db", "latency")]
    assert silent(by_service) == []


def test_a_naturally_sparse_service_is_judged_against_its_own_longest_gap():
    by_service = system()
    sparse = T0 + STEP * np.array([0, 5, 6, 12, 13, 14, 22])  # gaps of up to 8 minutes, last seen 7 minutes before
    by_service["db"] = [series("db", "errors", times=sparse)]
    assert silent(by_service) == []
    by_service["db"] = [series("db", "errors", times=sparse[:-1])]  # 15 minutes now: longer than any gap before
    [finding] = silent(by_service, judged_from=T0 + 10 * STEP)
    assert finding.service == "db"


def test_a_service_silent_since_before_the_judged_part_is_old_news():
    assert silent(system(db=24), judged_from=T0 + 25 * STEP) == []


def test_jittered_scrape_times_still_count_three_missed_scrapes():
    rng = np.random.default_rng(1)
    by_service = {name: [series(name, "cpu", times=T0 + STEP * np.arange(count) + rng.uniform(-5, 5, count))]
                  for name, count in (("api", N), ("cart", N), ("db", N - 3))}
    [finding] = silent(by_service)
    assert finding.service == "db" and finding.numbers["missed_scrapes"] == 3


def test_a_callee_that_stopped_answering_ranks_above_its_slowed_caller():
    """The callee's series end at the fault; its caller's latency rises after that: the callee is the cause."""
    by_service = system(db=24)
    rising = np.r_[np.full(24, 0.1), np.full(N - 24, 0.9)] + 0.005 * (np.arange(N) % 3)
    by_service["api"] = [series("api", "request_latency_seconds", values=rising)]
    findings = silent(by_service) + detect_onset(by_service["api"], start=START, end=END, baseline_end=JUDGED,
                                                 direction="up")
    ranked = rank_services(number_findings(findings), [], {"api": ["cart", "db"], "cart": [], "db": []})
    assert ranked[0].service == "db"
    assert classify_fault(ranked[0].findings) == "error_fault"


def test_an_rca_reads_a_service_that_stopped_answering_across_its_signals():
    """The gathered series of every signal of a service at once: its latency and its CPU both ended two minutes
    before the alert (five scrapes before the data's end) while its caller's went on; an inspection is not asked."""
    skill = load_library([PROJECT_ROOT / "skills"]).get("generic-rca").skill
    steady = 0.2 + 0.01 * (np.arange(66) % 3)  # an hour before the alert to five minutes after it
    callee = [_gathered("latency", "request_latency_seconds", steady[:58], "db"),
              _gathered("cpu", "cpu_usage_seconds", steady[:58], "db")]
    gathered = {"series": [_gathered("latency", "request_latency_seconds", steady, "api"), *callee],
                "logs": [], "changes": []}
    window = {"start": ALERT - 3600, "end": ALERT + 300, "anchor": ALERT}
    event = Event(pattern=Pattern.RCA, time=ALERT, service="api")
    [finding] = [f for f in analyze_gathered(skill, event, gathered, ["api"], window)
                 if f.kind == FindingKind.WENT_SILENT]
    assert finding.service == "db" and finding.onset == ALERT - 3600 + 57 * 60
    assert "its 2 series" in finding.summary
    inspection = Event(pattern=Pattern.INSPECTION, time=ALERT + 300, service="api")
    assert not [f for f in analyze_gathered(skill, inspection, gathered, ["api"], window)
                if f.kind == FindingKind.WENT_SILENT]


def _fact(service: str, kind: FindingKind, score: float, onset_at: int, metric: str | None = None) -> Finding:
    """A Finding of ``service`` with its onset at sample ``onset_at``."""
    return Finding(kind=kind, subject=service, service=service, metric=metric, window_start=START, window_end=END,
                   score=score, onset=T0 + onset_at * STEP, direction="up" if metric else None, summary="x")


def test_a_silent_service_nothing_calls_weighs_less_than_a_deviating_one():
    """db's latency rose and api's after it; cart, which nothing calls, went quiet: what it stopped answering
    reached no one, so its silence does not outrank db's deviation; a called or an alerted service's does."""
    findings = number_findings([
        _fact("db", FindingKind.ANOMALY, 0.6, 20, "request_latency_seconds"),
        _fact("api", FindingKind.ANOMALY, 0.7, 21, "request_latency_seconds"),
        _fact("cart", FindingKind.WENT_SILENT, 0.75, 23)])
    uncalled = {"api": ["db"], "cart": ["db"], "db": []}
    ranked = rank_services(findings, [], uncalled, ["api"])
    cart = next(e for e in ranked if e.service == "cart")
    assert ranked[0].service == "db" and not cart.anomalous and any("nothing calls it" in n for n in cart.notes)
    assert next(e for e in rank_services(findings, [], uncalled, ["cart"]) if e.service == "cart").anomalous
    assert rank_services(findings, [], {"api": ["cart", "db"], "cart": [], "db": []}, ["api"])[0].service == "cart"
    assert next(e for e in rank_services(findings, [], {}, ["api"]) if e.service == "cart").anomalous  # no graph


def test_a_finished_batch_job_reads_as_silent_but_nothing_calls_it_so_it_is_not_blamed():
    """A job that wound down and ended (or a service scaled to zero) leaves the same trace as a crash: its series
    end while the others go on. Timing cannot tell them apart (docs/detectors.md), so the Finding is made; nothing
    calls the job, so no caller felt its silence and the ranking does not make it anomalous by it alone."""
    by_service = system()
    winding_down = np.r_[np.full(16, 40.0), np.linspace(40.0, 1.0, 8)]
    by_service["nightly-export"] = [series("nightly-export", "rows_written_total", 24, values=winding_down)]
    [finding] = silent(by_service)
    assert finding.service == "nightly-export"
    topology = {"api": ["cart", "db"], "cart": [], "db": [], "nightly-export": ["db"]}
    [job] = [e for e in rank_services(number_findings([finding]), [], topology, ["api"])
             if e.service == "nightly-export"]
    assert not job.anomalous
