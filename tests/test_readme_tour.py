"""The README tour's correction loop, run exactly as written (offline, on a fresh BIANQUE_HOME).

Its commands are read from the README's "A tour" block, so a change to either the docs or the code that
breaks a documented step fails here. A step's expected exit code is the ``(exit N)`` its comment states,
else 0; prompts ("asks first") are answered yes.
"""

from __future__ import annotations

import re
import shlex

from typer.testing import CliRunner

from agent.cli.app import app
from agent.config import PROJECT_ROOT, get_settings

runner = CliRunner()
LOOP = (("sim", "batch"), ("rca",), ("correct",), ("skills", "refine"), ("skills", "history"), ("skills", "rollback"),
        ("knowledge", "kinds"))
TOUR_DIR = "/tmp/tour"  # where the tour writes its simulated case; the test writes it under tmp_path instead
SKILL = "search-errors-rca"


def tour() -> list[tuple[list[str], str]]:
    """Every ``bianque`` command of the README tour, with its comment."""
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^## A tour\n+```bash\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert block, "the README has no 'A tour' bash block"
    commands = []
    for line in block.group(1).splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["bianque"]:
            commands.append((words[1:], line.partition("  # ")[2]))
    return commands


def loop_steps() -> list[tuple[list[str], str]]:
    """The correction loop: the simulated case and the rca run it starts from, then correct, refine, history and
    rollback."""
    steps = [(args, note) for args, note in tour() if any(tuple(args[:len(p)]) == p for p in LOOP)]
    return [(a, n) for a, n in steps if a[0] != "rca" or any(arg.startswith(TOUR_DIR) for arg in a)]


def test_the_tour_holds_the_whole_correction_loop() -> None:
    kinds = [" ".join(a[:2]) if a[0] in ("skills", "knowledge") else a[0] for a, _ in loop_steps()]  # sim batch: sim
    assert kinds == ["sim", "rca", "correct", "skills refine", "skills refine", "skills history", "skills rollback",
                     "knowledge kinds"]


def test_the_readme_correction_loop_runs_as_written(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(PROJECT_ROOT)  # the tour's paths are relative to the repository
    case_id = None
    for args, note in loop_steps():
        args = [a.replace(TOUR_DIR, str(tmp_path / "tour")) for a in args]
        if "CASE_ID" in args:
            assert case_id, "the tour corrects a case before running one"
            args = [case_id if a == "CASE_ID" else a for a in args]
        expected = int(m.group(1)) if (m := re.search(r"\(exit (\d)\)", note)) else 0
        result = runner.invoke(app, args, input="y\n" * 3, env={"COLUMNS": "200"})
        assert result.exit_code == expected, f"bianque {shlex.join(args)}: {result.output}"
        if args[0] == "rca":
            case_id = re.search(r"^case (\w+) — correct it", result.output, re.MULTILINE).group(1)
        if args[:2] == ["skills", "refine"] and "--from-case" in args:
            assert f"Parameter search of {SKILL}" in result.output
        if args[:2] == ["knowledge", "kinds"]:  # the correction's kind, as what the agent called that cause
            assert re.search(r"^│ cache_failure .*│ 1 ", result.output, re.MULTILINE), result.output
    user_file = get_settings().resolved_user_skills_dir / f"{SKILL}.yaml"
    builtin = PROJECT_ROOT / "skills" / f"{SKILL}.yaml"
    assert user_file.read_bytes() == builtin.read_bytes()  # rolled back to v1, byte for byte
