"""``bianque rca | intercept | inspect | ask`` through typer's CliRunner, on bundles and live sources."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from agent.config import PROJECT_ROOT, get_settings
from agent.memory import Memory

runner = CliRunner()
SCENARIOS = PROJECT_ROOT / "examples" / "scenarios"
SMALL = PROJECT_ROOT / "tests" / "fixtures" / "bundles" / "small-rca"


@pytest.fixture(autouse=True)
def no_knowledge(monkeypatch):
    """Knowledge is not the point here: skip embedding the handbook for every command."""
    monkeypatch.setattr("agent.runtime.open_knowledge", lambda settings, **kwargs: None)


def flat(text: str) -> str:
    """Output with rich's line wrapping and panel borders undone."""
    return " ".join(text.replace("│", " ").split())


def invoke_json(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def stored_case(case_id: str):
    with Memory() as memory:
        return memory.get_case(case_id)


@pytest.mark.parametrize(
    ("command", "scenario", "pattern"),
    [("rca", "rca-noisy-alert", "rca"), ("intercept", "release-good-canary", "release_interception"),
     ("inspect", "inspection-healthy", "inspection")],
)
def test_each_pattern_command_investigates_a_bundle_as_json(command, scenario, pattern):
    data = invoke_json(command, "--bundle", str(SCENARIOS / scenario))
    assert data["verdict"]["pattern"] == pattern and data["verdict"]["reasoner"] == "offline"
    assert data["skill"]["name"] and data["report"].startswith(f"# {pattern}: ")
    case = stored_case(data["case_id"])
    assert case.status == "done" and case.bundle_path == str(SCENARIOS / scenario)
    assert case.skill == data["skill"]["name"]


def test_rca_answers_the_noisy_alert_as_noise():
    verdict = invoke_json("rca", "--bundle", str(SCENARIOS / "rca-noisy-alert"))["verdict"]
    assert verdict["needs_attention"] is False


def test_markdown_report_ends_with_how_to_correct_the_case():
    result = runner.invoke(app, ["intercept", "--bundle", str(SCENARIOS / "release-good-canary")])
    assert result.exit_code == 0, result.output
    assert "Decision: PASS" in result.stdout and "Provenance" in result.stdout
    assert "correct it with: bianque correct" in result.stdout


def test_a_report_out_of_a_terminal_is_its_markdown_as_stored():
    """Out of a terminal the report was rendered by rich at 80 columns: long lines folded, the markdown lost."""
    result = runner.invoke(app, ["rca", "--bundle", str(SMALL)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    report, last = result.stdout.rsplit("\ncase ", 1)
    case_id = last.split()[0]
    assert f"{report}\n" == stored_case(case_id).report and max(map(len, report.splitlines())) > 80


def test_skill_option_picks_the_skill():
    data = invoke_json("rca", "--bundle", str(SMALL), "--skill", "generic-rca")
    assert (data["skill"]["name"], data["skill"]["method"]) == ("generic-rca", "override")


@pytest.mark.parametrize(
    ("command", "scenario", "hint"),
    [("rca", "release-good-canary", "is a release_interception event; use `bianque intercept`"),
     ("intercept", "inspection-healthy", "is an inspection event; use `bianque inspect`"),
     ("inspect", "rca-noisy-alert", "is an rca event; use `bianque rca`")],
)
def test_wrong_pattern_gives_a_clear_error(command, scenario, hint):
    result = runner.invoke(app, [command, "--bundle", str(SCENARIOS / scenario)])
    assert result.exit_code == 2
    assert hint in flat(result.stderr) and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("event", "message"),
    [("service: recommendation\n", "event.yaml: change: required for a release_interception event"),
     ("change:\n", "event.yaml:3: change: required for a release_interception event"),
     ("chnage: {id: canary-25}\n", "(event.yaml has 'chnage': did you mean 'change'?)"),
     ("change: {version: v1.8.4}\n", "event.yaml:3: change: names no change: give its service")],
)
@pytest.mark.parametrize("command", [["intercept"], ["ask", "is it safe?"]])
def test_a_release_bundle_without_its_change_is_refused_as_the_api_refuses_it(tmp_path, event, message, command):
    """Without a change the gate judged whatever the event's service did: on the bad canary's data it passed."""
    case = Path(shutil.copytree(SCENARIOS / "release-bad-canary", tmp_path / "case"))
    (case / "event.yaml").write_text(f"pattern: release_interception\ntime: '2026-04-21T16:20:00Z'\n{event}")
    result = runner.invoke(app, [*command, "--bundle", str(case), "--json"])
    assert result.exit_code == 2 and message in flat(result.stderr) and result.stdout == ""
    assert runner.invoke(app, ["cases", "list", "--json"]).stdout.strip() == "[]"


def test_a_live_question_routed_to_the_release_gate_is_refused_naming_the_change_it_lacks(monkeypatch):
    """Refused before the knowledge store is opened: its first use embeds the whole handbook, minutes for nothing."""
    monkeypatch.setattr("agent.runtime.open_knowledge", lambda *a, **k: pytest.fail("the knowledge store was opened"))
    result = runner.invoke(app, ["ask", "is the ranking canary safe to roll out?"])
    assert result.exit_code == 2 and "change: required for a release_interception event" in flat(result.stderr)
    assert "bianque intercept --change FILE" in flat(result.stderr)


def test_a_change_file_naming_no_change_is_refused(tmp_path):
    change = tmp_path / "change.yaml"
    change.write_text("started: 2026-04-21T15:57:00Z\n")
    result = runner.invoke(app, ["intercept", "--change", str(change)])
    assert result.exit_code == 2 and f"{change}: names no change: give its service" in flat(result.stderr)


@pytest.mark.parametrize(("name", "text", "line"), [
    ("change.yaml", "type: config\nservce: ranking\nstarted: 2026-04-21T15:57:00Z\n", 2),
    ("change.json", '{"type": "config",\n "started": "2026-04-21T15:57:00Z",\n "servce": "ranking"}', 3),
])
def test_a_misspelt_key_of_a_change_file_is_named_with_its_line(tmp_path, name, text, line):
    """Refused as naming no change, with no word of the key that would have named it."""
    change = tmp_path / name
    change.write_text(text)
    result = runner.invoke(app, ["intercept", "--change", str(change)])
    assert result.exit_code == 2, result.output
    assert (f"{change}:{line}: names no change: give its service (and its id, when the change store logs it); "
            "'servce' is no field of a change: did you mean 'service'?") in flat(result.stderr)


def test_a_key_no_field_of_a_change_reads_is_warned_of_at_its_line_when_the_change_is_judged(tmp_path):
    """A change named by its id is judged; its misspelt ``servce:`` was dropped without a word (the API and a
    bundle's event.yaml warn of it)."""
    change = tmp_path / "change.yaml"
    change.write_text("id: d1\nservce: ranking\nversion: v2\n")
    bundle = SCENARIOS / "release-bad-config"
    result = runner.invoke(app, ["intercept", "--change", str(change), "--bundle", str(bundle)])
    assert result.exit_code != 2, result.output  # judged, not refused
    assert f"warning: {change}:2: servce: unknown key ignored (did you mean 'service'?)" in flat(result.stderr)


@pytest.mark.parametrize(
    ("skill", "message"),
    [("serving-canary-release",
      "Skill 'serving-canary-release' is for release_interception events; this is an rca event"),
     ("no-such-skill", "no Skill named 'no-such-skill'")],
)
def test_a_skill_that_cannot_answer_gives_a_clear_error(skill, message):
    result = runner.invoke(app, ["rca", "--bundle", str(SMALL), "--skill", skill])
    assert result.exit_code == 2
    assert message in flat(result.stderr)
    assert runner.invoke(app, ["cases", "list", "--json"]).stdout.strip() == "[]"  # bad input: no failed case


@pytest.mark.parametrize(("command", "bundle"), [("rca", SMALL), ("inspect", SCENARIOS / "inspection-healthy")])
def test_a_library_without_a_generic_skill_is_said_with_what_to_do_and_stores_no_case(
        tmp_path, monkeypatch, command, bundle):
    mine = tmp_path / "my-skills"
    mine.mkdir()
    shutil.copy(PROJECT_ROOT / "tests" / "fixtures" / "skills" / "valid" / "minimal-rca.yaml", mine)
    monkeypatch.setenv("BIANQUE_SKILLS_DIRS", json.dumps([str(mine)]))
    get_settings.cache_clear()
    result = runner.invoke(app, [command, "--bundle", str(bundle)])
    assert result.exit_code == 2
    said = flat(result.stderr)
    assert "no Skill fits this" in said and "replaces the built-in Skills of" in said
    assert f"BIANQUE_SKILLS_DIRS='{json.dumps([str(PROJECT_ROOT / 'skills'), str(mine)])}'" in said
    assert runner.invoke(app, ["cases", "list", "--json"]).stdout.strip() == "[]"  # nothing was investigated


@pytest.fixture
def bad_bundle(tmp_path) -> Path:
    root = tmp_path / "broken-case"
    shutil.copytree(SMALL, root)
    lines = (root / "metrics.csv").read_text().splitlines()
    lines[2] = lines[2].replace("0.11", "abc")
    (root / "metrics.csv").write_text("\n".join(lines) + "\n")
    logs = (root / "logs.jsonl").read_text().splitlines()
    logs[1] = '{"ts": oops'
    (root / "logs.jsonl").write_text("\n".join(logs) + "\n")
    return root


def test_a_bad_bundle_fails_with_file_line_errors_before_anything_is_opened(bad_bundle, monkeypatch):
    def must_not_open(*args, **kwargs):
        raise AssertionError("the knowledge store was opened for a broken bundle")

    monkeypatch.setattr("agent.runtime.open_knowledge", must_not_open)
    result = runner.invoke(app, ["rca", "--bundle", str(bad_bundle)])
    assert result.exit_code != 0
    errors = flat(result.stderr)
    assert f"{bad_bundle}/metrics.csv:3: value: not a number ('abc')" in errors
    assert f"{bad_bundle}/logs.jsonl:2: invalid JSON" in errors


def test_a_bundles_warnings_are_in_the_reports_notes_and_the_json(in_tmp_path):
    case = Path("case")  # given relative, as named in the warning: a path longer than 80 columns folds in the report
    shutil.copytree(SMALL, case)
    (case / "topology.yaml").write_text("services:\n  gateway: {calls: [ranking]}\n")
    warning = (f"{case}/topology.yaml:2: services.gateway.calls: unknown key ignored; only depends_on gives edges, "
               "so gateway has no dependencies")
    assert warning in invoke_json("rca", "--bundle", str(case))["notes"]
    result = runner.invoke(app, ["rca", "--bundle", str(case)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert f"- {warning}" in result.stdout.splitlines()  # out of a terminal the report's lines are whole


def test_a_missing_bundle_directory_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["rca", "--bundle", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "does not exist" in flat(result.output)


@pytest.mark.parametrize(("command", "hint"), [
    ("rca", "give --alert FILE (an alert) or --bundle DIR"),
    ("intercept", "give --change FILE (a change event) or --bundle DIR"),
    ("inspect", "give --service NAME (inspects the live sources) or --bundle DIR; every service an inspection "
                "Skill's scope covers, now: `bianque schedule run SKILL`")])
def test_nothing_to_investigate_names_what_the_command_takes(command, hint):
    result = runner.invoke(app, [command])
    assert result.exit_code == 2 and f"nothing to investigate: {hint}" in flat(result.stderr)


def test_live_sources_that_are_unreachable_become_missing_data(tmp_path, monkeypatch):
    monkeypatch.setenv("BIANQUE_PROMETHEUS_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    alert = {"labels": {"alertname": "RankingP99LatencyHigh", "service": "ranking"},
             "annotations": {"summary": "p99 above 250ms"}, "startsAt": "2026-03-02T10:14:00Z"}
    (tmp_path / "alert.json").write_text(json.dumps({"alerts": [alert]}))
    result = runner.invoke(app, ["rca", "--alert", str(tmp_path / "alert.json"), "--json"])
    assert result.exit_code == 3, result.output  # nothing answered: could not judge
    data = json.loads(result.stdout)
    assert data["verdict"]["pattern"] == "rca" and data["skill"]["name"] == "ranking-rca"
    assert data["verdict"]["needs_attention"] is True and data["verdict"]["judged"] is False
    missing = data["report"][data["report"].index("## Missing data"):]
    assert "127.0.0.1:9" in missing
    gaps = [gap for gap in data["missing_data"] if gap["service"] == "ranking" and gap["kind"] == "metrics"]
    assert gaps and all("127.0.0.1:9" in gap["reason"] for gap in gaps)


def test_a_release_states_its_evidence_window_in_the_json_and_the_report():
    data = invoke_json("intercept", "--bundle", str(SCENARIOS / "release-bad-canary"))
    began = 1776787020.0  # 2026-04-21T15:57:00Z: the change began, and the bundle's time
    assert data["evidence_window"] == {"start": began, "end": began + 1800}  # the Skill's window.after: 30m
    assert "_Evidence: the data from 2026-04-21T15:57:00Z (the change began) to 2026-04-21T16:27:00Z" in data["report"]
    assert invoke_json("rca", "--bundle", str(SCENARIOS / "rca-noisy-alert"))["evidence_window"] is None


def test_the_json_lists_the_missing_data_as_records():
    data = invoke_json("intercept", "--bundle", str(SCENARIOS / "release-bad-config"))
    assert data["missing_data"] == [{"kind": "metrics", "signal": "cache_hit_ratio", "service": "user-profile",
                                     "reason": "no data in the window"}]
    assert "metric cache_hit_ratio: no data for user-profile" in data["report"]


@pytest.mark.parametrize(
    ("content", "message"),
    [("services:\n  api: {depends_on: 3}\n", "topology.yaml: services.api.depends_on: must be a list"),
     (None, "topology.yaml: document: cannot read it: No such file or directory")],
)
def test_a_bad_topology_file_is_a_clear_error(tmp_path, monkeypatch, content, message):
    topology = tmp_path / "topology.yaml"
    if content is not None:
        topology.write_text(content)
    monkeypatch.setenv("BIANQUE_TOPOLOGY_FILE", str(topology))
    result = runner.invoke(app, ["inspect", "--service", "api"])
    assert result.exit_code == 2
    assert message in flat(result.stderr)


def test_the_live_topology_files_ignored_keys_are_warned_at_serve_and_in_each_investigations_notes(
        tmp_path, monkeypatch):
    """``calls:`` for ``depends_on:`` in BIANQUE_TOPOLOGY_FILE: worded as for a bundle's topology.yaml."""
    topology = tmp_path / "topology.yaml"
    topology.write_text("services:\n  api: {calls: [db]}\n  db: {}\n")
    monkeypatch.setenv("BIANQUE_TOPOLOGY_FILE", str(topology))
    warning = (f"{topology}:2: services.api.calls: unknown key ignored; only depends_on gives edges, so api has no "
               "dependencies")
    result = runner.invoke(app, ["inspect", "--service", "api", "--json"])
    assert result.exit_code == 3, result.output  # no data: could not judge
    data = json.loads(result.stdout)
    assert warning in data["notes"] and f"- {warning}" in data["report"]
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: None)
    served = runner.invoke(app, ["serve"])
    assert served.exit_code == 0, served.output
    assert f"warning: {warning}" in flat(served.stderr)


def test_ask_against_a_bundle():
    result = runner.invoke(app, ["ask", "why is ranking slow?", "--bundle", str(SMALL)])
    assert result.exit_code == 0, result.output
    assert "_Routed to **rca** (the bundle's event); Skill `ranking-rca`._" in result.stdout.splitlines()
    assert "## Provenance" in result.stdout.splitlines()  # out of a terminal: the markdown itself


def test_ask_json_records_the_question_and_an_absolute_bundle_path(monkeypatch):
    monkeypatch.chdir(SMALL.parent)
    data = invoke_json("ask", "why is ranking slow?", "--bundle", SMALL.name)
    assert data["question"] == "why is ranking slow?"
    assert data["route"]["pattern"] == "rca" and data["route"]["services"] == ["ranking"]
    case = stored_case(data["result"]["case_id"])
    assert case.event.question == "why is ranking slow?"
    assert case.bundle_path == str(SMALL)  # usable for replay from any directory


def test_ask_rejects_an_empty_question():
    result = runner.invoke(app, ["ask", "   ", "--bundle", str(SMALL)])
    assert result.exit_code == 2 and "the question is empty" in flat(result.stderr)


def stepped_inspection(path: Path) -> Path:
    """An inspection bundle: two days of a quiet queue that grew by half from 90 to 30 minutes before the
    inspection, and recovered (a queue is bad when it grows)."""
    import numpy as np

    from agent.bundles.writer import write_bundle
    from agent.events import Event, InspectionScope, Pattern
    from agent.series import Series

    end = 1772445600.0  # 2026-03-02T10:00:00Z
    times = np.arange(end - 2 * 86400, end + 1, 300.0)
    values = 100.0 + np.random.default_rng(2).normal(0.0, 2.0, times.size)
    values[(times >= end - 90 * 60) & (times < end - 30 * 60)] += 50.0
    event = Event(pattern=Pattern.INSPECTION, time=end, service="orders",
                  scope=InspectionScope(services=["orders"], window="2h"))
    return write_bundle(path, event, [Series("queue_depth", {"service": "orders"}, times, values)])


def test_inspect_options_narrow_a_bundles_inspection_at_its_own_time(tmp_path):
    """--window and --service change the bundle's scope; its time stays (not now, where it holds no data)."""
    bundle = str(stepped_inspection(tmp_path / "case"))
    flagged = invoke_json("inspect", "--bundle", bundle)["verdict"]
    assert flagged["judged"] and any(item["service"] == "orders" for item in flagged["items"])
    assert invoke_json("inspect", "--bundle", bundle, "--service", "orders")["verdict"] == flagged
    recent = invoke_json("inspect", "--bundle", bundle, "--window", "10m")["verdict"]
    assert recent["judged"] and recent["items"] == []  # the rise had passed by the last 10 minutes
    result = runner.invoke(app, ["inspect", "--bundle", bundle, "--window", "3x"])
    assert result.exit_code == 2 and "--window" in flat(result.output)
    nothing = runner.invoke(app, ["inspect", "--bundle", bundle, "--window", "0"])  # was the Skill's look-back
    assert nothing.exit_code == 2 and "--window: must be longer than 0" in flat(nothing.output)
    typo = runner.invoke(app, ["inspect", "--bundle", bundle, "--service", "ordres"])  # was "could not judge", 3
    assert typo.exit_code == 2 and flat(typo.stderr) == (
        f"error: {bundle}: --service 'ordres': the bundle has no such service (it has: orders)")


def test_a_skill_whose_file_did_not_load_is_named_with_its_error():
    from agent.config import get_settings

    user_dir = get_settings().resolved_user_skills_dir
    user_dir.mkdir(parents=True, exist_ok=True)
    (user_dir / "my-rca.yaml").write_text("name: my-rca\npattern: rca\nschedule: every day\n")
    result = runner.invoke(app, ["rca", "--bundle", str(SMALL), "--skill", "my-rca"])
    assert result.exit_code == 2
    message = flat(result.stderr)
    assert "no Skill named 'my-rca' (its file did not load: " in message and "my-rca.yaml:" in message


def test_a_broken_override_of_a_skill_is_named_in_the_report_of_the_skill_that_answered():
    from agent.config import get_settings

    user_dir = get_settings().resolved_user_skills_dir
    user_dir.mkdir(parents=True, exist_ok=True)
    text = (PROJECT_ROOT / "skills" / "generic-rca.yaml").read_text()
    (user_dir / "generic-rca.yaml").write_text(text.replace("version: 1", "version: one"))  # a typo in the copy
    body = invoke_json("rca", "--bundle", str(SMALL), "--skill", "generic-rca")
    assert body["skill"]["name"] == "generic-rca"
    [note] = [line for line in body["report"].splitlines() if "not from the file that did not load" in line]
    assert note.startswith("- Skill 'generic-rca' was read from skills/generic-rca.yaml, not from the file")
    assert f"{user_dir / 'generic-rca.yaml'}:9: version: input should be a valid integer" in note


def test_a_change_named_by_id_is_stored_shown_and_replayed_as_its_changes_line_says(tmp_path):
    """The stored event kept the change as given, a ``deploy``: `cases show` said so, and replay judged a deploy (a
    bad release) where the gate had judged the config push of the change's own line (a bad config)."""
    from agent.config import get_settings
    from agent.evolve.replay import investigate_runner
    from agent.runtime import load_skills

    bundle = Path(shutil.copytree(SCENARIOS / "release-bad-config", tmp_path / "case"))
    (bundle / "event.yaml").write_text("pattern: release_interception\ntime: '2026-03-28T06:00:00Z'\n"
                                       "change: {id: cfg-24}\n")
    data = invoke_json("intercept", "--bundle", str(bundle))
    assert data["verdict"]["root_causes"][0]["fault"] == "bad_config"
    shown = runner.invoke(app, ["cases", "show", data["case_id"]], env={"COLUMNS": "200"})
    event_row = next(line for line in shown.stdout.splitlines() if line.strip().startswith("event "))
    assert "release_interception | config cfg-24" in event_row
    case = stored_case(data["case_id"])
    assert (case.event.change.service, case.event.primary_service) == ("user-profile", "user-profile")
    settings = get_settings()
    replayed = investigate_runner(settings)(case, load_skills(settings), data["skill"]["name"])
    assert replayed.root_causes[0].fault == "bad_config"


@pytest.mark.parametrize("command", [["rca", "--bundle", str(SMALL)],
                                     ["ask", "why is it slow?", "--bundle", str(SMALL)]])
def test_ctrl_c_mid_investigation_names_the_case_left_to_resume(monkeypatch, command):
    def interrupt_at_reason(name: str) -> None:
        if name == "reason":
            raise KeyboardInterrupt

    monkeypatch.setattr("agent.graph.build.node_starting", interrupt_at_reason)
    result = runner.invoke(app, command)
    assert result.exit_code == 130
    said = flat(result.stderr)
    case_id = said.split("interrupted: case ", 1)[1].split()[0]
    assert f"`bianque cases resume {case_id}` finishes it from its last finished step" in said
    assert stored_case(case_id).status == "running"  # interrupted, not failed: `cases resume` finishes it


def _alert(name: str, service: str, status: str = "firing") -> dict:
    alert = {"labels": {"alertname": name, "service": service}, "status": status, "startsAt": "2026-03-02T10:14:00Z"}
    return {**alert, "endsAt": "2026-03-02T10:40:00Z"} if status == "resolved" else alert


def test_a_group_of_firing_alerts_is_investigated_alert_by_alert_its_resolved_ones_said_left_out(
        tmp_path, monkeypatch):
    monkeypatch.setenv("BIANQUE_PROMETHEUS_URL", "http://127.0.0.1:9")  # nothing answers: each could not judge
    body = {"status": "firing", "alerts": [_alert("GwSlow", "gateway"), _alert("RankErr", "ranking"),
                                           _alert("Old", "ranking", "resolved")]}
    (tmp_path / "group.json").write_text(json.dumps(body))
    result = runner.invoke(app, ["rca", "--alert", str(tmp_path / "group.json"), "--json"])
    assert result.exit_code == 3, result.output  # the worst of the two
    titles = [data["report"].splitlines()[0] for data in json.loads(result.stdout)]
    assert len(titles) == 2 and "GwSlow" in titles[0] and "RankErr" in titles[1]
    assert "1 resolved alert left out" in flat(result.stderr)


def test_an_alert_of_a_group_that_fails_for_bad_input_is_said_by_name_and_the_others_are_still_investigated(
        tmp_path, monkeypatch):
    """The first bad-input failure had ended the command: the alerts after it were never investigated."""
    only = tmp_path / "skills"  # no generic rca Skill: an alert no specific Skill fits is refused (bad input)
    only.mkdir()
    shutil.copy(PROJECT_ROOT / "skills" / "ranking-rca.yaml", only)
    monkeypatch.setenv("BIANQUE_SKILLS_DIRS", json.dumps([str(only)]))
    monkeypatch.setenv("BIANQUE_PROMETHEUS_URL", "http://127.0.0.1:9")  # nothing answers: could not judge
    get_settings.cache_clear()
    body = {"alerts": [_alert("RankError", "ranking"), _alert("DiskFull", "gateway"), _alert("RankSlow", "ranking")]}
    (tmp_path / "group.json").write_text(json.dumps(body))
    result = runner.invoke(app, ["rca", "--alert", str(tmp_path / "group.json"), "--json"])
    assert result.exit_code == 2, result.output  # bad input outranks could not judge
    titles = [data["report"].splitlines()[0] for data in json.loads(result.stdout)]
    assert len(titles) == 2 and "RankError" in titles[0] and "RankSlow" in titles[1]
    said = flat(result.stderr)
    assert "error: alert 2 of 3 (DiskFull, service gateway): no Skill fits this rca event" in said
    assert ("1 of the 3 alerts could not be investigated (bad input, said above; exit code 2): alert 2 of 3 "
            "(DiskFull, service gateway)") in said
    shown = runner.invoke(app, ["rca", "--alert", str(tmp_path / "group.json")])
    assert shown.exit_code == 2 and flat(shown.stdout).count("case ") == 2


def test_an_rca_of_a_resolved_alert_says_it_has_resolved(tmp_path, monkeypatch):
    monkeypatch.setenv("BIANQUE_PROMETHEUS_URL", "http://127.0.0.1:9")
    (tmp_path / "alert.json").write_text(json.dumps({"alerts": [_alert("RankErr", "ranking", "resolved")]}))
    result = runner.invoke(app, ["rca", "--alert", str(tmp_path / "alert.json")])
    assert "**Alert resolved** at 2026-03-02T10:40:00Z; needs attention (could not judge)" in flat(result.stdout)


def test_a_service_label_no_series_carries_is_named_with_the_labels_the_server_has(tmp_path, monkeypatch):
    from tests.test_prometheus_source import FakePrometheus

    server = FakePrometheus()
    try:
        server.answer("/api/v1/query_range", {"status": "success", "data": {"resultType": "matrix", "result": []}})
        server.answer("/api/v1/labels", {"status": "success", "data": ["__name__", "app", "instance", "service"]})
        monkeypatch.setenv("BIANQUE_PROMETHEUS_URL", server.url)
        monkeypatch.setenv("BIANQUE_SERVICE_LABEL", "job")
        get_settings.cache_clear()
        (tmp_path / "alert.json").write_text(json.dumps({"alerts": [{"labels": {
            "alertname": "RankErr", "job": "ranking"}, "startsAt": "2026-03-02T10:14:00Z"}]}))
        result = runner.invoke(app, ["rca", "--alert", str(tmp_path / "alert.json"), "--json"])
    finally:
        server.server.shutdown()
        server.server.server_close()
    assert result.exit_code == 3, result.output
    data = json.loads(result.stdout)
    said = ("no series carries the label 'job' (BIANQUE_SERVICE_LABEL); the server's labels include app, instance, "
            "service")
    assert said in data["report"][data["report"].index("## Missing data"):]
    assert said in data["verdict"]["summary"]
    assert any("set BIANQUE_SERVICE_LABEL" in action for action in data["verdict"]["actions"])


def test_a_live_inspection_without_a_window_leaves_it_to_the_skill_that_answers(monkeypatch):
    """It had read 2 h whatever the Skill: `inspect --skill memory-leak-inspection` judged other data than the
    Skill's own schedule (its 6 h look-back). An unset window is the look-back of the Skill that answers (``plan.
    inspected_span``), --skill's or the one chosen."""
    seen: list = []
    monkeypatch.setattr("agent.cli.investigate._run", lambda event, *args, **kwargs: seen.append(event))
    for args in (["--skill", "memory-leak-inspection"], ["--skill", "memory-leak-inspection", "--window", "30m"], []):
        assert runner.invoke(app, ["inspect", "--service", "api", *args]).exit_code == 0
    assert [event.scope.window for event in seen] == [None, 1800, None]


def test_an_inspection_without_a_window_reads_the_chosen_skills_look_back(tmp_path):
    """A bundle's scope without a window, and `inspect` without --skill: the chosen Skill's look-back is read (it had
    been 2 h whatever the Skill: the scope's default was fixed before the Skill was chosen)."""
    user_dir = get_settings().resolved_user_skills_dir
    user_dir.mkdir(parents=True, exist_ok=True)
    text = (PROJECT_ROOT / "skills" / "serving-health-inspection.yaml").read_text()
    assert "  lookback: 2h " in text
    (user_dir / "serving-health-inspection.yaml").write_text(text.replace("  lookback: 2h ", "  lookback: 5h "))
    bundle = shutil.copytree(SCENARIOS / "inspection-memory-leak", tmp_path / "case")
    event = (bundle / "event.yaml").read_text()
    kept = [line for line in event.splitlines(keepends=True) if "window:" not in line]
    (bundle / "event.yaml").write_text("".join(kept))
    body = invoke_json("inspect", "--bundle", str(bundle))
    assert body["skill"]["name"] == "serving-health-inspection"
    assert "_Inspected: 5.0h of data, 2026-03-24T18:22:00Z to 2026-03-24T23:22:00Z._" in body["report"].splitlines()
    windowed = invoke_json("inspect", "--bundle", str(bundle), "--window", "90m")["report"]  # the command line's
    assert "_Inspected: 1.5h of data, 2026-03-24T21:52:00Z to 2026-03-24T23:22:00Z._" in windowed.splitlines()


def test_an_inspection_report_says_what_span_it_judged():
    report = runner.invoke(app, ["inspect", "--bundle", str(SCENARIOS / "inspection-memory-leak")]).stdout
    assert "_Inspected: 1.5h of data, 2026-03-24T21:52:00Z to 2026-03-24T23:22:00Z._" in report.splitlines()
