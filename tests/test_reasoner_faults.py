"""Naming the fault kind behind one service's Findings."""

from __future__ import annotations

from agent.findings import Finding, FindingKind
from agent.reasoners.faults import classify_fault, metric_family

T0 = 1714564800.0


def metric(name: str, score: float, direction: str = "up", kind: FindingKind = FindingKind.ANOMALY) -> Finding:
    return Finding(kind=kind, subject="feature-store", service="feature-store", metric=name, direction=direction,
                   window_start=T0 - 3600, window_end=T0, score=score, summary=f"{name} {direction}")


def log(summary: str, score: float = 0.7, level_weight: float | None = None) -> Finding:
    numbers = {} if level_weight is None else {"level_weight": level_weight}
    return Finding(kind=FindingKind.LOG_NEW_TEMPLATE, subject="feature-store", service="feature-store",
                   window_start=T0 - 3600, window_end=T0, score=score, summary=summary, numbers=numbers)


def test_metric_families_by_name():
    assert metric_family("memory_usage_bytes") == "memory_leak"
    assert metric_family("disk_usage_ratio") == "disk_full"
    assert metric_family("request_latency_p99_seconds") == "slow_dependency"
    assert metric_family("pod_success_rate_percent") == "error_fault"
    assert metric_family("widgets_total") is None


def test_short_and_foreign_names_say_their_family_as_whole_words():
    """A system's own short forms name the family as the long ones do: memory as mem standing alone or ending a name,
    a wait by its word or unit (avg_rt, cost_ms: what the direction reads as a wait), an amount of work by tps or
    throughput; inside a longer word they say nothing (memcached, https)."""
    for name in ("mem", "cartservice_mem", "MemUsage", "jvm_heap", "ram_used"):
        assert metric_family(name) == "memory_leak", name
    for name in ("avg_rt", "cost_ms", "TargetResponseTime", "resp_time", "latency-50", "queue_wait_seconds"):
        assert metric_family(name) == "slow_dependency", name
    for name in ("tps", "throughput", "Invocations", "cartservice_workload"):
        assert metric_family(name) == "traffic_spike", name
    assert metric_family("succ_rate") == metric_family("err_rate") == "error_fault"
    for name in ("memcached_items", "https_enabled", "process_start_time_seconds", "request_duration_seconds_sum"):
        assert metric_family(name) is None, name


def test_a_storage_volume_is_disk_and_an_amount_of_traffic_is_not():
    for name in ("kubelet_volume_stats_used_bytes", "VolumeReadBytes", "VolumeQueueLength"):
        assert metric_family(name) == "disk_full", name
    for name in ("Twitter_volume_AAPL", "trade_volume"):
        assert metric_family(name) is None, name


def test_a_request_count_is_traffic_unless_its_name_says_more():
    """Prometheus' and cloud monitoring's usual request counters are traffic, so the ranking can tell where extra
    load entered; a name that also says errors, latency or CPU belongs to that, and requests waiting, in flight
    or configured, a timer's sum or maximum, and system calls are no amount of work."""
    for name in ("http_requests_total", "RequestCount", "elb_request_count", "pod_workload_ops", "qps",
                 "traces_spanmetrics_calls_total", "calls_total", "http_server_requests_seconds_count",
                 "request_duration_seconds_count"):
        assert metric_family(name) == "traffic_spike", name
    assert metric_family("failed_requests_total") == "error_fault"
    assert metric_family("requests_latency_seconds") == "slow_dependency"
    assert metric_family("kube_pod_container_resource_requests_cpu_cores") == "cpu_saturation"
    for name in ("ThrottledRequests", "node_syscalls_total", "system_calls_total", "http_requests_in_flight",
                 "apiserver_current_inflight_requests", "pending_requests", "kube_pod_container_resource_requests",
                 "http_server_requests_seconds_sum", "http.server.requests.max", "request_duration_seconds_sum"):
        assert metric_family(name) is None, name
    assert classify_fault([metric("http_requests_total", 0.9), metric("cpu_usage", 0.8)]) == "traffic_spike"


