"""No data is never "no problem": with nothing to judge on, an alert needs attention, a change is
held, an inspection is not healthy, the verdict says "could not judge" and the CLI exits 3."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from agent.bundles.writer import write_bundle
from agent.cli.app import app
from agent.cli.common import COULD_NOT_JUDGE_EXIT
from agent.config import PROJECT_ROOT, Settings
from agent.evidence import select_for_pack
from agent.findings import COVERAGE_DETECTOR, THIN_REFERENCE_DETECTOR, Finding
from agent.llm.client import LLMClient
from agent.reasoners.failsafe import CHECK_CHANGE, CHECK_METRICS, CHECK_SOURCES
from agent.reasoners.floor import reason_with_floor
from agent.reasoners.llm import LLMReasoner
from agent.reasoners.offline import OfflineReasoner
from agent.series import make_series
from tests.fakes.evidence import T0, make_findings, make_pack, make_skill, rca_answer

runner = CliRunner()
ALERT = {"labels": {"alertname": "RankingP99LatencyHigh", "service": "ranking"},
         "annotations": {"summary": "p99 above 250ms"}, "startsAt": "2026-03-02T10:14:00Z"}
EVENTS: dict[str, dict[str, Any]] = {
    "rca": {"pattern": "rca", "time": "2026-03-02T10:14:00Z", "service": "ranking", "alert": ALERT},
    "intercept": {"pattern": "release_interception", "time": "2026-03-02T10:14:00Z", "service": "ranking",
                  "change": {"id": "canary-3", "type": "canary", "service": "ranking",
                             "started": "2026-03-02T09:44:00Z"}},
    "inspect": {"pattern": "inspection", "time": "2026-03-02T10:14:00Z", "service": "ranking",
                "scope": {"services": ["ranking"], "window": "2h"}},
}


@pytest.fixture(autouse=True)
def no_knowledge(monkeypatch):
    """Knowledge is not the point here: skip embedding the handbook."""
    monkeypatch.setattr("agent.runtime.open_knowledge", lambda settings, **kwargs: None)


def unrelated_bundle(path: Path, event: dict[str, Any]) -> Path:
    """A bundle whose only series is a metric of another service: nothing the Skill asks for exists."""
    start = 1772444040.0  # 2026-03-02T09:34:00Z
    points = [(start + 60 * i, 5.0) for i in range(60)]
    return write_bundle(path, event, [make_series("queue_depth", {"service": "billing"}, points)])


def run_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_an_alert_with_no_metric_source_needs_attention_and_exits_3(tmp_path):
    (tmp_path / "alert.json").write_text(json.dumps({"alerts": [ALERT]}))  # BIANQUE_PROMETHEUS_URL is unset
    code, data = run_json("rca", "--alert", str(tmp_path / "alert.json"))
    verdict = data["verdict"]
    assert code == COULD_NOT_JUDGE_EXIT == 3
    assert verdict["needs_attention"] is True and verdict["judged"] is False
    assert verdict["attention_reason"].startswith("could not judge: no metric source is configured")
    assert "no attention" not in data["report"] and "noise" not in verdict["attention_reason"]
    assert CHECK_SOURCES in verdict["actions"]


def test_a_question_with_nothing_to_judge_on_is_not_called_an_alert(tmp_path):
    """A chat question ('why is ranking slow?') is an rca event without an alert: the verdict said 'treat the alert as
    needing attention' and 'look at the alert by hand' of an alert nobody had sent."""
    question = {"pattern": "rca", "time": "2026-03-02T10:14:00Z", "service": "ranking",
                "question": "why is ranking slow?"}
    code, data = run_json("rca", "--bundle", str(unrelated_bundle(tmp_path / "case", question)))
    verdict = data["verdict"]
    assert code == 3 and verdict["needs_attention"] is True and verdict["judged"] is False
    assert verdict["attention_reason"].endswith("; treat it as needing attention")
    assert verdict["actions"][0] == "look at it by hand: the data could neither confirm nor clear it"
    assert "alert" not in verdict["summary"] + " ".join(verdict["actions"])


