"""``bianque skills``: list, show, validate, schema."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text
from typer.testing import CliRunner

from agent.cli import skills as skills_cli
from agent.cli.app import app
from agent.config import PROJECT_ROOT, get_settings

FIXTURES = Path(__file__).parent / "fixtures" / "skills"
SHIPPED = PROJECT_ROOT / "skills"
runner = CliRunner()


@pytest.fixture
def only_fixture_dirs(monkeypatch, bianque_home):
    """Configured Skill dirs: the override fixtures' base dir, and their user dir as the user's."""
    monkeypatch.chdir(FIXTURES)
    monkeypatch.setenv("BIANQUE_SKILLS_DIRS", json.dumps([str(FIXTURES / "override" / "base")]))
    monkeypatch.setenv("BIANQUE_USER_SKILLS_DIR", str(FIXTURES / "override" / "user"))
    get_settings.cache_clear()


def test_validate_shipped_skills_exits_0():
    result = runner.invoke(app, ["skills", "validate", str(SHIPPED)])
    assert result.exit_code == 0, result.output
    count = len(list(SHIPPED.glob("*.yaml")))
    assert f"{count} Skill(s) valid, 0 error(s)" in result.output


def test_validate_without_paths_checks_the_configured_library():
    result = runner.invoke(app, ["skills", "validate"])
    assert result.exit_code == 0, result.output


def test_validate_prints_every_error_and_exits_1(monkeypatch):
    monkeypatch.chdir(FIXTURES)
    result = runner.invoke(app, ["skills", "validate", "broken", "valid/minimal-rca.yaml"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    wrong_enum = "broken/wrong_enum.yaml:10: data.metrics[1].compare: must be one of baseline, history, "
    wrong_enum += "threshold, trend"
    assert wrong_enum in lines
    assert "broken/syntax_error.yaml:6: YAML syntax error: expected the node content, but found '-'" in lines
    assert len([line for line in lines if line.startswith("broken/")]) == 9
    assert lines[-1] == "1 Skill(s) valid, 9 error(s), 0 warning(s)"


def test_validating_a_copy_that_kept_its_name_reports_the_duplicate_in_its_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = (SHIPPED / "disk-inspection.yaml").read_text()
    (tmp_path / "disk-inspection.yaml").write_text(text)
    (tmp_path / "disk-copy.yaml").write_text(text)  # sorts first: the directory would load it, not the original
    duplicate = "duplicate Skill name 'disk-inspection': also defined in"
    alone = runner.invoke(app, ["skills", "validate", "disk-copy.yaml"])
    assert alone.exit_code == 1
    assert f"disk-copy.yaml:2: name: {duplicate} disk-inspection.yaml, which would then not load" in alone.output
    original = runner.invoke(app, ["skills", "validate", "disk-inspection.yaml"])
    assert original.exit_code == 1 and "0 Skill(s) valid, 1 error(s)" in original.output
    assert f"disk-inspection.yaml:2: name: {duplicate} disk-copy.yaml, which loads first: this file would not" in (
        original.output)
    both = runner.invoke(app, ["skills", "validate", "disk-copy.yaml", "disk-inspection.yaml"])
    assert both.exit_code == 1 and both.output.count(duplicate) == 1 and "1 Skill(s) valid, 1 error(s)" in both.output
    whole = runner.invoke(app, ["skills", "validate", ".", "disk-copy.yaml"])  # the directory says it, once
    assert whole.exit_code == 1 and whole.output.count(duplicate) == 1 and "1 Skill(s) valid" in whole.output


def test_validate_and_list_read_skills_in_subfolders(tmp_path, monkeypatch, bianque_home):
    monkeypatch.chdir(tmp_path)
    text = (FIXTURES / "valid" / "minimal-rca.yaml").read_text()
    (tmp_path / "emptyd" / "sub").mkdir(parents=True)
    (tmp_path / "emptyd" / "sub" / "minimal-rca.yaml").write_text(text)
    result = runner.invoke(app, ["skills", "validate", "emptyd"])
    assert result.exit_code == 0 and "1 Skill(s) valid, 0 error(s)" in result.output, result.output
    user = bianque_home / "skills" / "trainticket"
    user.mkdir(parents=True)
    (user / "order-rca.yaml").write_text(text.replace("name: minimal-rca", "name: order-rca"))
    listed = runner.invoke(app, ["skills", "list"], terminal_width=400)
    assert listed.exit_code == 0 and "order-rca" in listed.output and "trainticket" in listed.output
    assert runner.invoke(app, ["skills", "show", "order-rca"]).exit_code == 0


def test_validating_one_file_finds_a_copy_in_another_folder_of_its_skill_directory(monkeypatch, bianque_home):
    user = bianque_home / "skills"
    text = (FIXTURES / "valid" / "minimal-rca.yaml").read_text()
    for folder in ("a-team", "b-team"):
        (user / folder).mkdir(parents=True)
        (user / folder / "minimal-rca.yaml").write_text(text)
    monkeypatch.chdir(user)
    result = runner.invoke(app, ["skills", "validate", "b-team/minimal-rca.yaml"])
    assert result.exit_code == 1
    assert ("b-team/minimal-rca.yaml:2: name: duplicate Skill name 'minimal-rca': also defined in "
            "a-team/minimal-rca.yaml, which loads first: this file would not") in result.output


def test_a_library_without_the_built_in_generic_skills_is_warned_of(tmp_path, monkeypatch, bianque_home):
    """BIANQUE_SKILLS_DIRS naming one's own folder alone replaces the built-in Skills: an event no specific Skill
    fits then fails, so validate and list say so and how to keep them."""
    mine = tmp_path / "my-skills"
    mine.mkdir()
    shutil.copy(FIXTURES / "valid" / "minimal-rca.yaml", mine / "minimal-rca.yaml")
    monkeypatch.setenv("BIANQUE_SKILLS_DIRS", json.dumps([str(mine)]))
    get_settings.cache_clear()
    keep = json.dumps([str(SHIPPED), str(mine)])
    for args in (["skills", "validate"], ["skills", "list"]):
        result = runner.invoke(app, args)
        said = " ".join(result.output.split())
        assert result.exit_code == 0, result.output
        assert "no generic Skill for rca, release_interception, inspection" in said
        assert f"BIANQUE_SKILLS_DIRS={json.dumps([str(mine)])}) replaces the built-in Skills of {SHIPPED}" in said
        assert f"BIANQUE_SKILLS_DIRS='{keep}'" in said
    assert "1 Skill(s) valid, 0 error(s), 1 warning(s)" in runner.invoke(app, ["skills", "validate"]).output


def test_the_configured_library_with_its_generic_skills_has_no_warning():
    result = runner.invoke(app, ["skills", "validate"])
    assert result.exit_code == 0 and "0 warning(s)" in result.output and "generic" not in result.output


def test_validate_warns_of_a_scope_of_every_service_and_a_min_effect_read_as_percent(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = (FIXTURES / "valid" / "minimal-rca.yaml").read_text()
    text = text.replace("services: [checkout]", 'services: ["*"]').replace(
        "labels: {service: \"{service}\"}", "labels: {service: \"{service}\"}\n      min_effect: 25")
    Path("order-rca.yaml").write_text(text)
    result = runner.invoke(app, ["skills", "validate", "order-rca.yaml"])
    assert result.exit_code == 0, result.output  # warnings never fail validation
    lines = result.output.splitlines()
    assert [line.split(": ")[0:2] for line in lines if line.startswith("warning:")] == [
        ["warning", "order-rca.yaml:6"], ["warning", "order-rca.yaml:12"]]
    assert "warning: order-rca.yaml:6: scope.services[0]: '*': this specific Skill fits every service" in result.output
    assert "order-rca.yaml:12: data.metrics[0].min_effect: 25 (p99) asks for a change of 2500 %" in result.output
    assert lines[-1] == "1 Skill(s) valid, 0 error(s), 2 warning(s)"


def test_validate_fails_when_nothing_was_checked(tmp_path):
    result = runner.invoke(app, ["skills", "validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "no Skill files found" in result.output and "nothing was checked" in result.output


def test_validate_of_a_path_that_does_not_exist_is_a_usage_error(monkeypatch):
    """Exit 2 (bad input) as a missing ``--bundle`` is everywhere, not 1 (a Skill failed its check)."""
    monkeypatch.chdir(FIXTURES)
    result = runner.invoke(app, ["skills", "validate", "valid", "no/such/file.yaml"])
    assert result.exit_code == 2
    assert "Invalid value for 'paths': path 'no/such/file.yaml' does not exist." in " ".join(
        result.stderr.replace("│", " ").split())


def test_validate_with_bundle_warns_but_does_not_fail(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "event.yaml").write_text("pattern: rca\ntime: 1700000000\nservice: checkout\n")
    (bundle / "metrics.csv").write_text(
        "timestamp,metric,service,value\n1700000000,http_latency_p99_seconds,checkout,0.2\n"
    )
    skill_dir = tmp_path / "skills"
    skill_dir.mkdir()
    shutil.copy(FIXTURES / "valid" / "minimal-rca.yaml", skill_dir)
    shutil.copy(SHIPPED / "ranking-rca.yaml", skill_dir)
    result = runner.invoke(app, ["skills", "validate", str(skill_dir), "--bundle", str(bundle)])
    assert result.exit_code == 0, result.output
    line = next(n for n, text in enumerate((SHIPPED / "ranking-rca.yaml").read_text().splitlines(), 1)
                if "name: request_latency_p99_seconds" in text)
    warnings = [line for line in result.output.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and not [w for w in warnings if "minimal-rca" in w]  # one line per Skill
    assert f"ranking-rca.yaml:{line}: ranking-rca: 6 metric signal(s) match nothing in the catalog: " \
           f"'request_latency_p99_seconds' (p99_latency, line {line})," in warnings[0]
    summary = next(line for line in result.output.splitlines() if line.startswith("the catalog of "))
    assert summary.startswith(f"the catalog of bundle {bundle} lacks 6 metric name(s) or glob(s) that 1 Skill(s) "
                              "read: ")
    assert summary.endswith(f"`bianque catalog --bundle {bundle}` lists what it holds"), summary
    assert "2 Skill(s) valid, 0 error(s), 6 warning(s)" in result.output


def test_validate_with_missing_bundle_exits_2(tmp_path):
    result = runner.invoke(app, ["skills", "validate", str(SHIPPED), "--bundle", str(tmp_path / "nope")])
    assert result.exit_code == 2


def test_list_shows_skills_sources_overrides_and_failed_files(only_fixture_dirs):
    result = runner.invoke(app, ["skills", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "only-base" in result.output and "inspection" in result.output
    assert "override/user/shared.yaml (overrides" in result.output
    assert "1 file(s) failed to load" in result.output
    assert "override/user/broken.yaml:5: decision.default: outcome 'maybe'" in result.output


def test_list_written_to_a_pipe_keeps_each_skill_on_one_line(tmp_path, monkeypatch):
    """Out of a terminal the table was folded to 80 columns: a long name, its scope and its file broken across
    lines."""
    name = "disk-inspection-of-every-service-of-the-serving-system"
    skills = tmp_path / "skills-of-the-search-and-recommendation-team"
    skills.mkdir()
    text = (SHIPPED / "disk-inspection.yaml").read_text().replace("name: disk-inspection", f"name: {name}")
    (skills / f"{name}.yaml").write_text(text)
    monkeypatch.setenv("BIANQUE_SKILLS_DIRS", json.dumps([str(skills)]))
    monkeypatch.setenv("BIANQUE_USER_SKILLS_DIR", str(tmp_path / "user"))
    get_settings.cache_clear()
    result = runner.invoke(app, ["skills", "list"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    [row] = [line for line in result.stdout.splitlines() if name in line]
    assert "gateway, query-understanding, +7" in row and f"{skills.name}/{name}.yaml" in row


def test_show_prints_the_skill_yaml(only_fixture_dirs):
    result = runner.invoke(app, ["skills", "show", "shared"])
    assert result.exit_code == 0, result.output
    assert "The user's version of the Skill" in result.output
    assert "override/user/shared.yaml" in result.output


def test_show_written_to_a_file_is_the_skills_file_and_validates(tmp_path):
    """Out of a terminal the YAML was wrapped at 80 columns, long lines and comments broken: no longer YAML."""
    skill = SHIPPED / "ads-serving-rca.yaml"
    text = skill.read_text(encoding="utf-8")
    assert max(map(len, text.splitlines())) > 80
    result = runner.invoke(app, ["skills", "show", "ads-serving-rca"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert result.stdout == text
    source = result.stderr.strip()  # where it comes from: not in the file
    assert source.startswith("# ") and source.endswith(f"skills/{skill.name}")
    written = tmp_path / "ads-serving-rca.yaml"
    written.write_text(result.stdout, encoding="utf-8")
    checked = runner.invoke(app, ["skills", "validate", str(written)])
    assert checked.exit_code == 0, checked.output


def test_show_on_a_terminal_is_highlighted_after_its_source(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(skills_cli, "console", Console(file=out, force_terminal=True, width=80))
    result = runner.invoke(app, ["skills", "show", "ads-serving-rca"])
    assert result.exit_code == 0, result.output
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("skills/ads-serving-rca.yaml") and "\x1b[" in out.getvalue()
    assert max(map(len, Text.from_ansi(out.getvalue()).plain.splitlines())) <= 80


def test_show_unknown_name_suggests_and_exits_2_as_bad_input(only_fixture_dirs):
    result = runner.invoke(app, ["skills", "show", "sharde"])
    assert result.exit_code == 2
    assert "No Skill named 'sharde'. Did you mean: shared?" in result.output


def test_show_a_skill_whose_file_did_not_load_names_the_files_error(only_fixture_dirs):
    result = runner.invoke(app, ["skills", "show", "broken"], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "No Skill named 'broken' (its file did not load: " in result.output
    assert "override/user/broken.yaml:5: decision.default" in result.output


def test_show_warns_that_a_broken_override_left_the_built_in_skill_in_place():
    user_dir = get_settings().resolved_user_skills_dir
    user_dir.mkdir(parents=True)
    text = (SHIPPED / "disk-inspection.yaml").read_text()
    (user_dir / "disk-inspection.yaml").write_text(text.replace("threshold: 0.85", "threshold: high"))
    result = runner.invoke(app, ["skills", "show", "disk-inspection"])
    header, *warned = result.stderr.splitlines()  # out of a terminal, where it comes from is said on stderr
    assert result.exit_code == 0 and header.endswith("skills/disk-inspection.yaml") and str(user_dir) not in header
    warning = " ".join(" ".join(warned).split())
    assert warning.startswith("warning: Skill 'disk-inspection' was read from ")
    assert f"not from the file that did not load: {user_dir / 'disk-inspection.yaml'}:" in warning
    assert "data.metrics[0].threshold: input should be a valid number" in warning


def test_schema_export_is_json_schema_of_skill(tmp_path):
    out = tmp_path / "skill.schema.json"
    result = runner.invoke(app, ["skills", "schema", "--out", str(out)])
    assert result.exit_code == 0, result.output
    schema = json.loads(out.read_text())
    assert schema["title"] == "Skill" and schema["additionalProperties"] is False
    fields = {"name", "pattern", "scope", "triggers", "schedule", "window", "data", "knowledge", "decision"}
    assert fields <= set(schema["properties"])
    assert set(schema["required"]) == {"name", "description", "pattern", "decision"}
    assert "if" in schema["$defs"]["Rule"]["properties"]
    lookback = schema["$defs"]["Window"]["properties"]["lookback"]
    assert {"type": "number"} in lookback["anyOf"]
    stdout = runner.invoke(app, ["skills", "schema"])
    assert json.loads(stdout.output) == schema


def test_schema_accepts_the_shipped_skills():
    jsonschema = pytest.importorskip("jsonschema")
    from agent.skills.loader import load_skill, plain
    from agent.skills.schema import skill_json_schema

    validator = jsonschema.Draft202012Validator(skill_json_schema())
    for path in sorted(SHIPPED.glob("*.yaml")):
        errors = list(validator.iter_errors(plain(load_skill(path).raw)))
        assert errors == [], (path.name, [e.message for e in errors])


def test_show_into_the_users_skill_directory_copies_a_built_in_skill_without_warning_of_the_file_it_writes(
        bianque_home):
    """`skills show NAME > $BIANQUE_HOME/skills/NAME.yaml` (docs/evolution.md): the shell makes that file empty before
    the command reads the Skill directories; it is the output being written, not a broken override to warn of."""
    import os
    import subprocess
    import sys

    target = bianque_home / "skills" / "memory-pressure-rca.yaml"
    target.parent.mkdir(parents=True)
    with target.open("wb") as out:
        done = subprocess.run([sys.executable, "-m", "agent.cli", "skills", "show", "memory-pressure-rca"],
                              stdout=out, stderr=subprocess.PIPE, text=True, env=os.environ, cwd=PROJECT_ROOT,
                              timeout=120)
    assert done.returncode == 0, done.stderr
    assert "did not load" not in done.stderr and "memory-pressure-rca.yaml" in done.stderr  # the header only
    assert target.read_bytes() == (get_settings().skills_dirs[0] / "memory-pressure-rca.yaml").read_bytes()


def test_validate_with_prometheus_warns_of_names_the_server_does_not_have(tmp_path, monkeypatch):
    """A team with a live server, not an exported bundle, checks its Skill's names against that server."""
    import agent.sources.catalog as catalog_module
    from agent.sources.base import MetricInfo
    from agent.sources.catalog import Catalog

    seen = []

    def fake_catalog(url: str, service_label: str = "service") -> Catalog:
        seen.append((url, service_label))
        return Catalog(metrics=[MetricInfo("http_latency_p99_seconds", labels=("service",), services=("checkout",))])

    monkeypatch.setattr(catalog_module, "catalog_from_prometheus", fake_catalog)
    monkeypatch.setenv("BIANQUE_SERVICE_LABEL", "app")
    get_settings.cache_clear()
    skill = tmp_path / "ranking-rca.yaml"
    shutil.copy(SHIPPED / "ranking-rca.yaml", skill)
    result = runner.invoke(app, ["skills", "validate", str(skill), "--prometheus", "http://prom.example:9090"])
    assert result.exit_code == 0, result.output
    assert seen == [("http://prom.example:9090", "app")]
    assert "ranking-rca: 6 metric signal(s) match nothing in the catalog: 'request_latency_p99_seconds'" in \
           result.output


