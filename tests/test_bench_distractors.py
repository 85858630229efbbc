"""benchmarks/distractor_metrics.py: copies with K irrelevant series per service, scored per set and K."""

from __future__ import annotations

import csv
import hashlib
import importlib
from collections import Counter, defaultdict

import numpy as np
import pytest

from agent.bundles.data_files import locate, open_text
from agent.bundles.reader import load_bundle
from agent.config import PROJECT_ROOT
from tests.shared_data import SHARED_DATA, needs

REAL_SETS = ("nezha-ob", "nezha-tt-dev", "nab-dev")
CURATED_ONE = PROJECT_ROOT / "examples" / "scenarios" / "rca-slow-dependency"


@pytest.fixture
def module(monkeypatch, tmp_path):
    """The benchmark imported as its sibling imports expect (benchmarks/ on sys.path), state in tmp_path."""
    monkeypatch.syspath_prepend(str(PROJECT_ROOT / "benchmarks"))
    monkeypatch.setenv("BIANQUE_HOME", str(tmp_path / "home"))
    return importlib.import_module("distractor_metrics")


def metric_rows(bundle) -> list[dict[str, str]]:
    with open_text(locate(bundle, "metrics.csv")[0], newline="") as handle:
        return list(csv.DictReader(handle))


def digest(bundle) -> str:
    return hashlib.sha256(locate(bundle, "metrics.csv")[0].read_bytes()).hexdigest()


def first_bundles() -> list:
    return [sorted(p for p in (SHARED_DATA / name).iterdir() if (p / "event.yaml").is_file())[0] for name in REAL_SETS]


@needs(SHARED_DATA)
def test_a_copy_holds_k_distractors_per_service_and_the_bundle_is_untouched(module, tmp_path):
    for bundle in [*first_bundles(), CURATED_ONE]:
        before = digest(bundle)
        copy = module.distracted_copy(bundle, tmp_path / "k3" / bundle.parent.name, 3, seed=1)
        assert digest(bundle) == before and not (copy / "metrics.csv").is_symlink()
        assert (copy / "event.yaml").is_symlink()
        given, copied = metric_rows(bundle), metric_rows(copy)
        added = copied[len(given):]
        assert copied[:len(given)] == given  # every original row as it was, in its order
        stamps: dict[str, set[str]] = defaultdict(set)
        for row in given:
            stamps[row["service"]].add(row["timestamp"])
        names = [module.distractor_name(i) for i in range(3)]
        assert Counter((r["service"], r["metric"]) for r in added) == {
            (s, n): len(stamps[s]) for s in stamps for n in names}
        assert all({r["timestamp"] for r in added if r["service"] == s} == stamps[s] for s in stamps)
        assert not set(names) & {r["metric"] for r in given}
        loaded = {s.key() for s in load_bundle(copy).series}
        assert len(loaded) == len({s.key() for s in load_bundle(bundle).series}) + 3 * len(stamps)
        again = module.distracted_copy(bundle, tmp_path / "again" / bundle.parent.name, 5, seed=1)
        first_three = [r for r in metric_rows(again)[len(given):] if r["metric"] in names]
        assert sorted(first_three, key=repr) == sorted(added, key=repr)  # K = 3 is part of K = 5, seeded alike


def test_distractor_shapes_and_their_glitches(module):
    rng = np.random.default_rng(3)
    counter = next(spec for spec in module.DISTRACTORS if spec[1] == module.COUNTER)
    values = module.distractor_values(counter, 60, rng, glitch_chance=1.0)
    assert (np.diff(values) >= 0).all() and np.allclose(values, np.round(values))
    assert not module._glitch(40, 1.0, rng, chance=0.0).any()
    for _ in range(20):
        glitch = np.flatnonzero(module._glitch(40, 1.0, rng, chance=1.0))
        assert len(glitch) and (len(glitch) == 1 or 3 <= len(glitch) <= 6 or glitch[-1] == 39)
        assert (np.diff(glitch) == 1).all()  # one spike, or one shift held for consecutive samples
    assert module.distractor_name(len(module.DISTRACTORS)) == f"pool2_{module.DISTRACTORS[0][0]}"