def test_a_question_about_a_quiet_service_is_not_called_noise(tmp_path):
    """Nothing actionable behind a question is said without 'behind the alert' and 'likely noise or flapping'."""
    question = {"pattern": "rca", "time": "2026-03-02T10:14:00Z", "service": "ranking",
                "question": "why is ranking slow?"}
    start = 1772444040.0 - 86400  # a day before 09:34 up to 10:34
    points = [(start + 60 * i, 0.1 + 0.001 * (i % 3)) for i in range(60 * 25)]
    path = write_bundle(tmp_path / "case", question,
                        [make_series("request_latency_p99_seconds", {"service": "ranking"}, points)])
    code, data = run_json("rca", "--bundle", str(path))
    verdict = data["verdict"]
    assert code == 0 and verdict["needs_attention"] is False, verdict
    assert verdict["attention_reason"].startswith("nothing that the Skill's rules count as actionable")
    assert "alert" not in verdict["attention_reason"] and "noise" not in verdict["attention_reason"]


@pytest.mark.parametrize(("stopped_min_before", "judged"), [(20, False), (2, True)])
def test_an_alert_whose_service_went_silent_before_it_is_not_cleared_by_the_minutes_before(tmp_path,
                                                                                          stopped_min_before, judged):
    """The alerted service's metrics stopped 20 minutes before the alert (a crash, a broken scrape): its calm data
    before said 'no action needed: likely noise'. Data that reaches the alert is judged as before."""
    alert_at = 1772446440.0  # 2026-03-02T10:14:00Z
    first = alert_at - 86400
    end = alert_at - 60 * stopped_min_before
    points = [(first + 60 * i, 0.1 + 0.001 * (i % 3)) for i in range(int((end - first) / 60) + 1)]
    path = write_bundle(tmp_path / "case", EVENTS["rca"],
                        [make_series("request_latency_p99_seconds", {"service": "ranking"}, points)])
    code, data = run_json("rca", "--bundle", str(path))
    verdict = data["verdict"]
    assert verdict["judged"] is judged and verdict["needs_attention"] is not judged, verdict
    stopped = ("the newest metric sample of ranking is from 2026-03-02T09:54:00Z, 20m before 2026-03-02T10:14:00Z: "
               "its data stopped (a silent service, or a scrape that broke)")
    assert (stopped in verdict["summary"]) is not judged and code == (0 if judged else 3)


def test_an_alert_whose_series_do_not_exist_needs_attention_and_exits_3(tmp_path):
    code, data = run_json("rca", "--bundle", str(unrelated_bundle(tmp_path / "case", EVENTS["rca"])))
    verdict = data["verdict"]
    assert code == 3 and verdict["needs_attention"] is True and verdict["judged"] is False
    assert verdict["attention_reason"].startswith("could not judge: no metric data was found for ranking")
    assert "treat the alert as needing attention" in verdict["attention_reason"]
    [gap] = [f for f in data["findings"] if f["detector"] == COVERAGE_DETECTOR]
    assert gap["id"] in verdict["evidence"]


def test_a_change_with_no_data_is_held_as_could_not_judge(tmp_path):
    code, data = run_json("intercept", "--bundle", str(unrelated_bundle(tmp_path / "case", EVENTS["intercept"])))
    verdict = data["verdict"]
    assert code == 3 and verdict["decision"] == "hold" and verdict["judged"] is False
    assert verdict["summary"].startswith("Hold: could not judge: no metric data was found for ranking")


def test_an_inspection_with_no_data_is_not_healthy(tmp_path):
    path = unrelated_bundle(tmp_path / "case", EVENTS["inspect"])
    code, data = run_json("inspect", "--bundle", str(path))
    assert code == 3 and data["verdict"]["judged"] is False
    assert data["verdict"]["summary"].startswith("Could not judge") and "Healthy" not in data["verdict"]["summary"]
    markdown = runner.invoke(app, ["inspect", "--bundle", str(path)])
    assert markdown.exit_code == 3 and "COULD NOT JUDGE" in markdown.stdout and "HEALTHY" not in markdown.stdout


@pytest.mark.parametrize("command", ["rca", "intercept", "inspect"])
def test_a_source_holding_none_of_the_skills_metrics_points_at_the_skill_not_at_the_settings(tmp_path, command):
    code, data = run_json(command, "--bundle", str(unrelated_bundle(tmp_path / "case", EVENTS[command])))
    actions = data["verdict"]["actions"]
    assert code == 3 and CHECK_METRICS in actions and CHECK_SOURCES not in actions
    assert "`bianque catalog`" in CHECK_METRICS and "BIANQUE_PROMETHEUS_URL" not in " ".join(actions)


