"""Offline parameter search and the correct-one-half protocol (a small, fast smoke run)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from agent.config import get_settings
from agent.evolve.corrections import correct_case
from agent.evolve.protocol import run_protocol, split_halves
from agent.evolve.replay import Replayer
from agent.evolve.search import candidate_edits, search_parameters
from agent.evolve.workbench import Workbench
from agent.runtime import load_skills
from agent.sim.scenario import build_scenario, write_scenario
from agent.skills.library import load_library
from agent.skills.schema import Compare, Direction
from tests.test_evolve_support import T0, rca_event, rca_verdict, store_case, use_blind_skills, write_small_bundle

NAME = "memory-pressure-rca"
runner = CliRunner()


@pytest.fixture
def settings(tmp_path, monkeypatch, bianque_home):
    use_blind_skills(tmp_path, monkeypatch)
    return get_settings()


def test_candidates_are_single_parameter_edits_and_never_weights(settings) -> None:
    skill = load_skills(settings).get(NAME).skill
    edits = candidate_edits(skill)
    assert edits and all(e.op == "set" for e in edits)
    fields = {e.path[-1] for e in edits}
    assert "weight" not in fields and {"min_effect", "direction"} <= fields


def test_no_candidate_asks_a_fall_beyond_all_of_its_reference() -> None:
    """A down signal at min_effect 0.8 raised by half (1.2) would never fire and is refused at load: not tried."""
    skill = load_library([get_settings().skills_dirs[0]]).get(NAME).skill.model_copy(deep=True)
    down = {"direction": Direction.DOWN, "compare": Compare.BASELINE, "min_effect": 0.8}
    skill.data.metrics[0] = skill.data.metrics[0].model_copy(update=down)
    values = [e.value for e in candidate_edits(skill) if e.path == ("data", "metrics", 0, "min_effect")]
    assert values == [0.4]


def test_search_keeps_the_smallest_change_that_fixes_a_corrected_case(memory, settings, tmp_path) -> None:
    label = {"root_cause": [{"service": "ranking", "fault": "memory_leak"}]}
    bundle = write_small_bundle(tmp_path / "b0", rca_event(), label=label)
    target = store_case(memory, rca_event(), rca_verdict(), bundle=bundle)
    correct_case(memory, target, correct=False, service="ranking", fault="memory_leak")
    original = load_skills(settings).get(NAME).skill.data.metrics[0]

    def run(case, library, skill):  # right only when the first signal's minimum effect was lowered
        lowered = library.get(skill).skill.data.metrics[0].min_effect < original.min_effect
        right = lowered and case.id == target
        return rca_verdict("ranking", "memory_leak" if right else "slow_dependency")

    bench = Workbench(memory, load_skills(settings), settings.resolved_user_skills_dir, Replayer(run),
                      home=settings.home)
    result = search_parameters(bench, NAME)
    assert len(result.tried) >= len(candidate_edits(bench.skill(NAME).skill))
    assert result.best is not None and result.best.report.accepted
    assert [e.path for e in result.best.edits] == [("data", "metrics", 0, "min_effect")]
    assert result.best.edits[0].value == pytest.approx(original.min_effect * 0.5, abs=0.01)
    fixing_nothing = [t for t in result.tried if t.fixed == 0]
    assert fixing_nothing and all(not t.report.accepted for t in fixing_nothing)


def _scripted_cli(memory, settings, tmp_path, monkeypatch, *, fixable: bool) -> str:
    """A corrected case no rule fixes (the team's own fault kind on the alerted service, blamed on a
    dependency), and a replay runner under which lowering the first signal's minimum effect fixes it
    (``fixable``) or nothing does."""
    label = {"root_cause": [{"service": "ranking", "fault": "weird_fault"}]}
    bundle = write_small_bundle(tmp_path / "b0", rca_event(), label=label)
    target = store_case(memory, rca_event(), rca_verdict("cache"), bundle=bundle)
    correct_case(memory, target, correct=False, service="ranking", fault="weird_fault")
    first = load_skills(settings).get(NAME).skill.data.metrics[0]

    def run(case, library, skill):
        lowered = library.get(skill).skill.data.metrics[0].min_effect < first.min_effect
        right = fixable and lowered and case.id == target
        return rca_verdict("ranking", "weird_fault") if right else rca_verdict("cache")

    monkeypatch.setattr("agent.evolve.workbench.investigate_runner", lambda *_a, **_k: run)
    return target


def _refine_cli(memory, settings, tmp_path, monkeypatch, fixable: bool):
    """``skills refine --from-case`` on a scripted miss: the case, the CLI result, how many candidate changes the
    search has, and the output on one line."""
    target = _scripted_cli(memory, settings, tmp_path, monkeypatch, fixable=fixable)
    result = runner.invoke(app, ["skills", "refine", "--from-case", target, "--yes"], env={"COLUMNS": "200"})
    tried = len(candidate_edits(load_skills(settings).get(NAME).skill))
    return target, result, tried, " ".join(result.output.split())


def test_cli_refine_from_case_proposes_the_parameter_change_that_fixes_it(memory, settings, tmp_path,
                                                                            monkeypatch) -> None:
    target, result, tried, out = _refine_cli(memory, settings, tmp_path, monkeypatch, fixable=True)
    assert result.exit_code == 0, result.output
    assert "no rule-based fix" in out and f"Parameter search of {NAME}: {tried} candidate change(s)" in out
    assert "proposal (search): parameter search:" in out and "min_effect" in out
    assert "accepted: 1 of 1 corrected case(s) fixed; 0 of" in out and f"saved {NAME} v2" in out
    saved = load_skills(settings).get(NAME).skill.data.metrics[0]
    assert saved.min_effect < load_library([settings.skills_dirs[0]]).get(NAME).skill.data.metrics[0].min_effect
    version = memory.skill_versions(NAME)[-1]
    assert version.reason.startswith("search: from correction") and target in version.reason


def test_cli_refine_from_case_reports_what_was_tried_when_no_parameter_fixes_it(memory, settings, tmp_path,
                                                                                monkeypatch) -> None:
    target, result, tried, out = _refine_cli(memory, settings, tmp_path, monkeypatch, fixable=False)
    assert result.exit_code == 1, result.output
    assert f"Parameter search of {NAME}: {tried} candidate change(s) replayed" in out
    assert out.count("rejected: fixes none") == tried and "no parameter change fixes a corrected case" in out
    # none fixed anything: no word of a trade-off with cases that passed
    assert f"no parameter change fixes a corrected case of {NAME} ({tried} tried), above" in out
    assert "without breaking" not in out and memory.skill_versions(NAME) == []
    skipped = runner.invoke(app, ["skills", "refine", "--from-case", target, "--no-search"])
    assert skipped.exit_code == 2 and "no rule-based fix" in skipped.output and "Parameter search" not in skipped.output


@pytest.mark.parametrize(("fault", "options"), [("memory_leak", ["--no-search"]), ("memory_leak", []),
                                              ("weird_fault", ["--no-search"]), ("weird_fault", [])],
                         ids=["rule-patch", "rule-patch-then-search", "no-rule", "no-rule-then-search"])
def test_cli_refine_says_when_the_corrected_case_already_passes_with_the_current_skill(
        memory, settings, tmp_path, monkeypatch, fault, options) -> None:
    """Answered wrong then (by an older Skill text, with experience, or before a kind was learned), it gives its
    truth when replayed now: no patch can fix it, and the refinement must say so rather than only "no fix"."""
    label = {"root_cause": [{"service": "ranking", "fault": fault}]}
    bundle = write_small_bundle(tmp_path / "b0", rca_event(), label=label)
    target = store_case(memory, rca_event(), rca_verdict("cache"), bundle=bundle)
    correct_case(memory, target, correct=False, service="ranking", fault=fault)
    monkeypatch.setattr("agent.evolve.workbench.investigate_runner",
                        lambda *_a, **_k: lambda *_c: rca_verdict("ranking", fault))
    result = runner.invoke(app, ["skills", "refine", "--from-case", target, *options], env={"COLUMNS": "200"})
    out = " ".join(result.output.split())
    assert result.exit_code in (1, 2) and memory.skill_versions(NAME) == [], result.output
    assert out.startswith(f"replayed with the current {NAME}, case {target} already gives its truth (top cause "
                          f"ranking/{fault}): a patch can fix only the Skill's other corrected cases"), out


def test_cli_refine_says_first_when_the_corrected_case_cannot_be_replayed(memory, settings, tmp_path,
                                                                          monkeypatch) -> None:
    """Its bundle was moved: every candidate would "fix none" because it is not replayed at all, and the refinement
    must say that, and search nothing, rather than leave the team reading twenty rejections."""
    target = _scripted_cli(memory, settings, tmp_path, monkeypatch, fixable=True)
    shutil.rmtree(tmp_path / "b0")
    result = runner.invoke(app, ["skills", "refine", "--from-case", target], env={"COLUMNS": "200"})
    out = " ".join(result.output.split())
    assert result.exit_code == 1 and memory.skill_versions(NAME) == [], result.output
    assert out.startswith(f"case {target} cannot be replayed: its bundle is gone ({tmp_path / 'b0'}); the replay "
                          "gate cannot check that a patch fixes it, only the Skill's other corrected cases"), out
    assert "Parameter search" not in out and "candidate" not in out, out
    assert f"no corrected case of {NAME} can be replayed: no parameter change could be shown to fix one" in out, out


def test_cli_refine_refuses_a_skill_of_another_pattern_than_the_case(memory, settings, tmp_path, monkeypatch) -> None:
    """Replayed with an inspection Skill an alert case never gives its truth: twenty candidates would each be
    rejected for fixing nothing."""
    target = _scripted_cli(memory, settings, tmp_path, monkeypatch, fixable=True)
    result = runner.invoke(app, ["skills", "refine", "generic-inspection", "--from-case", target])
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and "Parameter search" not in said, said
    assert (f"case {target} is an rca case and generic-inspection an inspection Skill: name a Skill of the case's "
            "pattern") in said


def _sim_set(root: Path) -> list[Path]:
    faults = ("memory_leak", "slow_dependency")
    return [write_scenario(build_scenario("rca", fault, 3000 + i), root / f"{i}-{fault}")
            for i in range(2) for fault in faults]


def test_protocol_smoke_corrects_one_half_and_scores_the_other(memory, settings, tmp_path) -> None:
    bundles = _sim_set(tmp_path / "sim")
    first, second = split_halves(bundles, by_day=False)
    assert (first, second) == (bundles[:2], bundles[2:])
    report = run_protocol(bundles, settings, memory, search=False, by_day=False)
    assert len(report.scored_before) == len(report.scored_after) == 2
    assert len(report.corrected_before) == len(report.corrected_after) == 2
    misses = report.corrected_before.count(False)
    assert report.counts["corrected: misses"] == misses
    assert len(memory.corrected_cases()) == sum(report.counts[k] for k in
                                                 ("corrected: misses", "corrected: wrong kind only",
                                                  "confirmed right"))
    assert report.lost == 0


def test_reverse_corrects_the_later_half_and_scores_the_first(memory, settings, tmp_path) -> None:
    """The protocol the other way round (``self_evolution.py --reverse``): the lessons of the later day are scored on
    the first, so a gain is not only the first day's lessons fitting the second."""
    day = 86400.0
    dated = [write_small_bundle(tmp_path / f"d{i}", rca_event().model_copy(update={"time": T0 + offset}))
             for i, offset in enumerate((day, 0.0, day + 600))]
    assert split_halves(dated) == ([dated[1]], [dated[0], dated[2]])
    assert split_halves(dated, reverse=True) == ([dated[0], dated[2]], [dated[1]])
    bundles = _sim_set(tmp_path / "sim")
    assert split_halves(bundles, by_day=False, reverse=True) == (bundles[2:], bundles[:2])
    report = run_protocol(bundles, settings, memory, search=False, by_day=False, reverse=True)
    assert (report.corrected_half, report.scored_half) == ([b.name for b in bundles[2:]], [b.name for b in bundles[:2]])
    assert len(report.scored_before) == len(report.scored_after) == 2


def test_the_searchs_shortfall_names_a_trade_only_when_a_change_fixed_a_case_and_broke_another() -> None:
    from types import SimpleNamespace

    from agent.evolve.search import SearchResult, Tried

    def tried(fixed: int, broken: int) -> Tried:
        report = SimpleNamespace(count=lambda *_: fixed, regressions=[object()] * broken)
        return Tried([], None, report)  # type: ignore[arg-type]

    assert SearchResult(NAME, [tried(0, 0), tried(0, 2)]).shortfall() == (
        f"no parameter change fixes a corrected case of {NAME} (2 tried)")
    assert SearchResult(NAME, [tried(0, 0), tried(1, 1)]).shortfall() == (
        f"no parameter change fixes a corrected case of {NAME} without breaking one that passed (2 tried; 1 fixed "
        "one but broke another)")
