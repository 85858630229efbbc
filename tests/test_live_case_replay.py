"""A live case's kept bundle replays as the live run ran: the log store's span, the call graph read off the live data
and a log answer read only in part are kept beside the data (``capture.yaml``) and read back on replay."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace

from agent.bundles.reader import load_bundle, read_bundle
from agent.config import get_settings
from agent.investigate import InvestigationResult, investigate
from agent.runtime import bundle_toolkit
from agent.series import LogRecord
from agent.skills.library import load_library
from agent.sources.sqlstore import ObservabilityStore
from tests.fixtures.graph.world import SKILLS_DIR, T0, alert_event, inspection_event
from tests.test_live_call_graph import CALLS_NOTE, live


def cut_library(tmp_path):
    """The test world's Skills, the api RCA's timeout logs read 10 lines at most (its answer: a share of 30), and a
    generic inspection reading every service's metrics and error lines."""
    skills = tmp_path / "skills"
    shutil.copytree(SKILLS_DIR, skills)
    rca = skills / "graph-api-rca.yaml"
    rca.write_text(rca.read_text(encoding="utf-8").replace("limit: 500", "limit: 10"), encoding="utf-8")
    inspection = (skills / "graph-api-inspection.yaml").read_text(encoding="utf-8")
    (skills / "graph-generic-inspection.yaml").write_text(  # the one an inspection naming no service falls to
        inspection.replace("name: graph-api-inspection", "name: graph-generic-inspection\ngeneric: true")
        .replace("services: [api, db]", "services: ['*']")
        .replace("knowledge:", "  logs:\n    - {id: errors, levels: [ERROR]}\nknowledge:"),
        encoding="utf-8")
    library = load_library([skills])
    assert not library.errors, library.errors
    return library


def answer(result: InvestigationResult) -> dict:
    """What a replay must reproduce: the ranking, the Findings (but the source each links to: the live store's, then
    the bundle's), the notes and the missing data."""
    return {"ranking": [c.model_dump() for c in result.verdict.root_causes],
            "findings": [f.model_dump(mode="json", exclude={"source"}) for f in result.findings],
            "notes": result.notes, "missing": [g.model_dump() for g in result.missing_data]}


def live_case(memory, tmp_path, event=None, more_logs=()):
    library = cut_library(tmp_path)
    toolkit = replace(live(), memory=memory, library=library)
    ObservabilityStore(get_settings().resolved_observability_url).ingest_logs(list(more_logs))
    result = investigate(event or alert_event(), toolkit, source="api")
    return result, memory.get_case(result.case_id), library


def replayed(case, library) -> InvestigationResult:
    return investigate(case.event, bundle_toolkit(case.bundle_path, get_settings(), library=library), source="replay")


def test_a_live_case_replays_with_the_ranking_findings_and_notes_of_its_live_run(memory, tmp_path, monkeypatch):
    monkeypatch.setenv("BIANQUE_MAX_SERIES_PER_SIGNAL", "1")  # of the two instances' latency series, one is read
    get_settings.cache_clear()
    result, case, library = live_case(memory, tmp_path)
    assert sorted(os.listdir(case.bundle_path)) == ["capture.yaml", "changes.jsonl", "event.yaml", "logs.jsonl.gz",
                                                    "metrics.csv.gz", "topology.yaml"]
    live_answer = answer(result)
    # what the kept data alone cannot say: the graph read off all the store's traces, the store's first line long
    # before the first kept one, and the timeout lines and latency series read only in part
    assert CALLS_NOTE in " ".join(live_answer["notes"])
    assert any("(none in baseline)" in f["summary"] for f in live_answer["findings"])
    assert [(g["signal"], g["service"], g["reason"].split(" were read")[0]) for g in live_answer["missing"]] == [
        *(("latency", service, "only the first 1 series") for service in ("api", "cache", "db")),
        ("timeouts", None, "only about 10 lines")]
    assert answer(replayed(case, library)) == live_answer


