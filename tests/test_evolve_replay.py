"""Replay: a patch is accepted only when it fixes a corrected case and breaks nothing of the regression set."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.bundles.reader import load_bundle
from agent.cli.app import app
from agent.config import get_settings
from agent.evolve import regression
from agent.evolve.corrections import correct_case
from agent.evolve.patch import Edit, patch_skill
from agent.evolve.proposals import Proposal
from agent.evolve.regression import BUNDLE_PREFIX, RegressionSet
from agent.evolve.replay import Replayer
from agent.evolve.versions import diff_versions, skill_text
from agent.evolve.workbench import Workbench
from agent.investigate import investigate
from agent.reasoners.lessons import memory_vocabulary
from agent.runtime import bundle_toolkit, load_skills
from agent.sim.scenario import build_scenario, write_scenario
from tests.test_evolve_support import rca_event, rca_verdict, store_case, use_blind_skills, write_small_bundle

runner = CliRunner()
NAME = "memory-pressure-rca"
MEMORY = {"id": "memory", "name": "memory_usage_bytes", "labels": {"service": "{service}"}, "compare": "trend",
          "weight": 2.0}
MEMORY_RULE = {"if": {"kind": ["trend"], "signals": ["memory"], "subject": "target", "min_score": 0.5},
               "then": "attention"}


@pytest.fixture
def settings(tmp_path, monkeypatch, bianque_home):
    use_blind_skills(tmp_path, monkeypatch)
    return get_settings()


# --- the acceptance rule, with a scripted runner ---------------------------------------------


def _scripted_bench(memory, settings, answers: dict[tuple[str, bool], bool]) -> Workbench:
    """A workbench whose runner answers right or wrong per (case id, patched?)."""

    def run(case, library, skill):
        patched = "memory" in {m.id for m in library.get(skill).skill.data.metrics}
        right = answers.get((case.id, patched), False)  # regression bundles: wrong before and after
        return rca_verdict("ranking", "memory_leak") if right else rca_verdict("ranking", "slow_dependency")

    return Workbench(memory, load_skills(settings), settings.resolved_user_skills_dir, Replayer(run),
                     home=settings.home)


def _proposal(settings, case_id: str | None = None) -> Proposal:
    text = skill_text(load_skills(settings).get(NAME))
    patched = patch_skill(text, [Edit("append", ("data", "metrics"), MEMORY)])
    return Proposal(NAME, "test", "add memory", patched, case_id=case_id)


def _leak_cases(memory, tmp_path: Path, count: int) -> list[str]:
    label = {"root_cause": [{"service": "ranking", "fault": "memory_leak"}]}
    ids = []
    for i in range(count):
        bundle = write_small_bundle(tmp_path / f"b{i}", rca_event(), label=label)
        ids.append(store_case(memory, rca_event(), rca_verdict(), bundle=bundle))
    return ids


def _stored(report) -> list[tuple[str, str]]:
    """(role, status) of the stored cases replayed, in order (regression bundles left out)."""
    return [(c.role, c.status) for c in report.cases if not c.case_id.startswith(BUNDLE_PREFIX)]


def test_scripted_fix_without_regression_is_accepted(memory, settings, tmp_path) -> None:
    target, passing, failing = _leak_cases(memory, tmp_path, 3)
    correct_case(memory, target, correct=False, service="ranking", fault="memory_leak")
    bench = _scripted_bench(memory, settings, {
        (target, False): False, (target, True): True, (passing, False): True, (passing, True): True,
        (failing, False): False, (failing, True): False,
    })
    report = bench.replay(_proposal(settings, target))
    assert _stored(report) == [("corrected", "fixed"), ("regression", "pass"), ("regression", "fail")]
    # the curated scenarios are the default only for a Skill they select: none selects memory-pressure-rca
    assert not [c for c in report.part("regression") if c.case_id.startswith(BUNDLE_PREFIX)]
    assert report.notes == [f"regression set: the curated rca scenarios ({regression.CURATED}) are the default; 4 of 4 "
                            f"are answered by other Skills than {NAME} (before and after the patch) and left out; "
                            "none selects it, so none is replayed: register labelled bundles of its system with "
                            "`bianque skills regression add DIR`"]
    assert report.accepted
    assert report.reason == ("accepted: 1 of 1 corrected case(s) fixed; 0 of 3 replayed case(s) broken "
                             "(2 in the regression set)")


def test_the_curated_default_is_replayed_where_it_selects_the_skill_before_or_after_the_patch(memory, settings):
    """A Skill of another system had been replayed against every curated scenario of its pattern: noise in the table
    and replay time, since it never answers them. Registered bundles always count (the test above)."""
    bench = _scripted_bench(memory, settings, {})
    assert bench.regression_set(NAME).cases == []
    latency = bench.regression_set("search-latency-rca")
    assert sorted(c.id for c in latency.cases) == [f"{BUNDLE_PREFIX}rca-memory-leak",
                                                        f"{BUNDLE_PREFIX}rca-noisy-alert",
                                                        f"{BUNDLE_PREFIX}rca-slow-dependency"]
    assert "1 of 4 are answered by other Skills than search-latency-rca" in latency.note
    assert "only the 3 that select it are replayed" in latency.note
    text = skill_text(load_skills(settings).get(NAME))  # a patch making it answer a curated alert is checked there
    patched = patch_skill(text, [Edit("append", ("triggers", "alerts"), "GatewayP99LatencyHigh"),
                                 Edit("append", ("triggers", "keywords"), "p99")])
    taken = bench.regression_set(NAME, patched.loaded)
    assert sorted(c.id for c in taken.cases) == [f"{BUNDLE_PREFIX}rca-memory-leak",  # its alert, GatewayP99LatencyHigh
                                                 f"{BUNDLE_PREFIX}rca-slow-dependency"]


def test_stored_cases_of_one_bundle_and_event_are_run_once(memory, settings, tmp_path) -> None:
    """Each stored case of one bundle had been investigated again (and the bundle once more when registered)."""
    label = {"root_cause": [{"service": "ranking", "fault": "memory_leak"}]}
    bundle = write_small_bundle(tmp_path / "suite" / "leak-a", rca_event(), label=label)
    regression.add(settings.home, tmp_path / "suite")
    target = store_case(memory, rca_event(), rca_verdict(), bundle=bundle)
    for _ in range(2):
        store_case(memory, rca_event(), rca_verdict(), bundle=bundle)
    correct_case(memory, target, correct=False, service="ranking", fault="memory_leak")
    runs = []

    def run(case, library, skill):
        patched = "memory" in {m.id for m in library.get(skill).skill.data.metrics}
        runs.append((case.id, patched))
        return rca_verdict("ranking", "memory_leak") if patched else rca_verdict("ranking", "slow_dependency")

    bench = Workbench(memory, load_skills(settings), settings.resolved_user_skills_dir, Replayer(run),
                      home=settings.home)
    report = bench.replay(_proposal(settings, target))
    assert len(report.cases) == 4 and report.count("fixed") == 4 and report.accepted  # each judged by its own truth
    assert len(runs) == bench.replayer.runs == 2  # before and after, once each, for the four cases
    other = store_case(memory, rca_event(alertname="RankingOOMKilled"), rca_verdict(), bundle=bundle)
    correct_case(memory, other, correct=False, service="ranking", fault="memory_leak")  # another event: run as well
    bench.replay(_proposal(settings, target))
    assert len(runs) == 4 and {case for case, _ in runs[2:]} == {other}


def test_a_team_fault_kind_is_judged_by_what_the_other_corrected_cases_taught(memory, settings, tmp_path) -> None:
    """The replay says ranking/slow_dependency where the corrections say ranking/network_delay, a kind of the team's.
    A correction does not vouch for itself: alone, its replay fails; a second case seen the same way vouches."""
    label = {"root_cause": [{"service": "ranking", "fault": "network_delay"}]}

    def corrected(i: int) -> str:
        bundle = write_small_bundle(tmp_path / f"b{i}", rca_event(), label=label)
        case_id = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"), bundle=bundle)
        correct_case(memory, case_id, correct=False, service="ranking", fault="network_delay")
        return case_id

    first = corrected(0)
    bench = _scripted_bench(memory, settings, {})
    alone = bench.replay_target(memory.get_case(first), NAME)
    assert (alone.passed, alone.detail) == (False, "top cause ranking/slow_dependency, truth root cause "
                                                   "ranking/network_delay")
    second = corrected(1)
    bench = _scripted_bench(memory, settings, {})  # a new one: a workbench keeps its replays
    for case_id in (first, second):
        vouched = bench.replay_target(memory.get_case(case_id), NAME)
        assert vouched.passed and "counted as network_delay" in vouched.detail


def test_a_tied_team_kind_counts_as_a_tied_kind_only_when_other_cases_saw_it(memory) -> None:
    def corrected(said: str) -> str:
        case_id = store_case(memory, rca_event(), rca_verdict("ranking", said))
        correct_case(memory, case_id, correct=False, service="ranking", fault="network_delay")
        return case_id

    slow, cpu = corrected("slow_dependency"), corrected("cpu_saturation")
    vocabulary = memory_vocabulary(memory)
    assert vocabulary.same("slow_dependency", "network_delay") and vocabulary.same("cpu_saturation", "network_delay")
    assert not vocabulary.same_for(slow)("slow_dependency", "network_delay")  # only the other, cpu, is left
    assert vocabulary.same_for(slow)("cpu_saturation", "network_delay")
    assert not vocabulary.same_for(cpu)("cpu_saturation", "network_delay")
    again = corrected("slow_dependency")
    vocabulary = memory_vocabulary(memory)
    for case_id in (slow, again):  # the others tie: 1 and 1
        assert vocabulary.same_for(case_id)("slow_dependency", "network_delay")
        assert vocabulary.same_for(case_id)("cpu_saturation", "network_delay")
    assert vocabulary.same_for(cpu)("slow_dependency", "network_delay")
    assert not vocabulary.same_for(cpu)("cpu_saturation", "network_delay")
    assert dict(vocabulary.seen_as["network_delay"]) == {"slow_dependency": 2, "cpu_saturation": 1}  # untouched


def test_scripted_regression_is_rejected_even_when_the_target_is_fixed(memory, settings, tmp_path) -> None:
    target, passing = _leak_cases(memory, tmp_path, 2)
    correct_case(memory, target, correct=False, service="ranking", fault="memory_leak")
    bench = _scripted_bench(memory, settings, {
        (target, False): False, (target, True): True, (passing, False): True, (passing, True): False,
    })
    report = bench.replay(_proposal(settings, target))
    assert not report.accepted and _stored(report) == [("corrected", "fixed"), ("regression", "regressed")]
    assert report.reason.startswith(f"rejected: 1 case(s) that passed before now fail ({passing})")


def test_a_patch_fixing_nothing_is_rejected_even_without_regression(memory, settings, tmp_path) -> None:
    target, passing = _leak_cases(memory, tmp_path, 2)
    correct_case(memory, target, correct=False, service="ranking", fault="memory_leak")
    bench = _scripted_bench(memory, settings, {
        (target, False): False, (target, True): False, (passing, False): True, (passing, True): True,
    })
    report = bench.replay(_proposal(settings, target))
    assert not report.accepted and report.count("regressed") == 0
    assert report.reason.startswith("rejected: it fixes none of the 1 corrected case(s)")
    gone = store_case(memory, rca_event(), rca_verdict(), bundle=tmp_path / "deleted")
    correct_case(memory, gone, correct=False, service="ranking", fault="memory_leak")
    report = bench.replay(_proposal(settings, gone))
    assert not report.accepted and "fixes none" in report.reason  # the replayable corrected case is still not fixed


def test_a_patch_breaking_a_registered_regression_bundle_is_rejected(memory, settings, tmp_path) -> None:
    label = {"root_cause": [{"service": "ranking", "fault": "memory_leak"}]}
    write_small_bundle(tmp_path / "suite" / "leak-a", rca_event(), label=label)
    assert len(regression.add(settings.home, tmp_path / "suite")) == 1
    (target,) = _leak_cases(memory, tmp_path, 1)
    correct_case(memory, target, correct=False, service="ranking", fault="memory_leak")
    registered_id = f"{BUNDLE_PREFIX}leak-a"
    bench = _scripted_bench(memory, settings, {
        (target, False): False, (target, True): True, (registered_id, False): True, (registered_id, True): False,
    })
    report = bench.replay(_proposal(settings, target))
    assert [c.case_id for c in report.part("regression")] == [registered_id]  # it replaces the curated default
    assert not report.accepted and registered_id in report.reason and report.count("fixed") == 1
    with pytest.raises(regression.RegressionError, match="no bundle with a label.yaml"):
        (tmp_path / "empty").mkdir()
        regression.add(settings.home, tmp_path / "empty")


def test_a_directory_with_a_broken_bundle_is_not_registered_and_names_the_file(settings, tmp_path) -> None:
    label = {"root_cause": [{"service": "ranking", "fault": "memory_leak"}]}
    write_small_bundle(tmp_path / "suite" / "good", rca_event(), label=label)
    broken = write_small_bundle(tmp_path / "suite" / "broken", rca_event(), label=label)
    (broken / "event.yaml").write_text("pattern: [rca\n", encoding="utf-8")
    with pytest.raises(regression.RegressionError, match=f"{broken}/event.yaml:2: invalid YAML"):
        regression.add(settings.home, tmp_path / "suite")
    assert regression.registered(settings.home) == []  # nothing registered: every later replay would have stopped
    result = runner.invoke(app, ["skills", "regression", "add", str(tmp_path / "suite")])
    assert result.exit_code == 2 and f"{broken}/event.yaml:2" in result.output.replace("\n", ""), result.output


def test_a_registry_that_cannot_be_written_is_a_clean_error_leaving_no_temporary_file(settings, tmp_path) -> None:
    write_small_bundle(tmp_path / "suite" / "leak-a", rca_event(), label={"root_cause": [{"service": "ranking"}]})
    settings.home.mkdir(parents=True, exist_ok=True)
    regression.registry_path(settings.home).mkdir()  # something in the way of the registry file
    result = runner.invoke(app, ["skills", "regression", "add", str(tmp_path / "suite")])
    said = result.output.replace("\n", "")
    assert result.exit_code == 2 and f"cannot write {regression.registry_path(settings.home)}:" in said, said
    assert [p.name for p in settings.home.iterdir() if p.name.startswith(".")] == []


def test_adding_a_registered_directory_again_says_so(settings, tmp_path) -> None:
    write_small_bundle(tmp_path / "suite" / "leak-a", rca_event(), label={"root_cause": [{"service": "ranking"}]})
    first = runner.invoke(app, ["skills", "regression", "add", str(tmp_path / "suite")])
    again = runner.invoke(app, ["skills", "regression", "add", str(tmp_path / "suite")])
    assert first.exit_code == again.exit_code == 0 and "join the regression set" in first.output
    said = " ".join(again.output.split())
    assert "is registered already: its 1 labelled bundle(s) are in the regression set" in said, said
    assert regression.registered(settings.home) == [tmp_path / "suite"]


def test_a_bundle_two_registered_directories_lead_to_is_in_the_set_once(settings, tmp_path) -> None:
    """A directory of links to chosen cases registered beside the cases' own: each bundle is replayed once."""
    bundle = write_small_bundle(tmp_path / "suite" / "leak-a", rca_event(), label={"root_cause": [{"service": "x"}]})
    (tmp_path / "chosen").mkdir()
    (tmp_path / "chosen" / "picked").symlink_to(bundle)
    regression.add(settings.home, tmp_path / "suite")
    regression.add(settings.home, tmp_path / "chosen")
    assert regression.regression_bundles(settings.home) == [bundle]