def test_a_distractor_counter_counts_over_a_gap_in_the_data_as_long_as_the_gap(module):
    """Five samples missing: the increase over the gap is about five samples' worth, its rate no dip."""
    times = 60.0 * np.concatenate((np.arange(100), np.arange(105, 205)))
    assert module.sample_spacing(times)[[0, 1, 100]].tolist() == [1.0, 1.0, 6.0]
    counter = ("requests_total", module.COUNTER, 200.0, 200.0)
    values = module.distractor_values(counter, times.size, np.random.default_rng(1), 0.0,
                                      module.sample_spacing(times))
    rate = np.diff(values) / np.diff(times)
    assert rate[99] == pytest.approx(np.median(rate), rel=0.1)


@needs(SHARED_DATA)
def test_distractor_table_per_set_and_k(module, tmp_path):
    result = module.main(["--data", str(SHARED_DATA), "--sets", ",".join(REAL_SETS), "--limit", "1",
                          "--count", "1", "--k", "0,2", "--null-draws", "2", "--no-knowledge",
                          "--home", str(tmp_path / "h")])
    table = result.tables["distractors"]
    assert [str(c.header) for c in table.columns] == ["set", "measure", "K = 0", "K = 2"]
    assert set(result.data["sets"]) == {*REAL_SETS, "simulated"}
    assert result.data["sets"]["nezha-ob"][0]["rca"] == result.data["sets"]["nezha-ob"][2]["rca"] == 1
    assert [c["case"] for c in result.data["cases"]["nab-dev"][2]] == [first_bundles()[2].name]
    shapes = Counter(spec[1] for spec in module.DISTRACTORS)
    assert {shape: judged for shape, (_hits, judged) in result.data["null_onsets"].items()} == {
        shape: 2 * n for shape, n in shapes.items()}
    assert [str(c) for c in result.tables["null"].columns[0].cells] == list(result.data["null_onsets"])
    with pytest.raises(SystemExit):
        module.main(["--k", "0,-1"])


def a_report_of_every_kind():
    """An EvalReport holding every kind of case the measures count, and a case that failed."""
    from agent.eval.runner import EvalReport
    from agent.scoring import CaseScore

    report = EvalReport(errors={"broken": "unreadable"})
    for score in (
        CaseScore("r1", "rca", "s", True, "", rank=1, noise_label=False, needs_attention=True),
        CaseScore("r2", "rca", "s", False, "", rank=3, noise_label=False, needs_attention=True),
        CaseScore("r3", "rca", "s", False, "", rank=None, noise_label=False, needs_attention=False),
        CaseScore("n1", "rca", "s", True, "", noise_label=True, needs_attention=False),
        CaseScore("n2", "rca", "s", False, "", noise_label=True, needs_attention=True),
        CaseScore("b1", "release_interception", "s", True, "", decision_label="block", decision="hold"),
        CaseScore("b2", "release_interception", "s", False, "", decision_label="hold", decision="pass"),
        CaseScore("g1", "release_interception", "s", False, "", decision_label="pass", decision="block"),
        CaseScore("i1", "inspection", "s", True, "", expected_items=2, found_items=1, false_alarms=1),
        CaseScore("i2", "inspection", "s", True, "", false_alarms=2),
        CaseScore("i3", "inspection", "s", True, ""),
    ):
        report.add(score)
    return report


def test_the_measures_count_as_they_did_before_they_shared_common_s_counting(module):
    """The counts, once written out here a second time, now come from common's strict counting: the same numbers."""
    assert module.measures(a_report_of_every_kind()) == {
        "rca": 4, "top1": 1, "top3": 2, "no_attention": 1, "noise": 2, "silenced": 1, "expected": 2, "found": 1,
        "unlabelled": 2, "flagged": 1, "false_alarms": 3, "bad": 2, "stopped": 1, "good": 1, "blocked": 1}
