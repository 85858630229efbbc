"""Any metric name: the generic Skills' catch-all signal and the bad direction read off the name."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from agent.bundles.reader import load_bundle
from agent.bundles.writer import write_bundle
from agent.cli.app import app
from agent.config import PROJECT_ROOT, get_settings
from agent.detectors.direction import infer_direction
from agent.events import ChangeEvent, Event, InspectionScope, Pattern
from agent.graph.analysis import analyze_gathered, family_twin
from agent.investigate import investigate
from agent.runtime import bundle_toolkit
from agent.series import Series
from agent.skills.library import load_library
from agent.skills.schema import MetricSignal
from agent.timeparse import to_epoch

T0 = to_epoch("2026-03-02T10:00:00Z")


@pytest.fixture(scope="module")
def skill_library():
    library = load_library([PROJECT_ROOT / "skills"])
    return {name: library.get(name).skill for name in ("generic-rca", "generic-inspection", "generic-release")}


def investigate_bundle(path):
    bundle = load_bundle(path)
    return investigate(bundle.event, bundle_toolkit(bundle, get_settings(), knowledge=None, memory=None),
                       source="cli")


@pytest.mark.parametrize(("name", "direction"), [
    ("http_request_duration_seconds", "up"), ("pod_client_latency_p99_seconds", "up"), ("TravelTime", "up"),
    ("errors_total", "up"), ("requestFailures", "up"), ("pod_success_rate_percent", "down"),
    ("cache_hit_ratio", "down"), ("availability", "down"), ("speed", "both"), ("cpc_results", "both"),
    ("Twitter_volume_AAPL", "both"), ("cpu_usage_rate_percent", "both"),
    ("5XXError", "up"), ("HTTPCode_Target_5XX_Count", "up"), ("ThrottledRequests", "up"),
    ("UnHealthyHostCount", "up"), ("HealthyHostCount", "down"), ("FreeableMemory", "down"), ("p99Latency", "up"),
    # a unit or quantile says a wait; a rate, a prefix, a total, a histogram's count or sum, a clock offset do not
    ("pod_client_p99_seconds", "up"), ("gc_pause_ms", "up"), ("checkout_rt", "up"), ("api_p95", "up"),
    ("records_processed_per_ms", "both"), ("ms_requests_total", "both"), ("node_cpu_seconds_total", "both"),
    ("http_server_requests_seconds_count", "both"), ("request_duration_seconds_sum", "both"),
    ("node_timex_offset_seconds", "both"), ("cert_expiry_seconds", "both"), ("uptime_seconds", "down"),
    # a physical reading goes wrong either way, whatever the words beside it (a machine's failure shows as a fall)
    ("machine_temperature_system_failure", "both"), ("node_hwmon_temp_celsius", "both"),
    # ... unless the name counts errors (a plural, a participle, a total)
    ("sensor_voltage_errors", "up"), ("temperature_read_failures_total", "up"), ("temp_celsius_reads_failed", "up"),
    ("voltage_error", "both"),
    # a point in time is no wait (every Prometheus client exports its process' start time); succ is success
    ("process_start_time_seconds", "both"), ("node_boot_time_seconds", "both"), ("last_seen_time", "both"),
    ("succ_rate", "down"), ("err_rate", "up"), ("ErrCount", "up"), ("stderr_lines", "both"),
    # a process dying or slow queries piling up; free space falling (exporters' names)
    ("kube_pod_container_status_restarts_total", "up"), ("container_oom_events_total", "up"),
    ("mysql_global_status_slow_queries", "up"), ("node_filesystem_avail_bytes", "down"),
    # utilisation and saturation (USE): a resource busier or more saturated is worse, whatever adds it up
    ("ec2_cpu_utilization", "up"), ("gpu_utilisation_percent", "up"), ("disk_io_util", "up"),
    ("apache_busy_workers", "up"), ("process_busy_seconds_total", "up"), ("node_pressure_saturation", "up"),
    ("ThreadPoolSaturated", "up"),
    # work waiting: a queue's length, a backlog, what is pending grows when a service falls behind ...
    ("queue_depth", "up"), ("sqs_queue_length", "up"), ("kafka_backlog_messages", "up"),
    ("scheduler_pending_pods", "up"), ("pending_count", "up"), ("BacklogCount", "up"), ("jobs_queued", "up"),
    ("workqueue_depth", "up"), ("apiserver_flowcontrol_current_inqueue_requests", "up"),  # one word: Kubernetes'
    # ... not who serves a queue: fewer consumers is what backs it up
    ("rabbitmq_queue_consumers", "both"), ("queue_workers", "both"),
    # ... but a total, or a histogram's part, counts what went through (a rate of work, either way)
    ("rabbitmq_queue_messages_published_total", "both"), ("workqueue_adds_total", "both"),
    ("queue_wait_seconds_count", "both"),
    # what is left of a queue or a pool falls when it fills
    ("queue_free_slots", "down"),
])
def test_direction_is_read_off_the_name(name, direction):
    assert infer_direction(name) == direction


def test_auto_direction_needs_a_comparison_that_can_go_either_way():
    with pytest.raises(ValidationError, match="direction: auto"):
        MetricSignal(id="x", name="*", direction="auto", compare="trend")
    signal = MetricSignal(id="x", name="*", direction="auto", catch_all=True)
    assert signal.direction_for("checkout_latency_ms") == "up"
    assert signal.direction_for("speed") == "both"


def _gathered(signal: str, metric: str, values: np.ndarray, service: str = "svc") -> dict:
    times = (T0 - 3600 + 60.0 * np.arange(values.size)).tolist()
    return {"signal": signal, "service": service, "role": "target", "period": "current", "metric": metric,
            "labels": {"service": service}, "t": times, "v": values.tolist(), "source": "test"}


def test_the_catch_all_reads_unknown_names_and_leaves_named_metrics_to_their_signals(skill_library):
    skill = skill_library["generic-rca"]
    rng = np.random.default_rng(0)
    speed = 60.0 + rng.normal(0.0, 1.0, 66)
    speed[55:] -= 25.0  # an unknown metric collapses at the alert
    latency = 0.2 + rng.normal(0.0, 0.01, 66)
    latency[55:] += 0.3
    gathered = {"series": [
        _gathered("other", "speed", speed),
        _gathered("latency", "request_latency_seconds", latency),
        _gathered("other", "request_latency_seconds", latency),  # also fetched by the catch-all's "*"
    ], "logs": [], "changes": []}
    event = Event(pattern=Pattern.RCA, time=T0, service="svc")
    window = {"start": T0 - 3600, "end": T0 + 300, "anchor": T0}
    findings = analyze_gathered(skill, event, gathered, ["svc"], window)
    by_metric = {(f.signal, f.metric) for f in findings if f.kind == "anomaly" and f.score >= 0.5}
    assert ("other", "speed") in by_metric
    assert ("latency", "request_latency_seconds") in by_metric
    assert ("other", "request_latency_seconds") not in {(f.signal, f.metric) for f in findings}
    speed_finding = next(f for f in findings if f.metric == "speed" and f.score >= 0.5)
    assert speed_finding.direction == "down"  # "both": a fall is caught too


@pytest.mark.parametrize(("skill", "metric", "twin"), [
    ("generic-release", "rt_p50", "latency"), ("generic-release", "err_rate", "errors"),
    ("generic-release", "succ_rate", "success"), ("generic-rca", "mem_used", "memory"),
    ("generic-release", "mem_used", None),  # read both ways by the catch-all, rises alone by the memory signal
    ("generic-inspection", "machine_temperature_system_failure", None),
    ("generic-rca", "qps", None), ("generic-rca", "syscall_read", None),
    ("generic-inspection", "cpu_util", "cpu_change"),  # the catch-all judges against the baseline: so does its twin
])
def test_a_catch_all_series_of_a_named_family_goes_to_that_signal(skill_library, skill, metric, twin):
    library = skill_library[skill]
    catch_all = next(m for m in library.data.metrics if m.catch_all and m.compare == "baseline")
    found = family_twin(library, catch_all, metric)
    assert (found.id if found else None) == twin


def test_a_series_handed_to_its_family_signal_takes_its_history_along(skill_library):
    """A day-before copy of ``rt_p50`` (a release's daily cycle is read off it) goes with it to the latency
    signal; the catch-all keeps its other series and their history."""
    from agent.graph.analysis import _leave_named_metrics_to_their_signals
    from agent.graph.gathered import series_by_signal

    values = np.full(30, 0.01)
    gathered = {"series": [_gathered("other", "rt_p50", values), _gathered("other", "speed", values),
                           {**_gathered("other", "rt_p50", values), "period": "history:86400"},
                           {**_gathered("other", "speed", values), "period": "history:86400"}]}
    signals = series_by_signal(gathered)
    assert signals["other"].history["svc"], "the test world's day-before series are history"
    _leave_named_metrics_to_their_signals(skill_library["generic-release"], signals)
    assert [s.metric for s in signals["latency"].current["svc"]] == ["rt_p50"]
    assert [s.metric for past in signals["latency"].history["svc"].values() for s in past] == ["rt_p50"]
    assert [s.metric for s in signals["other"].current["svc"]] == ["speed"]


def test_a_latency_under_another_name_is_judged_as_the_latency_signal_judges_it(skill_library):
    """A release's p50 26 % up in ``rt_p50``: the generic release Skill's latency signal asks 20 % of a latency,
    its catch-all 30 % of a metric of unknown meaning; the name says latency, so the latency signal judges it."""
    skill = skill_library["generic-release"]
    rng = np.random.default_rng(3)
    values = 0.010 + rng.normal(0.0, 0.0002, 90)
    values[60:] *= 1.26
    event = Event(pattern=Pattern.RELEASE_INTERCEPTION, time=T0 + 1800, service="svc",
                  change={"id": "cfg-9", "type": "config", "service": "svc", "started": T0})
    gathered = {"series": [{**_gathered("other", "rt_p50", values), "t": (T0 - 3600 + 60.0 * np.arange(90)).tolist()}],
                "logs": [], "changes": []}
    window = {"start": T0 - 3600, "end": T0 + 1800, "anchor": T0}
    findings = analyze_gathered(skill, event, gathered, ["svc"], window)
    assert {(f.signal, f.metric) for f in findings if f.score >= 0.5} == {("latency", "rt_p50")}


def test_capitalised_cloud_metric_names_are_read_by_the_named_signals(tmp_path):
    """CloudWatch-style names (``Latency``, ``5XXError``, ``CPUUtilization``) land in the generic Skill's
    latency, errors and cpu signals, so a clear latency step on the alerted service alone needs attention."""
    rng = np.random.default_rng(7)
    times = T0 - 3600 + 60.0 * np.arange(66)
    latency = 0.12 + rng.normal(0.0, 0.005, times.size)
    latency[55:] += 0.4
    series = [Series("Latency", {"service": "CheckoutAPI"}, times, latency),
              Series("5XXError", {"service": "CheckoutAPI"}, times, rng.poisson(1.0, times.size).astype(float)),
              Series("CPUUtilization", {"service": "CheckoutAPI"}, times, 30.0 + rng.normal(0.0, 1.0, times.size))]
    event = Event(pattern=Pattern.RCA, time=T0, service="CheckoutAPI")
    result = investigate_bundle(write_bundle(tmp_path / "case", event, series))
    assert result.skill["name"] == "generic-rca"
    assert result.verdict.needs_attention, result.verdict.attention_reason
    assert "alerted service deviates on latency" in result.verdict.attention_reason
    signals = {f.metric: f.signal for f in result.findings}
    assert signals.get("Latency") == "latency"


@pytest.mark.parametrize("metric", ["cpc_results", "ec2_cpu_utilization", "jvm_memory_used_bytes",
                                    "ec2_disk_write_bytes"])
def test_an_inspection_of_a_system_no_skill_knows_reports_the_anomaly(tmp_path, metric):
    """A reading far outside two days is reported whatever the metric is called, a CPU, memory or disk figure
    too (the generic Skill reads those by name for growth, and for spikes and shifts as any series)."""
    def spike(values: np.ndarray) -> None:
        values[-6] += 40.0  # one reading far outside anything in two days

    assert _inspected_as_serious(tmp_path, metric, spike)


def test_a_reading_named_after_a_failure_is_reported_when_it_falls(tmp_path):
    """A temperature whose name ends in "system_failure" falls far below two days of readings: reported, the
    error word beside a physical reading saying nothing of which way is bad."""
    def fall(values: np.ndarray) -> None:
        values[-10:] -= 35.0  # the machine stops: its temperature drops

    assert _inspected_as_serious(tmp_path, "machine_temperature_system_failure", fall)


@pytest.mark.parametrize("metric", ["ec2_cpu_utilization", "cpu_util"])
def test_an_inspection_reports_a_cpu_utilisation_gone_idle(tmp_path, metric):
    """A CPU share collapsing (a pool with no work left: traffic lost, a pipeline stopped) is news to an
    inspection, though ``direction: auto`` reads a utilisation as bad only when it rises."""
    def idle(values: np.ndarray) -> None:
        values[-10:] = 4.0  # about 50 % busy for two days, then all but idle

    assert _inspected_as_serious(tmp_path, metric, idle)


def _inspected_as_serious(tmp_path, metric, anomaly) -> bool:
    """Two days and two hours of a daily-cycling series named ``metric`` with ``anomaly`` applied to its values,
    inspected over the last two hours by the generic Skill: True when its one service gets a warning or worse."""
    rng = np.random.default_rng(4)
    times = T0 - 2 * 86400 - 7200 + 300.0 * np.arange(2 * 288 + 24)
    values = 50.0 + 5.0 * np.sin(times / 86400 * 2 * np.pi) + rng.normal(0.0, 1.0, times.size)
    anomaly(values)
    event = Event(pattern=Pattern.INSPECTION, time=T0, service="exchange-7",
                  scope=InspectionScope(services=["exchange-7"], window=7200))
    path = write_bundle(tmp_path / "case", event, [Series(metric, {"service": "exchange-7"}, times, values)])
    result = investigate_bundle(path)
    assert result.skill["name"] == "generic-inspection"
    serious = [i for i in result.verdict.items if i.severity in ("warning", "critical")]
    return [i.service for i in serious] == ["exchange-7"]


def test_catalog_shows_the_inferred_direction(tmp_path):
    event = Event(pattern=Pattern.INSPECTION, time=T0, service="s")
    times = T0 - 60.0 * np.arange(3)[::-1]
    path = write_bundle(tmp_path / "case", event, [Series(m, {"service": "s"}, times, np.ones(3))
                                                    for m in ("checkout_duration_ms", "hit_ratio", "speed",
                                                              "http_errors_total")])
    out = CliRunner().invoke(app, ["catalog", "--bundle", str(path), "--json"])
    assert out.exit_code == 0, out.output
    metrics = json.loads(out.output)["metrics"]
    directions = {m["name"]: m["bad_direction"] for m in metrics}
    assert directions == {"checkout_duration_ms": "up", "hit_ratio": "down", "speed": "both", "http_errors_total": "up"}
    assert [m["name"] for m in metrics if m["read_as_rate"]] == ["http_errors_total"]
    families = {m["name"]: m["fault_family"] for m in metrics}
    assert families == {"checkout_duration_ms": "slow_dependency", "hit_ratio": "cache_failure", "speed": None,
                        "http_errors_total": "error_fault"}
    table = CliRunner().invoke(app, ["catalog", "--bundle", str(path)], env={"COLUMNS": "250"})
    assert "rises (its per-second rate)" in table.output
    assert "error_fault" in table.output


def test_the_catch_all_query_leaves_out_what_named_signals_read(skill_library):
    from agent.graph.plan import build_plan
    from agent.sources.promql import selector
    from agent.topology import Topology

    skill = skill_library["generic-rca"]
    event = Event(pattern=Pattern.RCA, time=T0, service="svc")
    plan = build_plan(skill, event, ["svc"], Topology.from_dict({"services": {"svc": {"depends_on": ["db"]}}}))
    other = {t.role: t.query for t in plan.metric_tasks if t.signal == "other"}
    named = {m.name for m in skill.data.metrics if not m.catch_all}
    assert set(other["target"].exclude) == named
    assert set(other["dependency"].exclude) == {m.name for m in skill.data.metrics
                                                if not m.catch_all and m.dependencies}
    expr = selector(other["target"].name, other["target"].matchers, other["target"].exclude)
    assert '__name__!~".*[Ll]atency.*|' in expr and 'service="svc"' in expr


def test_the_bundle_source_honours_the_exclusion(tmp_path):
    from agent.sources.base import MetricQuery
    from agent.sources.bundle import BundleMetricSource

    event = Event(pattern=Pattern.INSPECTION, time=T0, service="s")
    times = T0 - 60.0 * np.arange(3)[::-1]
    path = write_bundle(tmp_path / "case", event, [Series(m, {"service": "s"}, times, np.ones(3))
                                                    for m in ("request_latency_seconds", "speed")])
    source = BundleMetricSource(load_bundle(path))
    query = MetricQuery(name="*", matchers={"service": "s"}, start=T0 - 600, end=T0, exclude=("*latency*",))
    assert [s.metric for s in source.query(query).data] == ["speed"]


def test_a_service_whose_memory_collapses_is_ranked_as_the_cause(tmp_path):
    """A process that restarts (a crash, a kill, a redeploy) drops most of its memory at once; the generic RCA
    Skill reads memory both ways, so that fall marks the restarted callee, not only its slowed caller."""
    rng = np.random.default_rng(11)
    times = T0 - 3600 + 60.0 * np.arange(66)
    onset = 57

    def flat(level: float, noise: float) -> np.ndarray:
        return level + rng.normal(0.0, noise, times.size)

    memory = flat(55.0, 0.6)
    memory[onset:] = flat(20.0, 0.6)[onset:]
    latency = flat(0.40, 0.01)
    latency[onset:] += 0.6
    series = [Series("memory_usage_mebibytes", {"service": "checkout"}, times, memory),
              Series("request_latency_seconds", {"service": "web"}, times, latency)]
    series += [Series("memory_usage_mebibytes", {"service": s}, times, flat(80.0, 0.6)) for s in ("web", "cart")]
    series += [Series("request_latency_seconds", {"service": s}, times, flat(0.05, 0.002))
               for s in ("checkout", "cart")]
    event = Event(pattern=Pattern.RCA, time=T0, service="web")
    path = write_bundle(tmp_path / "case", event, series, topology={"web": ["checkout", "cart"]})
    result = investigate_bundle(path)
    assert result.skill["name"] == "generic-rca"
    assert result.verdict.root_causes[0].service == "checkout", result.verdict.root_causes
    assert any(f.metric == "memory_usage_mebibytes" and f.direction == "down" and f.service == "checkout"
               for f in result.findings)


def test_a_release_shift_on_every_instance_is_reported_once_not_again_as_onsets(skill_library):
    """The before/after comparison pools a service's instances; a shift it reports is not reported a second
    time by the onset reading of each instance (they matched by subject, ``svc`` vs ``svc/svc-0``)."""
    skill = skill_library["generic-release"]
    rng = np.random.default_rng(3)
    series = []
    for instance in ("svc-0", "svc-1"):
        latency = 0.2 + rng.normal(0.0, 0.005, 90)
        latency[70:] += 0.3  # from 10 minutes after the change on
        item = _gathered("latency", "request_latency_seconds", latency)
        item["labels"] = {"service": "svc", "instance": instance}
        series.append(item)
    change = ChangeEvent(id="deploy-1", type="deploy", service="svc", started=T0)  # samples from T0 - 1 h, 1 a minute
    event = Event(pattern=Pattern.RELEASE_INTERCEPTION, time=T0 + 1800, service="svc", change=change)
    window = {"start": T0 - 3600, "end": T0 + 1800, "anchor": T0}
    findings = analyze_gathered(skill, event, {"series": series, "logs": [], "changes": []}, ["svc"], window)
    latency = [f for f in findings if f.metric == "request_latency_seconds"]
    assert [f.kind for f in latency] == ["change_regression"]


def test_families_a_system_does_not_measure_are_a_note_not_missing_data(tmp_path):
    """A service whose one series (``speed``) the catch-all read does not measure memory, cpu or latency: those
    families are one note, not a list of missing data; a service with no series at all keeps its gap."""
    rng = np.random.default_rng(5)
    times = T0 - 7200 + 300.0 * np.arange(25)
    event = Event(pattern=Pattern.INSPECTION, time=T0, service="speed-1",
                  scope=InspectionScope(services=["speed-1", "ghost"], window=7200))
    path = write_bundle(tmp_path / "case", event,
                        [Series("speed", {"service": "speed-1"}, times, 60.0 + rng.normal(0.0, 1.0, times.size))])
    result = investigate_bundle(path)
    assert result.skill["name"] == "generic-inspection"
    missing = result.report[result.report.index("## Missing data"):result.report.index("## Provenance")]
    assert "no data for ghost" in missing and "speed-1" not in missing
    (note,) = [n for n in result.notes if "not measured" in n]
    assert note.startswith("metric families memory, disk, cpu, cpu_change and 5 more: not measured on speed-1 (")
    assert "ghost" not in note and "other" not in note.split("(")[0]


@pytest.mark.parametrize(("metric", "reported"), [("metric_017", True), ("requests_per_second", False)])
def test_the_catch_alls_growth_is_a_leak_not_a_rate_of_work(skill_library, metric, reported):
    """A series no name explains growing steadily beyond all its reference showed may be a leak; a request rate
    growing is load (the day's ramp), which the catch-all's baseline signal judges as any series."""
    rng = np.random.default_rng(3)
    values = np.concatenate([100.0 + rng.normal(0.0, 1.0, 60), np.linspace(100.0, 300.0, 120)])
    row = _gathered("other_growth", metric, values) | {
        "t": (T0 - 3 * 3600 + 60.0 * np.arange(values.size)).tolist()}
    event = Event(pattern=Pattern.INSPECTION, time=T0, scope=InspectionScope(services=["svc"], window=7200))
    window = {"start": T0 - 3 * 3600.0, "end": T0, "anchor": T0, "reference_end": T0 - 7200.0}
    gathered = {"series": [row], "logs": [], "changes": []}
    findings = analyze_gathered(skill_library["generic-inspection"], event, gathered, ["svc"], window)
    assert any(f.signal == "other_growth" for f in findings) == reported