def test_a_registered_bundle_whose_label_broke_stops_the_replay_naming_the_file(memory, settings, tmp_path) -> None:
    label = {"root_cause": [{"service": "ranking", "fault": "memory_leak"}]}
    bundle = write_small_bundle(tmp_path / "suite" / "leak-a", rca_event(), label=label)
    regression.add(settings.home, tmp_path / "suite")
    (bundle / "label.yaml").write_text("root_cause: [\n", encoding="utf-8")  # not "no label": it has a broken one
    bench = _scripted_bench(memory, settings, {})
    with pytest.raises(regression.RegressionError, match=f"{bundle}/label.yaml:2: invalid YAML.*regression remove"):
        bench.regression_set(NAME)


def test_two_registered_bundles_of_one_name_are_each_replayed(memory, settings, tmp_path) -> None:
    """Replay results are remembered per case id: two bundles named alike (``leak-a`` in two suites) must not share
    one, or the second is judged by the first's answer and a regression there goes unseen."""
    label = {"root_cause": [{"service": "ranking", "fault": "memory_leak"}]}
    for suite in ("suite-1", "suite-2"):
        write_small_bundle(tmp_path / suite / "leak-a", rca_event(), label=label)
        regression.add(settings.home, tmp_path / suite)
    (target,) = _leak_cases(memory, tmp_path, 1)
    correct_case(memory, target, correct=False, service="ranking", fault="memory_leak")

    def run(case, library, skill):
        patched = "memory" in {m.id for m in library.get(skill).skill.data.metrics}
        right = (patched if case.id == target else
                 not patched if "suite-2" in (case.bundle_path or "") else True)  # the patch breaks suite-2's
        return rca_verdict("ranking", "memory_leak") if right else rca_verdict("ranking", "slow_dependency")

    bench = Workbench(memory, load_skills(settings), settings.resolved_user_skills_dir, Replayer(run),
                      home=settings.home)
    report = bench.replay(_proposal(settings, target))
    rows = report.part("regression")
    assert len({c.case_id for c in rows}) == 2 and [c.status for c in rows] == ["pass", "regressed"]
    assert not report.accepted


