"""``bianque eval`` and ``bianque demo`` through typer's CliRunner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from agent.cli.app import app
from agent.config import PROJECT_ROOT

runner = CliRunner(env={"COLUMNS": "200"})  # wide enough that rich wraps nothing
SCENARIOS = PROJECT_ROOT / "examples" / "scenarios"
SMALL = PROJECT_ROOT / "tests" / "fixtures" / "bundles" / "small-rca"
PATTERNS = {"rca", "release_interception", "inspection"}


@pytest.fixture(autouse=True)
def no_knowledge(monkeypatch):
    """Knowledge is not the point here: skip embedding the handbook."""
    monkeypatch.setattr("agent.runtime.open_knowledge", lambda settings, **kwargs: None)


@pytest.fixture
def mixed_cases(tmp_path) -> Path:
    """One labelled case per pattern, one case without a label, one broken case."""
    root = tmp_path / "cases"
    for name in ("rca-slow-dependency", "release-good-canary", "inspection-disk-full"):
        shutil.copytree(SCENARIOS / name, root / name)
    shutil.copytree(SMALL, root / "unlabelled")
    (root / "unlabelled" / "label.yaml").unlink()
    shutil.copytree(SMALL, root / "broken")
    (root / "broken" / "event.yaml").write_text("pattern: nonsense\ntime: 2026-03-02T10:15:00Z\n")
    return root


def test_eval_json_has_rates_per_pattern_for_the_bundled_scenarios():
    result = runner.invoke(app, ["eval", "--cases", str(SCENARIOS), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["by_pattern"]) == PATTERNS
    bundles = sorted(p.parent.name for p in SCENARIOS.glob("*/event.yaml"))
    assert sorted(c["case"] for c in report["cases"]) == bundles and report["errors"] == {}
    assert report["overall"]["cases"] == len(bundles) == sum(s["cases"] for s in report["by_pattern"].values())
    for summary in report["by_pattern"].values():
        assert 0.0 <= summary["pass_rate"] <= 1.0
        assert summary["passed"] == round(summary["pass_rate"] * summary["cases"])
    rca, release = report["by_pattern"]["rca"], report["by_pattern"]["release_interception"]
    assert rca["rca_top1"] is not None and rca["block_recall"] is None
    assert release["block_recall"] is not None and release["rca_top1"] is None
    assert report["by_pattern"]["inspection"]["inspection_recall"] is not None
    assert set(report["by_skill"]) == {c["skill"] for c in report["cases"]}


def test_eval_reports_unlabelled_and_broken_cases_without_stopping(mixed_cases):
    result = runner.invoke(app, ["eval", "--cases", str(mixed_cases), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["overall"]["cases"] == 3 and set(report["by_pattern"]) == PATTERNS
    assert report["errors"]["unlabelled"] == "no label.yaml"
    broken = report["errors"]["broken"]
    assert f"{mixed_cases}/broken/event.yaml:1" in broken and "pattern" in broken


def test_eval_that_evaluated_nothing_fails_and_strict_fails_on_any_skipped_bundle(mixed_cases, tmp_path):
    """Every bundle invalid had said "0 cases, pass rate —" with exit 0: a CI job would pass on nothing."""
    root = tmp_path / "skipped-only"
    shutil.copytree(mixed_cases / "broken", root / "broken")
    shutil.copytree(mixed_cases / "unlabelled", root / "unlabelled")
    for extra in ([], ["--json"]):
        result = runner.invoke(app, ["eval", "--cases", str(root), "--jobs", "1", *extra])
        assert result.exit_code == 2, result.output
        assert "none of the 2 bundle(s) could be evaluated (2 skipped" in " ".join(result.stderr.split())
    strict = runner.invoke(app, ["eval", "--cases", str(mixed_cases), "--json", "--strict"])
    assert strict.exit_code == 1 and json.loads(strict.stdout)["overall"]["cases"] == 3
    assert "2 of 5 bundle(s) skipped" in " ".join(strict.stderr.split())


def test_eval_reports_a_release_bundle_naming_no_change_as_invalid(tmp_path):
    """As intercept refuses it: the gate judged whatever the event's service did (the bad canary's data passed)."""
    root = tmp_path / "cases"
    shutil.copytree(SCENARIOS / "release-bad-canary", root / "unnamed")
    (root / "unnamed" / "event.yaml").write_text("pattern: release_interception\ntime: '2026-04-21T16:20:00Z'\n"
                                                 "service: recommendation\n")
    shutil.copytree(SCENARIOS / "release-good-canary", root / "named")
    result = runner.invoke(app, ["eval", "--cases", str(root), "--json", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [c["case"] for c in report["cases"]] == ["named"]
    unnamed = report["errors"]["unnamed"]
    assert f"{root}/unnamed/event.yaml: change: required for a release_interception event" in unnamed


def test_eval_records_each_cases_warnings(tmp_path):
    root = tmp_path / "cases"
    shutil.copytree(SCENARIOS / "rca-slow-dependency", root / "odd")
    shutil.copytree(SCENARIOS / "release-good-canary", root / "plain")
    (root / "odd" / "topology.yaml").write_text("services:\n  gateway: {calls: [ranking]}\n")
    with (root / "odd" / "label.yaml").open("a") as label:
        label.write("root_causes: []\n")
    result = runner.invoke(app, ["eval", "--cases", str(root), "--json", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["warnings"]) == {"odd"} and len(report["warnings"]["odd"]) == 2
    topology, label = report["warnings"]["odd"]
    assert topology.startswith(f"{root}/odd/topology.yaml:2: services.gateway.calls: unknown key ignored")
    assert label.startswith(f"{root}/odd/label.yaml:") and "root_causes: unknown key ignored" in label
    table = runner.invoke(app, ["eval", "--cases", str(root), "--jobs", "1"])
    assert table.exit_code == 0 and f"warning: {topology}" in table.stdout


def test_eval_table(mixed_cases):
    result = runner.invoke(app, ["eval", "--cases", str(mixed_cases), "--verbose"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Offline evaluation" in out
    for title in ("rca", "release_interception", "inspection", "per Skill", "cases, pass rate"):
        assert title in out
    assert "top-1" in out and "block recall" in out and "false alarms" in out
    assert "rca-slow-dependency" in out and "skipped unlabelled: no label.yaml" in out


def test_eval_tables_written_to_a_pipe_keep_each_row_on_one_line(mixed_cases):
    """Out of a terminal the tables were folded to 80 columns ("noise / silenced", "(1/1 / labelled)")."""
    result = runner.invoke(app, ["eval", "--cases", str(mixed_cases), "--jobs", "1"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    [header] = [line for line in lines if "top-1" in line]
    assert "noise silenced" in header and "missed actionable" in header
    [row] = [line for line in lines if "labelled)" in line]
    assert "100% (1/1 labelled)" in row


def test_eval_of_a_directory_without_bundles_fails(tmp_path):
    result = runner.invoke(app, ["eval", "--cases", str(tmp_path)])
    assert result.exit_code == 2
    assert "no case bundles" in result.stderr


def test_eval_stops_past_max_bundles_before_evaluating_any(mixed_cases, monkeypatch):
    def evaluate(*args, **kwargs):
        raise AssertionError("nothing is evaluated past --max-bundles")

    monkeypatch.setattr("agent.cli.evaluate._run_eval", evaluate)
    result = runner.invoke(app, ["eval", "--cases", str(mixed_cases), "--max-bundles", "4"])
    assert result.exit_code == 2 and result.stdout == ""
    message = " ".join(result.stderr.split())  # as `bundle validate` says it
    assert f"more than 4 case bundles under {mixed_cases}" in message and "--max-bundles 0" in message


def test_eval_of_a_missing_directory_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["eval", "--cases", str(tmp_path / "absent")])
    assert result.exit_code == 2 and "Invalid value for '--cases'" in result.output


def test_demo_runs_the_scenarios_and_prints_the_summary_table(mixed_cases):
    shutil.rmtree(mixed_cases / "broken")
    result = runner.invoke(app, ["demo", "--scenarios", str(mixed_cases)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Bian Que demo" in out and "Decisions against the ground truth" in out
    assert "missed actionable" in out and "recall" in out
    assert out.count("✔") + out.count("✘") == 3  # one mark per labelled case
    assert "skipped unlabelled: no label.yaml" in out
    assert "bianque rca --bundle examples/scenarios/" in out


def test_demo_without_scenarios_fails(tmp_path):
    result = runner.invoke(app, ["demo", "--scenarios", str(tmp_path)])
    assert result.exit_code == 2 and f"no case bundles (directories with an event.yaml) under {tmp_path}" in " ".join(
        result.stderr.split())
    missing = runner.invoke(app, ["demo", "--scenarios", str(tmp_path / "absent")])
    assert missing.exit_code == 2 and "Invalid value for '--scenarios'" in missing.output


def test_demo_finds_its_scenarios_as_eval_does_and_stops_past_max_bundles(mixed_cases, monkeypatch):
    found: list[list[Path]] = []

    def evaluate(bundles, *args, **kwargs):
        found.append(list(bundles))
        raise typer.Exit(0)

    monkeypatch.setattr("agent.cli.evaluate._run_eval", evaluate)
    assert runner.invoke(app, ["demo"]).exit_code == 0  # the bundled scenarios, as before
    assert found == [sorted(p.parent for p in SCENARIOS.glob("*/event.yaml"))]
    (mixed_cases / ".git" / "objects" / "x").mkdir(parents=True)  # the shared walker skips hidden folders
    shutil.copytree(SMALL, mixed_cases / ".git" / "objects" / "x" / "copy")
    assert runner.invoke(app, ["demo", "--scenarios", str(mixed_cases)]).exit_code == 0
    assert [p.name for p in found[1]] == ["broken", "inspection-disk-full", "rca-slow-dependency",
                                          "release-good-canary", "unlabelled"]
    result = runner.invoke(app, ["demo", "--scenarios", str(mixed_cases), "--max-bundles", "4"])
    assert result.exit_code == 2 and result.stdout == "" and len(found) == 2  # nothing investigated
    message = " ".join(result.stderr.split())  # as `eval` and `bundle validate` say it
    assert f"more than 4 case bundles under {mixed_cases}" in message and "--max-bundles 0" in message


def test_eval_with_memory_counts_a_stored_correction(tmp_path, memory):
    """A team's correction stored in memory changes the eval answer only with ``--memory``."""
    from agent.bundles.reader import load_bundle
    from agent.config import get_settings
    from agent.evolve.corrections import correct_case
    from agent.investigate import investigate
    from agent.runtime import bundle_toolkit

    case_dir = tmp_path / "cases" / "rca-slow-dependency"
    shutil.copytree(SCENARIOS / "rca-slow-dependency", case_dir)
    bundle = load_bundle(case_dir)
    stored = investigate(bundle.event, bundle_toolkit(bundle, get_settings(), memory=memory), bundle_path=str(case_dir))
    second = stored.verdict.root_causes[1]
    # The team says the second-ranked service was the cause; the bundle's label agrees with the team.
    (case_dir / "label.yaml").write_text(f"root_cause:\n- service: {second.service}\n  fault: {second.fault}\n")

    def run(*extra: str) -> dict:
        result = runner.invoke(app, ["eval", "--cases", str(case_dir.parent), "--json", *extra])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    assert run()["cases"][0]["passed"] is False and run("--memory")["memory"]["lessons"] == 0
    correct_case(memory, stored.case_id, correct=False, service=second.service, fault=second.fault)
    assert run()["cases"][0]["passed"] is False  # without --memory corrections never count
    with_memory = run("--memory")
    assert with_memory["cases"][0]["passed"] is True and with_memory["cases"][0]["rank"] == 1
    assert with_memory["memory"]["corrected_cases"] == 1 and with_memory["memory"]["lessons"] >= 1
    assert with_memory["memory"]["in_sample"] == ["rca-slow-dependency"]
    table = runner.invoke(app, ["eval", "--cases", str(case_dir.parent), "--memory"])
    assert "lesson(s) from 1 corrected case(s)" in table.stdout and "in-sample" in table.stdout
    correct_case(memory, stored.case_id, correct=False, service=second.service, fault=second.fault, index=False)
    kept_out = run("--memory")  # `correct --no-index`: the case no longer moves the ranking
    assert kept_out["cases"][0]["passed"] is False
    assert kept_out["memory"] == {"corrected_cases": 0, "lessons": 0, "in_sample": []}