def test_validate_of_a_library_against_prometheus_says_per_skill_what_is_missing_and_sums_it_up(monkeypatch):
    """Run on the whole library, --prometheus had printed one warning per missing metric per Skill (86 lines for a
    server holding none of the shipped names): a Skill's metrics matching nothing are one line now, its other gaps a
    line each, and one line names the missing metrics most Skills read. Warnings still exit 0."""
    import re

    import agent.sources.catalog as catalog_module
    from agent.sources.base import MetricInfo
    from agent.sources.catalog import Catalog

    held = Catalog(metrics=[MetricInfo("request_latency_p99_seconds", labels=("service",), services=("ranking",))])
    monkeypatch.setattr(catalog_module, "catalog_from_prometheus", lambda url, service_label="service": held)
    skills = [SHIPPED / name for name in ("ranking-rca.yaml", "search-errors-rca.yaml", "disk-inspection.yaml")]
    result = runner.invoke(app, ["skills", "validate", *map(str, skills), "--prometheus", "http://prom.example:9090"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning: ")]
    per_skill = {name: [w for w in warnings if f"{name}.yaml:" in w] for name in ("ranking-rca", "search-errors-rca",
                                                                                  "disk-inspection")}
    assert all(len(lines) == 1 for lines in per_skill.values()), warnings
    assert "'request_latency_p99_seconds'" not in result.output  # the server holds it
    assert "search-errors-rca: 5 metric signal(s) match nothing in the catalog: 'request_error_ratio'" in \
           per_skill["search-errors-rca"][0]
    summary = next(line for line in result.output.splitlines() if line.startswith("the catalog of "))
    assert summary.startswith("the catalog of http://prom.example:9090 lacks ") and "that 3 Skill(s) read: " in summary
    assert "disk_usage_ratio (2 Skills)" in summary  # the names more Skills read come first
    assert summary.endswith("`bianque catalog --prometheus http://prom.example:9090` lists what it holds")
    total = sum(int(re.search(r": (\d+) metric signal\(s\) match nothing", w).group(1)) for w in warnings)
    assert f"3 Skill(s) valid, 0 error(s), {total} warning(s)" in result.output


def test_validate_with_an_unreachable_prometheus_is_bad_input(tmp_path):
    result = runner.invoke(app, ["skills", "validate", str(SHIPPED / "ranking-rca.yaml"), "--prometheus",
                                 "http://127.0.0.1:1"])
    assert result.exit_code == 2
    assert "--prometheus http://127.0.0.1:1: prometheus: cannot list metrics" in " ".join(result.stderr.split())
