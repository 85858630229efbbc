"""Logs as root-cause evidence: exceptions at any level, routine variety ignored, error logs rank a service."""

from __future__ import annotations

import json

from agent.bundles.jsonl_files import read_logs
from agent.detectors.logs import detect_logs, level_weight
from agent.findings import Finding, FindingKind, number_findings
from agent.reasoners.ranking import rank_services
from agent.series import LogRecord

T0 = 1_700_000_000.0
REFERENCE, INCIDENT = (T0 - 600, T0 - 300), (T0 - 300, T0 + 60)


def lines(service: str, level: str, message: str, start: float, count: int) -> list[LogRecord]:
    return [LogRecord(ts=start + i, service=service, level=level, message=message.format(i=i))
            for i in range(count)]


def routine(service: str) -> list[LogRecord]:
    return lines(service, "INFO", "served request {i} in 12 ms", REFERENCE[0], 40) + \
        lines(service, "INFO", "served request {i} in 12 ms", INCIDENT[0], 40)


def test_exception_text_counts_whatever_the_level():
    assert level_weight("INFO", "Servlet.service() threw exception [java.lang.IllegalStateException: x]") == 1.0
    assert level_weight("DEBUG", "at com.shop.Cart.add(Cart.java:42)") == 1.0
    assert level_weight("INFO", "served request <NUM> in <DUR>") < 1.0
    assert level_weight("INFO", "Error: connect ECONNREFUSED <IP>") == 1.0  # Node.js
    assert level_weight("DEBUG", "    at Socket.emit (node:events:517:28)") == 1.0
    assert level_weight("DEBUG", "at Socket.emit (node:events:<NUM>:<NUM>)") == 1.0  # as a template shows it
    assert level_weight("INFO", "thread 'main' panicked at src/cart.rs:<NUM>:<NUM>:") == 1.0  # Rust
    assert level_weight("INFO", "errors: <NUM>, retried: <NUM>") < 1.0  # a counter, not an error
    assert level_weight("INFO", "health check: last error: none") < 1.0  # prose, not a thrown Error
    assert level_weight("INFO", "looked at the cache (hit)") < 1.0
    records = routine("cart") + lines("cart", "INFO", "caught java.lang.NullPointerException in add {i}",
                                      INCIDENT[0] + 50, 6)
    found = detect_logs(records, baseline=REFERENCE, current=INCIDENT)
    assert [f.kind for f in found] == [FindingKind.LOG_NEW_TEMPLATE]
    assert found[0].numbers["level_weight"] == 1.0 and found[0].service == "cart"


def test_a_new_info_template_is_routine_variety_not_evidence():
    records = routine("cart") + lines("cart", "INFO", "cache warmed for region {i}", INCIDENT[0] + 50, 8)
    assert detect_logs(records, baseline=REFERENCE, current=INCIDENT) == []


def _metric(service: str, score: float) -> Finding:
    return Finding(kind=FindingKind.ANOMALY, subject=service, service=service, metric="cpu_usage_ratio",
                   signal="cpu", window_start=T0 - 3600, window_end=T0, onset=T0 - 200, score=score,
                   direction="up", summary=service, numbers={"active_z": 4.0})


def test_new_error_logs_single_out_a_service_whose_metrics_barely_moved():
    records = routine("checkout") + routine("payment") + \
        lines("payment", "ERROR", "charge failed: card processor returned {i}", INCIDENT[0] + 30, 12) + \
        lines("checkout", "WARN", "retrying payment call {i}", REFERENCE[0] + 5, 2) + \
        lines("checkout", "WARN", "retrying payment call {i}", INCIDENT[0] + 40, 20)
    findings = detect_logs(records, baseline=REFERENCE, current=INCIDENT) + [_metric("checkout", 0.2)]
    by_kind = {(f.service, f.kind) for f in findings}
    assert ("payment", FindingKind.LOG_NEW_TEMPLATE) in by_kind and ("checkout", FindingKind.LOG_BURST) in by_kind
    ranked = rank_services(number_findings(findings), [], {"checkout": ["payment"], "payment": []})
    assert ranked[0].service == "payment"
    assert any(note.startswith("error logs") for note in ranked[0].notes)


def test_server_errors_in_access_logs_shipped_at_info_are_error_evidence(tmp_path):
    """A system whose only request logs are its proxies' access lines, all at INFO: the service whose requests
    began failing with 503 gets the error-log Finding, the one still answering 200 none."""
    def access(service: str, status: int, start: float, count: int) -> list[str]:
        return [json.dumps({"ts": start + i, "service": service, "level": "INFO",
                            "message": f'10.0.0.{i % 9} - - "GET /{service}/{i} HTTP/1.1" {status} 512 "-" "app"'})
                for i in range(count)]
    path = tmp_path / "logs.jsonl"
    path.write_text("\n".join(
        access("cart", 200, REFERENCE[0], 60) + access("cart", 200, INCIDENT[0], 60)
        + access("payment", 200, REFERENCE[0], 60) + access("payment", 200, INCIDENT[0], 20)
        + access("payment", 503, INCIDENT[0] + 20, 40)) + "\n", encoding="utf-8")
    records, errors = read_logs(path, "case/logs.jsonl")
    assert errors == []
    found = detect_logs(records, baseline=REFERENCE, current=INCIDENT)
    assert [(f.service, f.kind) for f in found] == [("payment", FindingKind.LOG_NEW_TEMPLATE)]
    assert found[0].numbers["level_weight"] == 1.0