def test_a_bundle_without_the_changed_services_data_points_at_the_bundle_not_at_the_settings(tmp_path):
    """The change is to another service than the one whose series the bundle holds: the hint names the bundle's
    metrics.csv, where the data came from, not BIANQUE_PROMETHEUS_URL."""
    event = {**EVENTS["intercept"], "service": "billing",
             "change": {**EVENTS["intercept"]["change"], "service": "ranking"}}
    points = [(1772444040.0 + 60 * i, 0.01) for i in range(60)]  # from 09:34, billing's only
    path = write_bundle(tmp_path / "case", event, [make_series("request_error_ratio", {"service": "billing"}, points)])
    code, data = run_json("intercept", "--bundle", str(path))
    actions = data["verdict"]["actions"]
    assert code == 3 and data["verdict"]["summary"].startswith("Hold: could not judge: no metric data was found for "
                                                               "ranking")
    assert "check that the bundle's metrics.csv holds the Skill's metrics" in " ".join(actions)
    assert "BIANQUE_PROMETHEUS_URL" not in " ".join(actions) and CHECK_SOURCES not in actions


def test_a_bundle_with_data_is_judged_and_exits_0():
    from agent.config import PROJECT_ROOT

    code, data = run_json("rca", "--bundle", str(PROJECT_ROOT / "examples" / "scenarios" / "rca-noisy-alert"))
    assert code == 0 and data["verdict"]["judged"] is True and data["verdict"]["needs_attention"] is False


def test_the_exit_code_is_in_the_help():
    for command in ("rca", "intercept", "inspect"):
        assert "Exit code 3" in runner.invoke(app, [command, "--help"]).stdout


def test_serve_warns_without_a_metric_source(monkeypatch):
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: None)
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 0, result.output
    assert "BIANQUE_PROMETHEUS_URL" in result.stderr


# -- the reasoners ---------------------------------------------------------------------------


def gap_pack(pattern: str):
    gap = Finding(id="F1", kind="missing_data", subject="gateway", window_start=T0 - 3600, window_end=T0,
                  score=1.0, summary="no metric data was found for gateway, and no log lines",
                  detector=COVERAGE_DETECTOR)
    return make_pack(pattern, findings=[gap])


def llm() -> LLMReasoner:
    return LLMReasoner(LLMClient(Settings(llm_model="fake-model", llm_max_retries=0), backoff_s=0.001))


def test_offline_rca_without_data_needs_attention():
    verdict = OfflineReasoner().reason(gap_pack("rca"), make_skill("rca")).verdict
    assert verdict.needs_attention is True and verdict.judged is False and verdict.evidence == ["F1"]


def test_an_llm_cannot_turn_could_not_judge_into_no_attention(fake_llm):
    fake_llm.queue(rca_answer(needs_attention=False, attention_reason="noise: nothing moved", root_causes=[],
                              evidence=["F1"]))
    result = llm().reason(gap_pack("rca"), make_skill("rca"))
    assert result.verdict.needs_attention is True and result.verdict.judged is False
    assert result.verdict.attention_reason.startswith("could not judge")
    assert result.verdict.reasoner == "fail-safe over llm:fake-model" and "fail-safe" in result.notes[-1]


def test_a_model_answer_the_fail_safe_replaced_is_recorded_so_not_as_accepted(fake_llm):
    """The model names the alert's service citing the only Finding, the one saying there is no data: valid, but the
    fail-safe verdict is the answer. The run says so, keeping the model's own verdict (the benchmark of 2026-12-02
    counted such a case as an accepted model verdict that passed on its own and missed as the final answer)."""
    cause = {"service": "gateway", "fault": "cpu_saturation", "confidence": 0.8, "evidence": ["F1"]}
    fake_llm.queue(rca_answer(root_causes=[cause], evidence=["F1"]))
    result = reason_with_floor(llm(), OfflineReasoner(), gap_pack("rca"), make_skill("rca"))
    assert result.verdict.judged is False and result.verdict.root_causes == []
    assert result.llm is not None and result.llm.outcome == "fail_safe"
    assert any(r.startswith("the data could not answer") for r in result.llm.reasons)
    assert result.llm.verdict is not None and result.llm.verdict["root_causes"][0]["service"] == "gateway"