def test_a_live_inspection_of_every_service_replays_over_the_services_the_live_sources_listed(memory, tmp_path):
    quiet = LogRecord(T0 - 600, "batch", "INFO", "nightly batch done")  # no query of the inspection reads it
    result, case, library = live_case(memory, tmp_path, inspection_event(), more_logs=[quiet])
    live_answer = answer(result)
    assert ("latency", "batch") in [(g["signal"], g["service"]) for g in live_answer["missing"]]  # live: inspected
    assert "batch" not in load_bundle(case.bundle_path).services()
    assert answer(replayed(case, library)) == live_answer


def test_a_kept_bundle_without_its_capture_still_loads_and_uses_the_read_calls_as_its_topology(memory, tmp_path):
    _result, case, _library = live_case(memory, tmp_path)
    os.remove(os.path.join(case.bundle_path, "capture.yaml"))  # as a reader that does not know the file sees it
    bundle = load_bundle(case.bundle_path)
    assert bundle.capture is None and bundle.topology is not None
    assert bundle.topology.as_dict() == {"api": ["cache", "db"], "cache": [], "db": [], "gateway": ["api"]}


def test_a_capture_file_that_is_no_capture_is_an_error_naming_its_line_and_field(memory, tmp_path):
    _result, case, _library = live_case(memory, tmp_path)
    path = os.path.join(case.bundle_path, "capture.yaml")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("log_span: {asked: [1, 2]}\n"
                 "truncated_logs:\n  - {services: [api], start: soon, end: 2, levels: [], patterns: [], limit: 1}\n")
    bundle, errors = read_bundle(case.bundle_path)
    assert bundle is None
    assert [(e.file, e.field) for e in errors] == [(path, "truncated_logs.0.start")]
    assert errors[0].line is not None and "number" in errors[0].message


def test_a_kept_bundle_answers_as_its_live_store_did_for_the_windows_it_asked_to_the_microsecond():
    from agent.bundles.capture import Capture
    from agent.bundles.reader import CaseBundle
    from agent.sources.base import LogRequest, as_asked
    from agent.sources.bundle import BundleLogSource, BundleMetricSource

    start, end = 1000.123456, 4600.654321  # as event.yaml writes them back: to the microsecond
    request = LogRequest(("api",), start, end, limit=1)
    capture = Capture.model_validate({
        "log_span": {"asked": [start + 4e-7, end - 4e-7], "lines": [900.0, 4000.0]},
        "services_listed": [{"asked": [start - 4e-7, end], "services": ["api", "batch"]}],
        "truncated_logs": [{**as_asked(request), "start": start + 4e-7}]})
    line = LogRecord(2000.0, "api", "ERROR", "timeout")
    bundle = CaseBundle(alert_event(), logs=[line], capture=capture)
    logs = BundleLogSource(bundle)
    assert logs.query(request).truncated and not logs.query(replace(request, limit=2)).truncated
    assert logs.line_span(start, end) == (start, 4000.0)  # the store's, not the kept line's (2000)
    assert logs.line_span(start - 60, end) == (2000.0, 2000.0)  # a window it did not ask: the kept lines
    assert logs.services(start, end) == BundleMetricSource(bundle).services(start, end) == ["api", "batch"]
    assert logs.services(start, end + 60) == ["api"]


def kept_bundle_with_capture(tmp_path, capture: str):
    from agent.bundles.writer import write_bundle

    path = write_bundle(tmp_path / "kept", alert_event(), [], [LogRecord(T0 - 60, "api", "ERROR", "timeout")])
    (path / "capture.yaml").write_text(capture, encoding="utf-8")
    return path


def test_a_capture_naming_no_service_or_a_backwards_span_is_an_error_naming_its_line_and_field(tmp_path):
    """A blank service, one holding a control character (as metrics.csv and topology.yaml refuse them) and a span
    ending before it starts or at no finite time had been read as they were: the replay inspected a service named
    '' or ran its windows backwards."""
    path = kept_bundle_with_capture(tmp_path, (
        "log_span: {asked: [1, .inf], lines: [5, 3]}\n"
        "services_listed:\n  - {asked: [1, 2], services: [api, '  ']}\n"
        "calls_read:\n  calls: {\"gate\\away\": [api]}\n"))
    bundle, errors = read_bundle(path)
    assert bundle is None
    said = {(e.line, e.field): e.message for e in errors}
    assert set(said) == {(1, "log_span.asked"), (1, "log_span.lines"), (3, "services_listed.0.services.1"),
                         (5, "calls_read.calls.gate\away")}, errors
    assert "finite" in said[1, "log_span.asked"] and "before" in said[1, "log_span.lines"]
    assert "blank" in said[3, "services_listed.0.services.1"] and "U+0007" in said[5, "calls_read.calls.gate\away"]
    assert all(e.file == str(path / "capture.yaml") for e in errors)


