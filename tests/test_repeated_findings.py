"""One piece of evidence is one Finding, however many of a Skill's signals reported it (two log queries reading one
template, two metric signals reading one series); decision rules count it once per signal, as they counted the
copies, so no decision changes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from agent.bundles.reader import load_bundle
from agent.config import PROJECT_ROOT, get_settings
from agent.findings import Finding, FindingKind, merge_repeated
from agent.investigate import investigate
from agent.runtime import bundle_toolkit
from agent.sim.scenario import build_scenario, write_scenario
from agent.skills.decide import apply_rules, condition_holds, counted, matching_findings
from agent.skills.schema import Decision

SCENARIOS = PROJECT_ROOT / "examples" / "scenarios"
# simulated cases (development seeds) whose Skill had two signals report the same evidence:
# (pattern, fault, seed, the Skill chosen, the signals of one repeated Finding)
SIMULATED = [
    ("release_interception", "bad_config", 1, "serving-config-release", ["config_logs", "error_logs"]),
    ("rca", "bad_config", 2, "search-errors-rca", ["error_logs", "config_logs"]),
    ("rca", "cache_failure", 2, "cache-failure-rca", ["cache_logs", "caller_logs"]),
    ("rca", "disk_full", 7, "disk-full-rca", ["disk", "disk_trend"]),
]


def _finding(signal: str | None, summary: str = "cache new ERROR log template \"config reload failed\" x9",
             kind: FindingKind = FindingKind.LOG_NEW_TEMPLATE, score: float = 0.9) -> Finding:
    return Finding(kind=kind, subject="cache", service="cache", signal=signal, window_start=0, window_end=60,
                   score=score, summary=summary, source=f"logs:{signal}", detector="logs")


def _investigate(path: Path):
    bundle = load_bundle(path)
    return investigate(bundle.event, bundle_toolkit(bundle, get_settings(), knowledge=None, memory=None),
                       source="cli")


def _repeated(findings: list[Finding]) -> list[tuple]:
    """What more than one Finding says (kind, subject, metric, score, summary)."""
    said = Counter((f.kind, f.subject, f.metric, f.score, f.summary) for f in findings)
    return [what for what, n in said.items() if n > 1]


def _answer(result) -> tuple:
    """What the investigation decided, apart from which Finding ids it cites."""
    v = result.verdict
    return (v.decision, v.needs_attention, v.overall, [(c.service, c.fault, c.confidence) for c in v.root_causes],
            [(i.service, i.kind, i.severity) for i in v.items])


def _unmerged(path: Path, monkeypatch: pytest.MonkeyPatch):
    """The investigation as it ran before repeated Findings were merged."""
    with monkeypatch.context() as patch:
        patch.setattr("agent.graph.nodes.analyze.merge_repeated", list)
        return _investigate(path)


def _same_decision_input(skill: str, merged: list[Finding], copies: list[Finding], targets: list[str]) -> None:
    """Every rule of ``skill`` sees as many matching Findings in ``merged`` as in ``copies``."""
    from agent.skills.library import load_library

    for rule in load_library([PROJECT_ROOT / "skills"]).get(skill).skill.decision.rules:
        matched, before = (matching_findings(rule.when, merged, targets),
                           matching_findings(rule.when, copies, targets))
        assert counted(rule.when, matched) == len(before), rule
        assert condition_holds(rule.when, matched) == condition_holds(rule.when, before), rule


def test_a_template_two_log_queries_read_is_one_finding_carrying_both_signals(monkeypatch):
    """infra-release's error_logs and config_logs both read a config push's ERROR lines: the report listed each new
    template twice (F5 and F6 alike)."""
    result = _investigate(SCENARIOS / "release-bad-config")
    assert result.skill["name"] == "infra-release"
    assert not _repeated(result.findings)
    config = [f for f in result.findings if f.kind == FindingKind.LOG_NEW_TEMPLATE and "config reload" in f.summary]
    assert config and all(f.signals == ["error_logs", "config_logs"] for f in config)
    assert {(f.model_dump(mode="json")["signal"], tuple(f.model_dump(mode="json")["also_signals"]))
            for f in config} == {("error_logs", ("config_logs",))}
    assert all(f.source == "logs:error_logs" for f in config)  # the first signal's raw data
    before = _unmerged(SCENARIOS / "release-bad-config", monkeypatch)
    assert _repeated(before.findings)  # the copies the merge removes
    assert len(before.findings) - len(result.findings) == sum(len(f.also_signals) for f in result.findings)
    assert _answer(result) == _answer(before) and result.verdict.decision == "block"
    _same_decision_input("infra-release", result.findings, before.findings, ["user-profile"])


@pytest.mark.parametrize(("pattern", "fault", "seed", "skill", "signals"), SIMULATED)
def test_other_skills_reporting_one_thing_by_two_signals_list_it_once(tmp_path, monkeypatch, pattern, fault, seed,
                                                                       skill, signals):
    path = write_scenario(build_scenario(pattern, fault, seed), tmp_path / "case")
    result = _investigate(path)
    assert result.skill["name"] == skill
    assert not _repeated(result.findings)
    assert any(f.signals == signals for f in result.findings)
    before = _unmerged(path, monkeypatch)
    assert _repeated(before.findings)
    assert _answer(result) == _answer(before)
    _same_decision_input(skill, result.findings, before.findings, load_bundle(path).event.services)


def test_findings_alike_but_for_their_signal_merge_in_order():
    first, other, third = _finding("error_logs"), _finding("config_logs"), _finding("warn_logs")
    distinct = _finding("config_logs", summary="cache new ERROR log template \"parse error\" x4")
    merged = merge_repeated([first, distinct, other, third])
    assert [f.summary for f in merged] == [first.summary, distinct.summary]
    assert merged[0].signals == ["error_logs", "config_logs", "warn_logs"]
    assert (merged[0].signal, merged[0].also_signals, merged[0].source) == (
        "error_logs", ["config_logs", "warn_logs"], "logs:error_logs")
    assert merged[1] == distinct


def test_copies_of_one_signal_or_of_none_stay_apart_as_each_counts_once():
    same = [_finding("error_logs"), _finding("error_logs")]
    assert merge_repeated(same) == same
    unsigned = [_finding(None, kind=FindingKind.CHANGE_NEAR_ONSET)] * 2
    assert merge_repeated(unsigned) == unsigned
    # a third copy from another signal joins the first; the second stays: three counts, as before
    merged = merge_repeated([*same, _finding("config_logs")])
    assert [f.signals for f in merged] == [["error_logs", "config_logs"], ["error_logs"]]


def test_a_finding_stored_before_also_signals_existed_reads_as_its_one_signal():
    stored = _finding("error_logs").model_dump(mode="json")
    del stored["also_signals"]
    finding = Finding.model_validate(stored)
    assert finding.signals == ["error_logs"] and finding.also_signals == []
    assert _finding(None).signals == []


@pytest.mark.parametrize(("condition", "holds"), [
    ({"signals": ["error_logs", "config_logs"], "min_count": 2}, True),
    ({"signals": ["config_logs"], "min_count": 2}, False),
    ({"signals": ["config_logs"]}, True),
    ({"kind": "log_new_template", "min_count": 2}, True),  # no signals named: every signal counts
    ({"signals": ["error_logs", "config_logs"], "max_count": 1}, False),
    ({"signals": ["p99_latency"]}, False),
])
def test_rules_count_a_merged_finding_once_per_signal_they_name(condition, holds):
    [merged] = merge_repeated([_finding("error_logs"), _finding("config_logs")])
    decision = Decision.model_validate({"rules": [{"if": condition, "then": "block"}], "default": "pass"})
    assert apply_rules(decision, [merged], ["cache"]).outcome == ("block" if holds else "pass")
    copies = [_finding("error_logs"), _finding("config_logs")]
    assert apply_rules(decision, copies, ["cache"]).outcome == ("block" if holds else "pass")