def test_an_llm_cannot_pass_a_change_it_could_not_judge(fake_llm):
    fake_llm.queue({"pattern": "release_interception", "summary": "fine", "decision": "pass", "evidence": ["F1"]})
    result = llm().reason(gap_pack("release_interception"), make_skill("release_interception"))
    assert result.verdict.decision == "hold" and result.verdict.judged is False


# -- a history too short to clear anything -----------------------------------------------------


def thin_pack(pattern: str):
    thin = Finding(id="F3", kind="missing_data", subject="gateway", window_start=T0 - 3600, window_end=T0,
                   score=0.0, detector=THIN_REFERENCE_DETECTOR,
                   summary="the data begins 2024-05-01T11:55:00Z: no series has more than 3 samples before "
                           "2024-05-01T11:57:30Z, too few to know what normal is")
    return make_pack(pattern, findings=[*make_findings(), thin])


def test_an_llm_cannot_clear_an_alert_on_a_thin_history(fake_llm):
    fake_llm.queue(rca_answer(needs_attention=False, attention_reason="noise: nothing moved", root_causes=[]))
    result = llm().reason(thin_pack("rca"), make_skill("rca"))
    assert result.verdict.needs_attention is True and result.verdict.judged is False
    assert result.verdict.attention_reason.startswith("could not judge: the data begins")
    assert result.verdict.evidence == ["F3"]


def test_an_llm_cannot_call_a_system_healthy_on_a_thin_history(fake_llm):
    fake_llm.queue({"pattern": "inspection", "summary": "Healthy: all services look normal.", "items": [],
                    "evidence": ["F1"]})
    result = llm().reason(thin_pack("inspection"), make_skill("inspection"))
    assert result.verdict.judged is False and result.verdict.summary.startswith("Could not judge: the data")


def test_a_verdict_that_finds_something_on_a_thin_history_stands(fake_llm):
    fake_llm.queue(rca_answer())
    result = llm().reason(thin_pack("rca"), make_skill("rca"))
    assert result.verdict.judged and result.verdict.root_causes[0].service == "feature-store"


def test_the_model_is_always_shown_what_the_data_cannot_say():
    findings = thin_pack("rca").findings + [
        Finding(id=f"G{i}", kind="anomaly", subject=f"svc{i}", service=f"svc{i}", metric="m", window_start=T0 - 60,
                window_end=T0, score=0.9, summary="x") for i in range(40)]
    assert "F3" in {f.id for f in select_for_pack(findings, limit=5)}