# --- real investigations on simulated bundles ------------------------------------------------


def _investigate(memory, settings, tmp_path: Path, fault: str, seed: int) -> str:
    path = write_scenario(build_scenario("rca", fault, seed), tmp_path / f"{fault}-{seed}")
    bundle = load_bundle(path)
    toolkit = bundle_toolkit(bundle, settings, memory=memory)
    return investigate(bundle.event, toolkit, skill=NAME, bundle_path=str(path)).case_id


@pytest.fixture
def stored(memory, settings, tmp_path) -> dict[str, str]:
    """A missed memory leak and two cases the blind Skill gets right (a noisy alert, a slow dependency)."""
    return {
        "leak": _investigate(memory, settings, tmp_path, "memory_leak", 2000),
        "noise": _investigate(memory, settings, tmp_path, "noisy_alert", 2000),
        "slow": _investigate(memory, settings, tmp_path, "slow_dependency", 2000),
    }


def test_the_rule_proposal_fixes_a_real_miss_without_regression(memory, settings, stored) -> None:
    leak = memory.get_case(stored["leak"])
    assert leak.verdict.root_causes[0].fault != "memory_leak"  # the blind spot
    truth = leak.verdict.root_causes[0].service
    correct_case(memory, leak.id, correct=False, service=truth, fault="memory_leak")
    bench = Workbench.from_settings(settings, memory)
    proposal = bench.propose_for_case(leak.id)
    assert "memory_usage_bytes" in proposal.diff
    report = bench.replay(proposal)
    statuses = {c.case_id: c.status for c in report.cases if not c.case_id.startswith(BUNDLE_PREFIX)}
    assert statuses == {stored["leak"]: "fixed", stored["noise"]: "pass", stored["slow"]: "pass"}, report.cases
    assert report.accepted
    done = bench.accept(proposal, author="test")
    assert done.record.version == 2 and done.path.parent == settings.resolved_user_skills_dir
    assert "memory" in {m.id for m in load_skills(settings).get(NAME).skill.data.metrics}