def test_a_change_before_the_onset_names_the_fault():
    findings = [metric("request_error_ratio", 0.9)]
    assert classify_fault(findings, ["config"]) == "bad_config"
    assert classify_fault(findings, ["deploy"]) == "bad_release"
    assert classify_fault(findings) == "error_fault"


def test_a_resource_trend_outranks_the_latency_it_causes():
    findings = [metric("request_latency_p99_seconds", 0.9), metric("memory_usage_bytes", 0.6, kind=FindingKind.TREND)]
    assert classify_fault(findings) == "memory_leak"


def test_only_the_bad_direction_counts():
    findings = [metric("request_latency_p99_seconds", 0.8), metric("memory_usage_bytes", 0.9, direction="down")]
    assert classify_fault(findings) == "slow_dependency"


def test_slow_requests_in_the_logs_make_errors_with_latency_a_slow_dependency():
    findings = [metric("request_latency_p99_seconds", 1.0), metric("request_error_ratio", 0.9)]
    assert classify_fault(findings) == "error_fault"
    slow_logs = [*findings, log('new WARN log template "slow <*> on shard <*> <DUR>" x30')]
    assert classify_fault(slow_logs) == "slow_dependency"
    timeouts = [*findings, log('new ERROR log template "upstream timeout calling cache"')]
    assert classify_fault(timeouts) == "slow_dependency"


def test_logs_alone_are_an_error_fault_and_nothing_is_unknown():
    assert classify_fault([log('new ERROR log template "NullPointerException in handler"')]) == "error_fault"
    assert classify_fault([log('new ERROR log template "write failed: no space left on device"')]) == "disk_full"
    assert classify_fault([]) == "unknown"


def test_the_services_own_error_logs_are_error_evidence_beside_its_metrics():
    """A code fault (an exception thrown) also moves a metric or two (CPU, requests) a little: the service's new
    ERROR or exception templates say error_fault; a WARN burst is routine and does not."""
    cpu = metric("container_cpu_usage", 0.5)
    exception = log('new ERROR log template "IllegalStateException in OrderController"', 0.8, level_weight=1.0)
    assert classify_fault([cpu, exception]) == "error_fault"
    warn_burst = log('WARN log template "retrying <*>" x40', 0.8, level_weight=0.7)
    assert classify_fault([cpu, warn_burst]) == "cpu_saturation"
    assert classify_fault([metric("container_cpu_usage", 0.95), exception]) == "cpu_saturation"


def test_error_logs_that_name_a_resource_or_a_wait_point_to_it_not_to_errors():
    """An ERROR line's key words say which family it belongs to, at the line's own score."""
    for text, fault in (("write failed: no space left on device", "disk_full"),
                        ("java.lang.OutOfMemoryError: Java heap space", "memory_leak"),
                        ("upstream request timed out after 3s", "slow_dependency"),
                        ("NullPointerException in OrderController", "error_fault")):
        finding = log(f'new ERROR log template "{text}"', 0.8, level_weight=1.0)
        assert classify_fault([finding]) == fault, text
        assert classify_fault([metric("container_cpu_usage", 0.5), finding]) == fault, text


def _share(name: str, before: float, after: float, score: float = 0.95, direction: str = "up") -> Finding:
    """An error or success share (ceiling 1) that moved from ``before`` to ``after``."""
    numbers = {"baseline_median": before, "post_median": after, "ceiling": 1.0}
    return metric(name, score, direction).model_copy(update={"numbers": numbers})


def test_a_latency_rise_with_errors_only_in_its_slow_tail_is_a_slow_dependency():
    """The README's first example: p99 92ms vs 21ms, errors 0.24 % of requests vs 0.06 %: the slow requests'
    timeouts. A fault that fails a visible share of requests stays an error fault, latency or not."""
    latency = metric("request_latency_p99_seconds", 1.0)
    assert classify_fault([latency, _share("request_error_ratio", 0.00057, 0.00244)]) == "slow_dependency"
    assert classify_fault([latency, _share("request_success_ratio", 0.999, 0.997, direction="down")]) == (
        "slow_dependency")
    assert classify_fault([latency, _share("request_error_ratio", 0.001, 0.05)]) == "error_fault"
    assert classify_fault([_share("request_error_ratio", 0.00057, 0.00244)]) == "error_fault"  # no slowness