def bad_canary_with(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """The curated bad-canary release with its event's ``change`` edited by ``edit``."""
    bundle = Path(shutil.copytree(PROJECT_ROOT / "examples" / "scenarios" / "release-bad-canary", tmp_path / "case"))
    event = yaml.safe_load((bundle / "event.yaml").read_text())
    edit(event["change"])
    (bundle / "event.yaml").write_text(yaml.safe_dump(event))
    return bundle


def test_a_canary_selector_matching_no_series_is_held_as_could_not_judge(tmp_path):
    """Judging every instance together could pass a bad canary among healthy ones: the gate says it cannot
    tell the canary apart, and which labels the data has."""
    bundle = bad_canary_with(tmp_path, lambda change: change.update(canary={"version": "v9.9.9"}))
    code, data = run_json("intercept", "--bundle", str(bundle))
    verdict = data["verdict"]
    assert code == COULD_NOT_JUDGE_EXIT and verdict["decision"] == "hold" and not verdict["judged"]
    assert "canary selector {version=v9.9.9} matches none of recommendation's series" in verdict["summary"]
    assert "version=v1.8.3" in verdict["summary"] and "version=v1.8.4" in verdict["summary"]
    assert any("selectors" in action for action in verdict["actions"])


def test_a_change_named_by_id_takes_its_canary_from_its_own_line(tmp_path):
    """An event may name its change by id alone; the canary and baseline selectors are then on the change's line
    in changes.jsonl, and the canary is judged against its baseline instances."""
    def by_id(change: dict[str, Any]) -> None:
        for name in ("canary", "baseline", "ts", "version", "description", "author"):
            change.pop(name)
    code, data = run_json("intercept", "--bundle", str(bad_canary_with(tmp_path, by_id)))
    assert code == 0 and data["verdict"]["decision"] == "block"
    assert any(f["kind"] == "canary_regression" for f in data["findings"])


def test_a_change_whose_service_is_unknown_is_held_as_could_not_judge(tmp_path):
    """A change named by an id no line of changes.jsonl has, and no service: the gate judged the topology's entry
    point instead of the change, and on the bad canary's bundle answered pass."""
    def unknown(change: dict[str, Any]) -> None:
        change.clear()
        change["id"] = "deploy-404"
    code, data = run_json("intercept", "--bundle", str(bad_canary_with(tmp_path, unknown)))
    verdict = data["verdict"]
    assert code == COULD_NOT_JUDGE_EXIT and verdict["decision"] == "hold" and not verdict["judged"]
    assert "the change deploy-404 names no service and no change record with its id was found" in verdict["summary"]
    assert CHECK_CHANGE in verdict["actions"]


def test_an_inspection_asked_after_its_data_ends_names_the_window_it_found_nothing_in(tmp_path):
    """A week between the bundle's data and its time read as "no metric data was found for …" with the advice to
    check the Skill's metric names, which the data does hold: the window says where it looked."""
    bundle = Path(shutil.copytree(PROJECT_ROOT / "examples" / "scenarios" / "inspection-disk-full", tmp_path / "case"))
    event = yaml.safe_load((bundle / "event.yaml").read_text())
    event["time"] = "2026-05-07T09:47:00Z"
    (bundle / "event.yaml").write_text(yaml.safe_dump(event))
    code, data = run_json("inspect", "--bundle", str(bundle))
    assert code == COULD_NOT_JUDGE_EXIT and not data["verdict"]["judged"]
    assert "from 2026-05-07T08:17:00Z to 2026-05-07T09:47:00Z, and no log lines" in data["verdict"]["summary"]


def test_an_inspection_with_no_service_to_look_at_says_so(tmp_path):
    """Nothing named a service (no scope, no topology, no data): the summary blamed the Skill's metric names, which
    nobody had asked for, and sent the user to check them."""
    (tmp_path / "case").mkdir()
    (tmp_path / "case" / "event.yaml").write_text("pattern: inspection\ntime: '2026-04-30T09:47:00Z'\n")
    code, data = run_json("inspect", "--bundle", str(tmp_path / "case"))
    verdict = data["verdict"]
    assert code == COULD_NOT_JUDGE_EXIT and not verdict["judged"]
    assert verdict["summary"].startswith("Could not judge: no service was found to look at (the event names none")
    assert verdict["actions"] == ["check that the bundle's metrics.csv holds the Skill's metrics in the judged window "
                                  "(`bianque catalog` lists it)"]  # the data's source, not BIANQUE_PROMETHEUS_URL


def test_an_alert_with_log_lines_but_none_of_its_metrics_is_not_cleared(tmp_path):
    """A bundle without metrics.csv: the logs are judged, but "no rule matched" on metrics that never came is no
    judgement, so the alert is not called noise (it had been, exit 0, with a 0.94 log burst in the evidence)."""
    case = shutil.copytree(PROJECT_ROOT / "examples" / "scenarios" / "rca-slow-dependency", tmp_path / "case")
    (case / "metrics.csv").unlink()
    code, data = run_json("rca", "--bundle", str(case))
    verdict = data["verdict"]
    assert code == COULD_NOT_JUDGE_EXIT and verdict["needs_attention"] is True and verdict["judged"] is False
    assert verdict["attention_reason"].startswith("could not judge: no metric data was found for gateway")
    assert "only log lines were judged, which cannot clear it" in verdict["attention_reason"]
    assert CHECK_METRICS in verdict["actions"]
    assert any(f["kind"] == "log_burst" for f in data["findings"])  # the logs were judged all the same


def test_log_lines_without_metrics_are_a_caveat_only_when_the_skill_asked_for_metrics():
    from agent.events import Event
    from agent.findings import LOGS_ONLY_DETECTOR
    from agent.graph.coverage import coverage_findings

    event = Event.model_validate(EVENTS["rca"])
    window = {"start": T0 - 3600, "end": T0, "anchor": T0}
    gathered = {"series": [], "logs": [{"ts": T0 - 60, "service": "ranking", "level": "ERROR", "message": "boom"}]}
    [caveat] = coverage_findings(event, gathered, window, ["ranking"], ["latency_p99"], 60.0)
    assert caveat.detector == LOGS_ONLY_DETECTOR and caveat.score == 0.0 and caveat.numbers["log_lines"] == 1
    assert coverage_findings(event, gathered, window, ["ranking"], [], 60.0) == []  # a logs-only Skill: judged