def test_a_real_patch_breaking_a_passing_case_is_rejected(memory, settings, stored) -> None:
    leak = memory.get_case(stored["leak"])
    correct_case(memory, leak.id, correct=False, service=leak.verdict.root_causes[0].service, fault="memory_leak")
    text = skill_text(load_skills(settings).get(NAME))
    # fixes the leak, but calls every alert actionable: the noisy alert that was silenced now fails
    patched = patch_skill(text, [Edit("append", ("data", "metrics"), MEMORY),
                                 Edit("insert", ("decision", "rules"), MEMORY_RULE, index=0),
                                 Edit("set", ("decision", "default"), "attention")])
    proposal = Proposal(NAME, "test", "too eager", patched, case_id=leak.id)
    report = Workbench.from_settings(settings, memory).replay(proposal)
    statuses = {c.case_id: c.status for c in report.cases}
    assert statuses[stored["leak"]] == "fixed" and statuses[stored["noise"]] == "regressed"
    assert not report.accepted and stored["noise"] in report.reason


def test_cli_refine_from_case_shows_diff_and_replay_and_saves(memory, settings, stored) -> None:
    leak = memory.get_case(stored["leak"])
    fix = runner.invoke(app, ["correct", leak.id, "--wrong", "--service", leak.verdict.root_causes[0].service,
                              "--fault", "memory_leak", "--no-index"])
    assert fix.exit_code == 0, fix.output
    result = runner.invoke(app, ["skills", "refine", "--from-case", leak.id, "--yes"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "+      name: memory_usage_bytes" in result.output and "fixed" in result.output
    assert f"saved {NAME} v2" in result.output
    assert [v.version for v in memory.skill_versions(NAME)] == [1, 2]
    # out of a terminal: the diff as it is, unwrapped (from the current text, as stored v1 holds it, to v2)
    stored_diff = diff_versions(memory, NAME, 1, 2)
    assert stored_diff.replace(f"--- {NAME} v1\n", f"--- {NAME} current\n", 1) in result.stdout


def test_a_patch_for_a_case_that_already_passes_is_rejected(memory, settings, tmp_path) -> None:
    (target,) = _leak_cases(memory, tmp_path, 1)
    correct_case(memory, target, correct=False, service="ranking", fault="memory_leak")
    bench = _scripted_bench(memory, settings, {(target, False): True, (target, True): True})
    report = bench.replay(_proposal(settings, target))
    assert not report.accepted and "fixes none" in report.reason


# --- a case whose bundle is refused now ------------------------------------------------------

RELEASE_SKILL = "serving-canary-release"


def _drop_the_change(bundle: Path) -> str:
    """A release event naming no change (stored before such a bundle was invalid); what the refusal starts with."""
    (bundle / "event.yaml").write_text("pattern: release_interception\ntime: 1772446500\nservice: ranking\n")
    return f"{bundle}/event.yaml: change: required for a release_interception event"


def _spoil_the_metrics(bundle: Path) -> str:
    """Every metrics.csv value not a number (the loader refuses the file; its event.yaml is fine)."""
    header, *rows = (bundle / "metrics.csv").read_text().splitlines()
    (bundle / "metrics.csv").write_text("\n".join([header, *(row.rsplit(",", 1)[0] + ",abc" for row in rows)]) + "\n")
    said = "; ".join(f"{bundle}/metrics.csv:{line}: value: not a number ('abc')" for line in (2, 3, 4))
    return f"{said}; more: `bianque bundle validate {bundle}` lists them all"


REFUSALS = {"changeless": _drop_the_change, "spoilt": _spoil_the_metrics}


@pytest.fixture(params=list(REFUSALS))
def refused(request, memory, tmp_path) -> tuple[str, str]:
    """A corrected release case whose bundle the loader refuses now, and the start of why."""
    from agent.findings import FindingKind
    from tests.test_evolve_support import finding, release_event, release_verdict

    bundle = write_small_bundle(tmp_path / request.param, release_event())
    why = REFUSALS[request.param](bundle)
    findings = [finding("F1", "ranking", kind=FindingKind.CANARY_REGRESSION, signal="error_ratio",
                        metric="request_error_ratio", score=0.55)]
    case_id = store_case(memory, release_event(), release_verdict("hold"), skill=RELEASE_SKILL, findings=findings,
                         bundle=bundle)
    correct_case(memory, case_id, correct=False, decision="block")
    return case_id, why


def test_a_case_whose_bundle_is_refused_now_is_not_replayed_and_says_why(memory, settings, refused) -> None:
    """It was replayed and failed before and after ("replay failed: InvalidBundleError"), counted as a corrected
    case the patch does not fix (a refused data file still was, when only event.yaml was checked)."""
    from agent.evolve.replay import investigate_runner

    case_id, why = refused
    library = load_skills(settings)
    text = skill_text(library.get(RELEASE_SKILL))
    patched = patch_skill(text, [Edit("set", ("description",), "a patched canary release Skill")]).loaded
    report = Replayer(investigate_runner(settings)).replay([memory.get_case(case_id)], library, patched,
                                                           current_text=text, patched_text=text + "#")
    [entry] = report.cases
    assert entry.status == "skipped" and (entry.before, entry.after) == (None, None)
    assert entry.skipped.startswith(f"cannot replay: its bundle is refused now: {why}"), entry.skipped
    assert report.reason.startswith("rejected: no corrected case of this Skill could be replayed")


def test_refine_from_a_case_whose_bundle_is_refused_now_proposes_and_skips_it(memory, settings, refused,
                                                                             monkeypatch) -> None:
    """Building the proposal read the bundle and raised: refine stopped with "invalid case bundle"."""
    case_id, why = refused
    monkeypatch.setattr("agent.evolve.workbench.investigate_runner",
                        lambda *_a, **_k: lambda *_c: pytest.fail("a case was replayed"))
    monkeypatch.setattr("agent.evolve.workbench.regression_cases", lambda *_a, **_k: RegressionSet())
    result = runner.invoke(app, ["skills", "refine", "--from-case", case_id, "--no-search"],
                           env={"COLUMNS": "300"})
    out = " ".join(result.output.split())
    assert result.exit_code == 1 and memory.skill_versions(RELEASE_SKILL) == [], result.output
    assert out.startswith(f"case {case_id} cannot be replayed: its bundle is refused now: {why}"), out
    assert "proposal (rules)" in out and "cannot replay: its bundle is refused now" in out


def test_a_replayer_reads_each_bundle_once_however_many_patches_it_replays(memory, settings, tmp_path,
                                                                             monkeypatch) -> None:
    """Whether a case can be replayed is read from its whole bundle (``replay_bundle``); a search replays every case
    for each change it tries (up to 24), and each replay read every bundle again though its judgements were kept."""
    import agent.evolve.replay as replay

    target, passing = _leak_cases(memory, tmp_path, 2)
    correct_case(memory, target, correct=False, service="ranking", fault="memory_leak")
    bench = _scripted_bench(memory, settings, {(target, True): True, (passing, False): True, (passing, True): True})
    reads: list[Path] = []
    read_bundle = replay.read_bundle
    monkeypatch.setattr(replay, "read_bundle", lambda path: reads.append(Path(path)) or read_bundle(path))
    first = bench.replay(_proposal(settings, target))
    assert bench.replay_target(memory.get_case(target), NAME) is not None
    again = bench.replay(_proposal(settings, target), quick=True)
    assert [c.row() for c in again.cases] == [c.row() for c in first.cases] and first.accepted
    assert len(reads) == len(first.cases) == len(set(reads)), reads  # each bundle once


def _count_bundle_reads(monkeypatch) -> list[Path]:
    """Every bundle read, whoever reads it (``replay_bundle`` and the runner's ``load_bundle``)."""
    import agent.bundles.reader as reader
    import agent.evolve.replay as replay

    reads: list[Path] = []
    read_bundle = reader.read_bundle

    def counted(path, warnings=None):
        reads.append(Path(path))
        return read_bundle(path, warnings)

    monkeypatch.setattr(reader, "read_bundle", counted)
    monkeypatch.setattr(replay, "read_bundle", counted)
    return reads


def test_a_workbench_reads_each_bundle_once_for_the_check_the_replays_and_the_proposal(memory, settings, tmp_path,
                                                                                         monkeypatch) -> None:
    """The check that a case can be replayed, the runner (before and after of every patch) and the proposal's
    context each read the bundle again: a search read every bundle once more for each change it tried."""
    target, passing = _leak_cases(memory, tmp_path, 2)
    correct_case(memory, target, correct=False, service="ranking", fault="memory_leak")
    monkeypatch.setattr("agent.evolve.workbench.regression_cases", lambda *_a, **_k: RegressionSet())
    bench = Workbench.from_settings(settings, memory)
    fresh = Workbench.from_settings(settings, memory)  # reads its own, as a bench without the cache would
    reads = _count_bundle_reads(monkeypatch)
    proposal = bench.propose_for_case(target)
    assert bench.replay_target(memory.get_case(target), NAME) is not None
    reports = [bench.replay(p) for p in (proposal, _proposal(settings, target))]
    assert sorted(reads) == sorted({Path(memory.get_case(c).bundle_path) for c in (target, passing)}), reads
    assert [[c.row() for c in fresh.replay(p).cases] for p in (proposal, _proposal(settings, target))] == \
        [[c.row() for c in r.cases] for r in reports]  # the same answers as bundles read afresh


def test_bundles_kept_past_their_budget_are_read_again_least_recently_used_first(memory, tmp_path,
                                                                                 monkeypatch) -> None:
    """A large regression set is not held whole: past ``max_bytes`` the bundle used longest ago is let go."""
    from agent.evolve.replay import BundleCache

    first, second = (memory.get_case(c) for c in _leak_cases(memory, tmp_path, 2))
    reads = _count_bundle_reads(monkeypatch)
    roomy, tight = BundleCache(), BundleCache(max_bytes=1)
    for cache in (roomy, tight):
        for case in (first, second, second, first):
            assert cache.get(case) is not None and cache.unreplayable(case) is None
    paths = [Path(c.bundle_path) for c in (first, second)]
    assert reads == [*paths, *paths, paths[0]], reads  # the tight cache keeps only the last one read