def test_eval_in_two_worker_processes_prints_the_same_report(mixed_cases):
    alone = runner.invoke(app, ["eval", "--cases", str(mixed_cases), "--json", "--jobs", "1"])
    spread = runner.invoke(app, ["eval", "--cases", str(mixed_cases), "--json", "--jobs", "2"])
    assert alone.exit_code == spread.exit_code == 0, spread.output
    assert json.loads(spread.stdout) == json.loads(alone.stdout)
    assert json.loads(spread.stdout)["overall"]["cases"] == 3


def test_demo_names_the_llm_endpoint_without_its_basic_auth_password(monkeypatch):
    """The demo's headline named the model's endpoint as configured, a basic-auth password included."""
    def evaluate(*_args, **_kwargs):
        raise typer.Exit(0)

    monkeypatch.setattr("agent.cli.evaluate._run_eval", evaluate)
    monkeypatch.setenv("BIANQUE_LLM_BASE_URL", "http://admin:s3cret@llm.internal:8080/v1")
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "http://admin:***@llm.internal:8080/v1" in result.stdout and "s3cret" not in result.output


def test_eval_with_a_skill_answers_every_case_of_its_pattern_with_it_and_skips_the_rest(mixed_cases, bianque_home):
    """A Skill author's test: the Skill answers every case of its pattern, whichever selection would pick; cases
    of other patterns are skipped saying why, and a miss names the Skill's metric signals that found no data."""
    result = runner.invoke(app, ["eval", "--cases", str(mixed_cases), "--skill", "generic-rca", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [(c["case"], c["skill"]) for c in report["cases"]] == [("rca-slow-dependency", "generic-rca")]
    assert report["errors"]["release-good-canary"] == (
        "its event is a release_interception event; --skill generic-rca answers rca events")
    assert report["errors"]["inspection-disk-full"].startswith("its event is an inspection event")
    text = (PROJECT_ROOT / "skills" / "memory-pressure-rca.yaml").read_text(encoding="utf-8")
    (bianque_home / "skills").mkdir(parents=True, exist_ok=True)
    (bianque_home / "skills" / "blind-rca.yaml").write_text(  # an author's Skill whose names the data lacks
        text.replace("name: memory-pressure-rca", "name: blind-rca").replace("name: memory_usage_bytes",
                                                                             "name: heap_bytes_used"),
        encoding="utf-8")
    blind = runner.invoke(app, ["eval", "--cases", str(mixed_cases), "--skill", "blind-rca", "-v"])
    said = " ".join(blind.output.split())
    assert "✘ rca-slow-dependency blind-rca" in said
    assert "(1 metric signal(s) without data: memory (gateway" in said and "no data in the window" in said


def test_eval_with_an_unknown_skill_is_refused_before_anything_runs(mixed_cases):
    result = runner.invoke(app, ["eval", "--cases", str(mixed_cases), "--skill", "no-such-skill"])
    assert result.exit_code == 2
    assert "no Skill named 'no-such-skill'" in result.stderr and "evaluating" not in result.output


def test_eval_written_to_a_file_has_no_progress_lines_and_one_line_per_case(mixed_cases):
    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["eval", "--cases", str(mixed_cases), "-v"])
    assert result.exit_code == 0, result.output
    assert "evaluating" not in result.stdout and "evaluating 5 bundles" in result.stderr  # the bar goes to stderr
    [line] = [x for x in result.stdout.splitlines() if "inspection-disk-full" in x and "found" in x]
    assert line.endswith("found 1/1, 0 false alarm(s)")  # whole, not folded at 80 columns


def test_eval_names_skipped_bundles_by_their_path_under_the_cases_directory(tmp_path):
    """Keyed by the folder's name, two skipped bundles of one name in different folders had overwritten each other."""
    root = tmp_path / "cases"
    shutil.copytree(SCENARIOS / "release-good-canary", root / "day1" / "good")
    for day in ("day1", "day2"):
        shutil.copytree(SMALL, root / day / "same-name")
        (root / day / "same-name" / "label.yaml").unlink()
    result = runner.invoke(app, ["eval", "--cases", str(root), "--json", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["errors"] == {"day1/same-name": "no label.yaml", "day2/same-name": "no label.yaml"}
    table = runner.invoke(app, ["eval", "--cases", str(root / "day1"), "--jobs", "1"])
    assert "skipped same-name: no label.yaml" in table.stdout  # one folder's bundles: named as before


def test_eval_names_each_case_by_its_path_under_the_cases_directory(tmp_path):
    """Per-case results had been keyed by the folder's name alone: two bundles of one name in different folders were
    two cases both called `same`, told apart neither in --json nor in -v's lines."""
    root = tmp_path / "cases"
    for day in ("day1", "day2"):
        shutil.copytree(SCENARIOS / "release-good-canary", root / day / "same")
    report = json.loads(runner.invoke(app, ["eval", "--cases", str(root), "--json", "--jobs", "1"]).stdout)
    assert [c["case"] for c in report["cases"]] == ["day1/same", "day2/same"]
    lines = runner.invoke(app, ["eval", "--cases", str(root), "-v", "--jobs", "1"]).stdout.splitlines()
    assert [line.split()[1] for line in lines if line.startswith(("✔", "✘"))] == ["day1/same", "day2/same"]
    one = json.loads(runner.invoke(app, ["eval", "--cases", str(root / "day1"), "--json", "--jobs", "1"]).stdout)
    assert [c["case"] for c in one["cases"]] == ["same"]  # one folder's bundles: named as before


def test_eval_on_a_terminal_draws_its_progress_on_stderr(mixed_cases, monkeypatch):
    """With stdout a terminal the bar had been drawn into stdout, among the report's lines."""
    from rich.console import Console

    monkeypatch.setattr("agent.cli.evaluate.console", Console(force_terminal=True, width=200))
    result = runner.invoke(app, ["eval", "--cases", str(mixed_cases), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert "evaluating 5 bundles" not in result.stdout and "Offline evaluation" in result.stdout
    assert "evaluating 5 bundles" in result.stderr