def test_a_capture_of_sound_names_and_spans_is_read(tmp_path):
    bundle, errors = read_bundle(kept_bundle_with_capture(tmp_path, (
        "log_span: {asked: [1, 2], lines: [1.5, 1.5]}\nservices_listed: [{asked: [1, 2], services: [api]}]\n"
        "calls_read: {calls: {gateway: [api], api: []}}\n")))
    assert not errors and bundle is not None and bundle.capture is not None
    assert bundle.capture.calls_read.calls == {"gateway": ["api"], "api": []}


def test_a_live_run_listing_a_name_no_bundle_takes_keeps_a_capture_its_reader_reads(tmp_path):
    """The live sources may list a service name a bundle refuses (a blank label value, a control character): written
    as listed, it made the kept bundle unreadable, and the case unreplayable for a service it never read."""
    from agent.bundles.capture import capture_of
    from agent.bundles.captured import capture_bundle
    from agent.bundles.writer import write_bundle

    gathered = {"services_listed": [{"asked": [1.0, 2.0], "services": ["api", " ", "db\x1b[2J"]}],
                "calls_read": {"calls": {"gateway": ["api", ""], "\x07": ["api"]}, "notes": []}}
    path = write_bundle(tmp_path / "kept", alert_event(), [], [LogRecord(T0 - 60, "api", "ERROR", "timeout")],
                        capture=capture_of(gathered))
    bundle, errors = read_bundle(path)
    assert not errors and bundle is not None and bundle.capture is not None
    assert bundle.capture.services_in(1.0, 2.0) == ["api"]
    assert bundle.capture.calls_read.calls == {"gateway": ["api"]}
    kept = capture_bundle(tmp_path / "live", alert_event().model_dump(mode="json"), {
        **gathered, "logs": [{"ts": T0 - 60, "service": "api", "level": "ERROR", "message": "timeout"}]})
    assert kept is not None and load_bundle(kept).topology.as_dict() == {"api": [], "gateway": ["api"]}


def test_unknown_keys_of_a_capture_are_warned_of_with_their_file_line_and_key(tmp_path):
    """event.yaml and topology.yaml warn of a key no field reads; capture.yaml ignored one silently (``log_spans:``:
    the replay read the store's span off the kept lines, and no one was told)."""
    path = kept_bundle_with_capture(tmp_path, (
        "log_spans: {asked: [1, 2]}\n"
        "log_span: {asked: [1, 2], line: [1.5, 1.5]}\n"
        "services_listed:\n  - {asked: [1, 2], services: [api], service: db}\n"
        "calls_read: {calls: {gateway: [api]}, note: []}\n"
        "truncated_logs:\n  - {services: [api], start: 1, end: 2, levels: [], patterns: [], limit: 1, newer: 1}\n"))
    warnings: list = []
    bundle, errors = read_bundle(path, warnings)
    assert not errors and bundle is not None and bundle.capture is not None
    said = {(w.file, w.line, w.field): w.message for w in warnings}
    file = str(path / "capture.yaml")
    assert set(said) == {(file, 1, "log_spans"), (file, 2, "log_span.line"), (file, 4, "services_listed.0.service"),
                         (file, 5, "calls_read.note")}, warnings  # a request asked keeps all its keys
    assert said[file, 1, "log_spans"].startswith("unknown key ignored (did you mean 'log_span'?); only log_span, ")
    assert said[file, 2, "log_span.line"] == "unknown key ignored (did you mean 'lines'?); only asked, lines are read"
