"""Smoke tests of the benchmark scripts in benchmarks/: each main runs on a tiny size and prints its tables."""

from __future__ import annotations

import csv
import importlib
import json
import re
import shutil
from collections import Counter

import numpy as np
import pytest
from ruamel.yaml import YAML

from agent.bundles.reader import load_bundle
from agent.config import PROJECT_ROOT
from tests.shared_data import SHARED_DATA, needs
from tests.test_bench_distractors import a_report_of_every_kind

BENCH_DIR = PROJECT_ROOT / "benchmarks"
NEZHA = SHARED_DATA / "nezha-ob"
REAL_SETS = ("nezha-ob", "nezha-tt-dev", "nab-dev")
needs_shared_data = needs(SHARED_DATA)
CURATED_ONE = PROJECT_ROOT / "examples" / "scenarios" / "rca-slow-dependency"


@pytest.fixture
def bench(monkeypatch, tmp_path):
    """Import a benchmark script as its sibling imports expect (benchmarks/ on sys.path), state in tmp_path."""
    monkeypatch.syspath_prepend(str(BENCH_DIR))
    monkeypatch.setenv("BIANQUE_HOME", str(tmp_path / "home"))
    return importlib.import_module


def headers(table) -> list[str]:
    return [str(c.header) for c in table.columns]


def first_column(table) -> list[str]:
    return [str(c) for c in table.columns[0].cells]


def test_scenario_accuracy_tables(bench, tmp_path, capsys):
    module = bench("scenario_accuracy")
    result = module.main(["--count", "2", "--no-knowledge", "--home", str(tmp_path / "h")])
    patterns = result.tables["patterns"]
    assert first_column(patterns) == ["rca", "release_interception", "inspection", "all"]
    assert headers(patterns) == ["pattern", "cases", "pass"]
    assert [str(c) for c in patterns.columns[1].cells] == ["2", "2", "2", "6"]
    assert {"RCA top-1", "RCA top-3", "fault kind", "noise silenced"} <= set(headers(result.tables["rca"]))
    assert any(h.startswith("missed actionable") for h in headers(result.tables["rca"]))
    assert {"bad intercepted (hold/block)", "block precision", "block recall", "good blocked",
            "good held"} <= set(headers(result.tables["release_interception"]))
    assert headers(result.tables["inspection"]) == ["cases", "pass", "recall", "false alarms"]
    assert all(result.tables[p].row_count == 1 for p in ("rca", "release_interception", "inspection"))
    targets = result.tables["targets"]
    assert first_column(targets) == ["RCA top-1", "RCA top-3", "bad releases intercepted (hold or block)",
                                     "good releases blocked", "inspection recall"]
    assert set(str(c) for c in targets.columns[3].cells) <= {"met", "not met", "—"}
    assert result.tables["skills"].row_count >= 1
    assert sum(int(str(c)) for c in result.tables["kinds"].columns[1].cells) == 6
    assert not [row for row in first_column(result.tables["kinds"]) if row.endswith(" unknown")]  # found by case
    assert result.data["by_pattern"].keys() == {"rca", "release_interception", "inspection"}
    assert "Targets (issue 4)" in capsys.readouterr().out


def test_sampling_interval_table(bench, tmp_path):
    module = bench("sampling_interval")
    result = module.main(["--count", "2", "--steps", "15,60,300", "--home", str(tmp_path / "h")])
    table = result.tables["sampling"]
    assert headers(table) == ["measure", "one sample / 15 s", "one sample / 60 s", "one sample / 300 s"]
    assert first_column(table)[:2] == ["RCA top-1", "RCA top-3"]
    assert result.data["steps"].keys() == {"15 s", "60 s", "300 s"}
    assert all("/2 " in cells["RCA top-1"] or cells["RCA top-1"] == "—" for cells in result.data["steps"].values())
    with pytest.raises(SystemExit):
        module.main(["--count", "1", "--seed-start", "5"])
    for steps in ("0", "", "45"):  # not positive, none, not dividing the simulator's minute
        with pytest.raises(SystemExit):
            module.main(["--count", "1", "--steps", steps])


def test_foreign_names_table_and_renamed_bundles(bench, tmp_path):
    module = bench("foreign_names")
    result = module.main(["--count", "2", "--home", str(tmp_path / "h")])
    assert headers(result.tables["names"]) == ["measure", "as simulated", "services renamed",
                                               "services renamed, metrics in short forms",
                                               "services renamed, requests counted by status",
                                               "services renamed, latency as histograms",
                                               "services and metrics renamed"]
    assert all("/2 " in cells["RCA top-1"] for cells in result.data["variants"].values())
    with pytest.raises(SystemExit):
        module.main(["--count", "1", "--seed-start", "5"])


def test_a_renamed_bundle_keeps_no_original_name(bench, tmp_path):
    module = bench("foreign_names")
    source = PROJECT_ROOT / "examples" / "scenarios" / "rca-slow-dependency"
    services, metrics = module.bundle_names(source)
    out = module.renamed_copy(source, tmp_path / "b", metrics_too=True, businesses={"search": "biz-1"})
    text = "\n".join((out / name).read_text() for name in ("metrics.csv", *module.TEXT_FILES) if (out / name).exists())
    for name in services | metrics | {"search"}:
        assert not re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text), name
    assert "svc-01" in text and "metric-001" in text
    event = (out / "event.yaml").read_text().lower()  # inside an alert name or a URL-encoded query too
    for name in services:
        assert not re.search(r"[-_ ]?".join(map(re.escape, re.split(r"[-_ ]", name))), event), name
    assert module.bundle_names(out) == ({f"svc-{i:02d}" for i in range(1, len(services) + 1)},
                                        {f"metric-{i:03d}" for i in range(1, len(metrics) + 1)})


def test_a_bundle_in_short_forms_keeps_its_services_hidden_and_its_metrics_shortened(bench, tmp_path):
    module = bench("foreign_names")
    source = PROJECT_ROOT / "examples" / "scenarios" / "rca-slow-dependency"
    _, metrics = module.bundle_names(source)
    out = module.renamed_copy(source, tmp_path / "b", metrics_too=False, businesses={},
                              metric_names=module.SHORT_FORMS)
    assert module.bundle_names(out)[1] == {module.SHORT_FORMS.get(m, m) for m in metrics}
    assert "rt_p99" in module.bundle_names(out)[1]


def _regrouped_rows(module, tmp_path, regrouping) -> tuple[list[dict], list[dict]]:  # noqa: ANN001 - a module
    """A curated scenario's metric rows as given and regrouped (its gateway keeping its name)."""
    source = PROJECT_ROOT / "examples" / "scenarios" / "rca-slow-dependency"
    out = module.renamed_copy(source, tmp_path / "b", metrics_too=False, businesses={}, regrouped=regrouping,
                              service_names={"gateway": "gateway"})
    return [list(csv.DictReader(path.read_text().splitlines())) for path in (source / "metrics.csv",
                                                                             out / "metrics.csv")]


def test_requests_counted_by_status_keep_the_work_and_the_failures(bench, tmp_path):
    module = bench("foreign_names")
    given, rows = _regrouped_rows(module, tmp_path, module.BY_STATUS)
    assert not {r["metric"] for r in rows} & set(module.STATUS_COUNTED)
    rate = {(r["timestamp"], r["instance"]): float(r["value"]) for r in given
            if r["metric"] == "requests_per_second" and r["service"] == "gateway"}
    counted = {}
    for r in rows:
        if r["metric"] == "http_requests_total" and r["service"] == "gateway":
            counted[(r["timestamp"], r["instance"])] = counted.get((r["timestamp"], r["instance"]), 0.0) + float(
                r["value"])
    assert counted and all(abs(counted[k] - rate[k]) <= 1e-3 * rate[k] for k in rate)  # 200s and 500s add up
    assert {r["code"] for r in rows if r["metric"] == "http_requests_total"} == {"200", "500"}
    assert len(rows) == len(given) - sum(r["metric"] in module.STATUS_COUNTED for r in given) + 2 * len(
        [r for r in given if r["metric"] == "requests_per_second"])


def test_latency_as_a_histogram_keeps_the_requests_and_their_quantiles(bench, tmp_path):
    module = bench("foreign_names")
    _, rows = _regrouped_rows(module, tmp_path, module.BY_HISTOGRAM)
    assert not {r["metric"] for r in rows} & set(module.HISTOGRAMMED)
    last = max(r["timestamp"] for r in rows if r["service"] == "gateway" and r["instance"] == "")
    at_last = {(r["metric"], r["le"]): float(r["value"]) for r in rows
               if r["service"] == "gateway" and r["instance"] == "" and r["timestamp"] == last}
    counts = [at_last["http_request_duration_seconds_bucket", le] for le in
              [f"{b:g}" for b in module.HISTOGRAM_BOUNDS] + ["+Inf"]]
    assert counts == sorted(counts) and counts[0] < counts[-1]  # cumulative over bounds
    assert at_last["http_request_duration_seconds_count", ""] == pytest.approx(counts[-1])


def test_release_interception_counts_hold_as_intercepted(bench):
    module = bench("scenario_accuracy")
    from agent.scoring import CaseScore

    def release(label: str, decision: str) -> CaseScore:
        return CaseScore("c", "release_interception", "s", label == decision, "", decision_label=label,
                         decision=decision)

    scores = [release("block", "hold"), release("hold", "pass"), release("block", "block"), release("pass", "hold"),
              release("pass", "pass"), CaseScore("r", "rca", "s", True, "")]
    counts = module.Releases.of(scores)
    assert (counts.bad, counts.intercepted, counts.good, counts.good_held) == (3, 2, 2, 1)


def test_scenario_accuracy_refuses_development_seeds_and_unknown_patterns(bench):
    module = bench("scenario_accuracy")
    with pytest.raises(ValueError, match="below 1000"):
        module.main(["--count", "1", "--seed-start", "5", "--no-knowledge"])
    with pytest.raises(SystemExit, match="unknown pattern"):
        module.main(["--count", "1", "--patterns", "rca,triage", "--no-knowledge"])


@needs_shared_data
def test_real_incidents_tables(bench, tmp_path, capsys):
    module = bench("real_incidents")
    plot = tmp_path / "real.png"
    result = module.main(["--cases", str(NEZHA), "--limit", "3", "--no-knowledge", "--plot", str(plot), "--json"])
    summary = result.tables["summary"]
    assert first_column(summary) == ["Bian Que (offline reasoner)", "z-score baseline (measured here)",
                                     "z-score baseline (data set README)"]
    assert headers(summary)[2:5] == ["top-1", "top-3", "top-5"]
    assert [str(c) for c in summary.columns[1].cells][:2] == ["3", "3"]
    assert set(first_column(result.tables["faults"])) <= set(module.FAULT_KINDS)
    assert first_column(result.tables["targets"]) == ["RCA top-1", "RCA top-3"]
    assert plot.is_file() and plot.read_bytes()[:4] == b"\x89PNG"
    printed = json.loads(capsys.readouterr().out)
    assert len(printed["cases"]) == 3 and {"agent_rank", "zscore_rank", "fault"} <= printed["cases"][0].keys()


@needs_shared_data
def test_real_sets_without_their_topology(bench):
    module = bench("real_sets")
    result = module.main(["--data", str(SHARED_DATA), "--sets", "nezha-ob", "--limit", "2", "--no-knowledge",
                          "--without-topology"])
    assert "without topology.yaml" in result.tables["summary"].title
    assert result.data["without_topology"] is True
    cases = result.data["sets"]["nezha-ob"]["rca"]
    assert len(cases) == 2 and all(c["error"] is None for c in cases)
    assert (SHARED_DATA / "nezha-ob" / cases[0]["case"] / "topology.yaml").is_file()  # the set itself untouched


def test_real_sets_with_the_calls_in_metric_labels_instead_of_topology(bench, tmp_path):
    shutil.copytree(CURATED_ONE, tmp_path / "curated" / CURATED_ONE.name)
    copy = bench("call_label_bundles").labelled_copy(CURATED_ONE, tmp_path / "copies")
    bundle, original = load_bundle(copy), load_bundle(CURATED_ONE)
    assert bundle.topology is None and (CURATED_ONE / "topology.yaml").is_file()
    calls = {(s.labels["source_workload"], s.labels["destination_workload"])
             for s in bundle.series if s.metric == "istio_requests_total"}
    assert calls == {(s, d) for s in original.topology.services() for d in original.topology.dependencies(s)}
    result = bench("real_sets").main(["--data", str(tmp_path), "--sets", "curated", "--no-knowledge",
                                      "--without-topology", "--call-labels"])
    assert "its calls in a per-call metric's labels" in result.tables["summary"].title
    [case] = result.data["sets"]["curated"]["rca"]
    assert case["error"] is None and case["agent_rank"] == 1
    with pytest.raises(SystemExit):
        bench("real_sets").parse_args(["--call-labels"])


def test_averaging_keeps_labels_and_stamps_each_bucket_at_its_latest_sample(bench):
    module = bench("resampling")
    from agent.series import Series

    raw = Series("cpu", {"service": "db", "pod": "db-1"}, np.array([0.0, 60, 120, 180, 240, 300]),
                 np.array([1.0, 3.0, np.nan, 5.0, 7.0, 9.0]))
    coarse = module.resampled(raw, 120.0)
    assert coarse.labels == raw.labels and coarse.metric == "cpu"
    assert coarse.timestamps.tolist() == [60.0, 180.0, 300.0]
    assert coarse.values.tolist() == [2.0, 5.0, 8.0]  # the NaN left out of its bucket


def test_spreading_finer_keeps_each_interval_mean_and_a_counter_growing(bench):
    module = bench("resampling")
    from agent.series import Series

    gauge = Series("cpu", {"service": "db"}, 60.0 * np.arange(1, 7), np.array([1.0, 3.0, 2.0, 5.0, 4.0, 6.0]))
    fine = module.resampled(gauge, 5.0, seed=1)
    assert len(fine) == 72 and fine.timestamps[0] == 5.0 and fine.timestamps[-1] == 360.0
    assert np.diff(fine.timestamps).tolist() == [5.0] * 71
    assert fine.values.reshape(6, 12).mean(axis=1) == pytest.approx(gauge.values)
    assert np.std(fine.values[:12]) > 0  # noise around the recorded value
    counter = Series("requests_total", {"service": "db"}, gauge.timestamps, np.cumsum(gauge.values))
    spread = module.resampled(counter, 5.0)
    assert len(spread) == 72 and spread.timestamps[-1] == 360.0 and spread.values[-1] == counter.values[-1]
    assert (np.diff(spread.values) >= 0).all() and len(set(spread.values)) > len(counter)  # grows in between
    with pytest.raises(ValueError, match="does not divide"):
        module.finer(gauge, 25.0)
    assert module.resampled(gauge, 25.0) is gauge and module.resampled(gauge, 45.0) is gauge  # kept as recorded


@needs_shared_data
@pytest.mark.parametrize("seconds", ["300", "15"])
def test_real_sets_resampled_coarser_or_finer(bench, tmp_path, seconds):
    module = bench("real_sets")
    result = module.main(["--data", str(SHARED_DATA), "--sets", "nezha-tt-dev", "--limit", "1", "--no-knowledge",
                          "--sample-every", seconds, "--home", str(tmp_path / "h")])
    assert f"one sample every {seconds} s" in result.tables["summary"].title
    cases = result.data["sets"]["nezha-tt-dev"]["rca"]
    assert len(cases) == 1 and cases[0]["error"] is None
    if seconds == "15":  # spread finer, the bundle source averages it back: the same answer as recorded
        from agent.bundles.reader import load_bundle
        from agent.series import sample_step

        case_dir = SHARED_DATA / "nezha-tt-dev" / cases[0]["case"]
        copy = bench("resampling").resampled_copy(case_dir, tmp_path / "copy", 15.0)
        assert sample_step(load_bundle(copy).series) == 15.0
        recorded = module.main(["--data", str(SHARED_DATA), "--sets", "nezha-tt-dev", "--limit", "1",
                                "--no-knowledge", "--home", str(tmp_path / "h")])
        [case] = recorded.data["sets"]["nezha-tt-dev"]["rca"]
        assert (cases[0]["agent_rank"], cases[0]["needs_attention"]) == (case["agent_rank"], case["needs_attention"])
        assert case["agent_rank"] == 1


@needs_shared_data
def test_real_sets_side_by_side_with_their_baselines(bench, tmp_path, capsys):
    module = bench("real_sets")
    result = module.main(["--data", str(SHARED_DATA), "--sets", ",".join(REAL_SETS), "--limit", "2",
                          "--no-knowledge", "--json"])
    summary = result.tables["summary"]
    assert first_column(summary) == list(REAL_SETS)  # in the order asked
    assert [str(c) for c in summary.columns[1].cells] == ["rca", "rca", "inspection"]
    assert [str(c) for c in summary.columns[2].cells] == ["2", "2", "2"]
    assert {"nezha-ob-kinds", "nezha-tt-dev-kinds", "goals"} <= result.tables.keys()
    assert set(first_column(result.tables["goals"])) == set(REAL_SETS)
    printed = json.loads(capsys.readouterr().out)
    assert printed["sets"].keys() == set(REAL_SETS)
    for name in ("nezha-ob", "nezha-tt-dev"):
        cases = printed["sets"][name]["rca"]
        assert len(cases) == 2 and all(c["error"] is None for c in cases)
        # strict: a rank only behind a verdict that asks for attention
        assert all(c["needs_attention"] or c["agent_rank"] is None for c in cases)
    nab = printed["sets"]["nab-dev"]["inspection"]
    assert len(nab) == 2 and {"agent_found", "baseline_found"} <= nab[0].keys()


def test_real_sets_refuses_an_unknown_set(bench, tmp_path):
    module = bench("real_sets")
    with pytest.raises(SystemExit, match="no sets found"):
        module.main(["--data", str(tmp_path), "--no-knowledge"])


def test_real_incidents_missing_directory(bench, tmp_path):
    module = bench("real_incidents")
    with pytest.raises(SystemExit, match="no such directory"):
        module.main(["--cases", str(tmp_path / "absent"), "--no-knowledge", "--plot", ""])


def test_rank_of(bench):
    rank_of = bench("real_incidents").rank_of
    assert rank_of("b", ["a", "b", "c"]) == 2
    assert rank_of("z", ["a", "b"]) is None


def test_context_budget_tables(bench, tmp_path):
    module = bench("context_budget")
    result = module.main(["--count", "1", "--no-knowledge", "--plot", str(tmp_path / "cb.png"),
                          "--home", str(tmp_path / "h")])
    summary = result.tables["summary"]
    assert first_column(summary) == ["Skill", "every signal", "every signal, uncapped"]
    expected = {"prompt tokens mean", "prompt tokens p95", "samples", "log lines", "pass (offline)"}
    assert expected <= set(headers(summary))
    assert first_column(result.tables["patterns"]) == ["rca", "release_interception", "inspection"]
    assert (tmp_path / "cb.png").is_file()
    cases = result.data["cases"]
    assert len(cases) == 9 and not result.data["errors"]
    by_arm = {(c["case"], c["pattern"], c["arm"]): c for c in cases}
    for case, pattern, arm in by_arm:
        if arm == "Skill":
            wide = by_arm[(case, pattern, "every signal")]
            assert wide["samples"] >= by_arm[(case, pattern, arm)]["samples"]  # every signal includes the Skill's
            assert by_arm[(case, pattern, "every signal, uncapped")]["findings_in_pack"] == wide["findings_detected"]


def test_every_signal_skill_widens_data_but_keeps_decisions(bench):
    module = bench("context_budget")
    from agent.skills.library import load_library

    skill = load_library([PROJECT_ROOT / "skills"]).get("serving-canary-release").skill
    wide = module.every_signal_skill(skill, ["request_error_ratio", "disk_usage_ratio", "cache_hit_ratio"])
    names = [m.name for m in wide.data.metrics]
    assert "disk_usage_ratio" in names and "cache_hit_ratio" in names
    assert names.count("request_error_ratio") == 1  # already covered by the Skill's own signal
    assert all(m.dependencies for m in wide.data.metrics)
    assert wide.data.dependencies.depth == 5 and wide.data.dependencies.direction == "both"
    assert any(q.services == ["*"] and "INFO" in q.levels for q in wide.data.logs)
    assert wide.decision == skill.decision and wide.name != skill.name


def test_token_counter_does_not_truncate(bench):
    module = bench("context_budget")
    counter = module.TokenCounter()
    short = counter.count(["latency rose on ranking"])
    assert short > 0
    assert counter.count(["latency rose on ranking " * 400]) > 512  # the embedding model truncates at 256
    assert counter.count([]) == 0


def test_latency_tables(bench, tmp_path):
    module = bench("latency")
    plot = tmp_path / "lat.png"
    result = module.main(["--repeat", "1", "--services", "6", "--instances", "1", "--curated", str(CURATED_ONE),
                          "--no-knowledge", "--plot", str(plot)])
    assert first_column(result.tables["curated"]) == ["rca-slow-dependency"]
    synthetic = result.tables["synthetic"]
    assert first_column(synthetic) == ["star 6×1", "tree 6×1"]
    assert {"median ms", "p95 ms", "gather ms", "analyze ms", "reason ms", "outside nodes ms", "series"} <= set(
        headers(synthetic))
    assert [str(c) for c in synthetic.columns[2].cells] == ["36", "36"]  # 6 services × 6 metrics × 1 instance
    assert plot.is_file()
    assert all(len(m["totals"]) == 1 for m in result.data["synthetic"])


def test_hung_source_table_names_the_deadline_and_could_not_judge(bench):
    result = bench("hung_source").main(["--timeouts", "0.2", "--deadlines", "default,0.3"])
    [run, shorter] = result.data["runs"]
    assert (run["gather_deadline_s"], shorter["gather_deadline_s"]) == (pytest.approx(0.6), 0.3)
    assert run["judged"] is False and shorter["judged"] is False
    # cut, or (on a machine so loaded that the questions before it spent the rest) never asked: the deadline either way
    assert run["reasons"] and all("the investigation's 0.6 s for gathering" in reason for reason in run["reasons"])
    assert [str(c) for c in result.tables["hung"].columns[3].cells] == ["no (could not judge)"] * 2


def test_latency_rejects_bad_arguments(bench):
    module = bench("latency")
    with pytest.raises(SystemExit):
        module.main(["--repeat", "0"])
    with pytest.raises(SystemExit):
        module.main(["--shapes", "ring"])
    with pytest.raises(SystemExit):
        module.main(["--curated", "/nonexistent/bundles"])


def test_synthetic_topologies(bench, tmp_path):
    module = bench("latency")
    services = [f"s{i}" for i in range(10)]
    assert module.topology(services, "star")["s0"] == services[1:]
    tree = module.topology(services, "tree")
    assert tree["s0"] == ["s1", "s2", "s3", "s4"] and tree["s2"] == ["s9"] and tree["s9"] == []
    path = module.synthetic_bundle(tmp_path / "b", 5, 2, "tree")
    from agent.bundles.label import load_label
    from agent.bundles.reader import load_bundle

    bundle = load_bundle(path)
    assert len(bundle.series) == 5 * len(module.METRICS) * 2
    assert bundle.event.services == ["svc-000"]
    assert load_label(path).primary.service == "svc-001"


def test_llm_reasoner_table_against_a_failing_endpoint_keeps_the_offline_verdicts(bench, fake_llm, monkeypatch):
    monkeypatch.setenv("BIANQUE_LLM_MAX_RETRIES", "0")
    module = bench("llm_reasoner")
    result = module.main(["--base-url", fake_llm.base_url, "--model", "fake-model", "--count", "0",
                          "--curated", "2", "--json"])  # nothing queued: every call gets HTTP 500
    summary = result.data["summary"]["all"]
    assert summary["cases"] == 2 and summary["failed"] == 2 and summary["valid_first"] == 0
    assert summary["final_pass"] == summary["offline_pass"]  # the floor: a failing model changes nothing
    assert [c["outcome"] for c in result.data["cases"]] == ["failed", "failed"]
    assert {c["pattern"] for c in result.data["cases"]} == {"inspection", "rca"}
    assert len(fake_llm.requests) >= 2


def test_llm_reasoner_counts_answers_the_fail_safe_replaced_apart(bench):
    module = bench("llm_reasoner")
    row = module.Row(case="c", source="real", pattern="rca", outcome="fail_safe", valid_at=1, agrees=False,
                     offline_pass=False, model_pass=True, final_pass=False, seconds=1.0, tokens=10)
    summary = module.summarise([row])
    assert (summary["fail_safe"], summary["set_aside"], summary["failed"]) == (1, 0, 0)
    assert "fail-safe (could not judge)" in headers(module.table({"all": summary}, "t"))


def test_self_evolution_llm_table_counts_verdicts_the_fail_safe_replaced(bench):
    from agent.evolve.protocol import ProtocolReport
    from agent.evolve.protocol_llm import LLMTally

    module = bench("self_evolution")
    tally = LLMTally()
    tally.record_verdict(type("Result", (), {"llm": {"outcome": "fail_safe", "seconds": 2.0}})())
    table = module.llm_table({"sim": ProtocolReport([], [], llm=tally)})
    assert "verdicts accepted / set aside / failed / fail-safe" in headers(table)
    assert [str(c) for c in table.columns[3].cells] == ["0 / 0 / 0 / 1"]


def test_self_evolution_protocol_table(bench, tmp_path):
    module = bench("self_evolution")
    result = module.main(["--sets", "sim", "--sim-count", "1", "--no-search", "--home", str(tmp_path / "h")])
    assert first_column(result.tables["summary"]) == ["sim"]
    data = result.data["sim"]
    assert data["scored"] == 4 and data["lost"] == 0
    assert "scored half before" in headers(result.tables["summary"])


def test_self_evolution_reverse_swaps_the_halves(bench, tmp_path, monkeypatch):
    module = bench("self_evolution")
    asked = []
    run = module.run_protocol
    monkeypatch.setattr(module, "run_protocol", lambda *a, **k: asked.append(k["reverse"]) or run(*a, **k))
    result = module.main(["--sets", "sim", "--sim-count", "1", "--no-search", "--home", str(tmp_path / "h"),
                          "--reverse"])
    assert asked == [True] and "offline, halves swapped" in result.tables["summary"].title
    assert result.data["sim"]["scored"] == 4


def test_self_evolution_llm_variant_counts_what_a_failing_endpoint_answered(bench, fake_llm, tmp_path):
    module = bench("self_evolution")
    result = module.main(["--sets", "sim", "--sim-count", "1", "--no-search", "--home", str(tmp_path / "h"),
                          "--llm", "--llm-patches", "1", "--llm-notes", "1"])  # nothing queued: HTTP 500
    answers = result.data["sim"]["llm"]["answers"]
    misses = result.data["sim"]["counts"].get("corrected: misses", 0)  # none when the corrected half is all right
    assert answers["note: error"] == 1 and answers.get("patch: error", 0) == min(misses, 1)
    assert result.data["sim"]["counts"].get("patches accepted", 0) == 0
    assert first_column(result.tables["llm"]) == ["sim"]
    assert "LLM patches and notes, offline verdicts" in result.tables["summary"].title
    assert len(fake_llm.requests) >= 1 + min(misses, 1)


def test_ranking_rules_tally_on_the_cause_a_wrong_leader_and_elsewhere(bench):
    module = bench("ranking_rules")
    from agent.reasoners.service_evidence import ServiceEvidence

    def ev(service: str, *notes: str) -> ServiceEvidence:
        return ServiceEvidence(service, notes=list(notes))

    cases = [("db", [ev("api", "among the first to deviate"), ev("db", "explains anomalies in callers ['api']"),
                     ev("cache", "dependencies ['db'] deviated no later: likely a victim")]),
             ("db", [ev("db", "its cpu_usage_ratio reached 92% of capacity with no rise in requests",
                        "among the first to deviate")])]
    counts = module.tally(cases)
    assert counts["among the first to deviate"] == {"cause": 1, "wrong leader": 1, "cause not first": 0}
    assert counts["explains anomalies in callers"] == {"cause": 1, "cause not first": 1}
    assert counts["dependencies deviated no later: likely a victim"] == {"elsewhere": 1}
    assert counts["its … reached … of capacity with no rise in requests"]["cause"] == 1


@needs_shared_data
def test_ranking_rules_table(bench, tmp_path):
    module = bench("ranking_rules")
    result = module.main(["--data", str(SHARED_DATA), "--sets", "nezha-ob", "--limit", "3", "--count", "0",
                          "--no-knowledge", "--home", str(tmp_path / "h")])
    assert headers(result.tables["rules"]) == ["rule", "nezha-ob"]
    assert result.tables["rules"].row_count >= 1
    fired = result.data["rules"]["nezha-ob"]
    assert sum(c.get("cause", 0) + c.get("wrong leader", 0) + c.get("elsewhere", 0) for c in fired.values()) > 0


def test_alert_timing_moves_only_the_event_and_its_alert(bench, tmp_path):
    module = bench("alert_timing")
    from agent.bundles.reader import load_bundle
    from agent.bundles.writer import write_bundle
    from agent.events import Event
    from agent.series import Series

    t0 = 1_772_445_600.0
    event = Event.model_validate({"pattern": "rca", "time": t0, "service": "api", "alert": {
        "labels": {"alertname": "ApiSlow", "service": "api"}, "startsAt": t0 - 30}})
    series = [Series("latency_seconds", {"service": "api"}, t0 - 600 + 60.0 * np.arange(12), np.ones(12))]
    source = write_bundle(tmp_path / "src" / "case", event, series, topology={"api": ["db"]})
    before = (source / "event.yaml").read_bytes()
    moved = module.moved_bundle(source, -2, tmp_path / "moved")
    shifted = load_bundle(moved)
    assert shifted.event.time == t0 - 120
    assert shifted.event.alert is not None and shifted.event.alert.starts_at == t0 - 150
    assert shifted.event.model_dump(exclude={"time", "alert"}) == event.model_dump(exclude={"time", "alert"})
    assert shifted.event.alert.labels == event.alert.labels
    assert (source / "event.yaml").read_bytes() == before  # the set itself untouched
    linked = {p.name for p in moved.iterdir() if p.is_symlink()}
    assert linked == {p.name for p in source.iterdir()} - {"event.yaml"} and "topology.yaml" in linked
    assert shifted.series[0].values.tolist() == series[0].values.tolist()


def test_alert_bursts_compare_the_same_cases_with_and_without_an_earlier_incident(bench, tmp_path):
    module = bench("alert_bursts")
    result = module.main(["--count", "3", "--home", str(tmp_path / "h")])
    assert first_column(result.tables["bursts"]) == list(result.data)
    cases = {row["cases"] for row in result.data.values()}
    assert len(cases) == 1 and 0 < cases.pop() <= 3  # the same actionable alerts each way
    plain, burst = module.scenario_pairs(tmp_path / "pairs", 3, 1000)
    assert [p.name for p in plain] == [b.name for b in burst]
    blamed = module.blaming_the_earlier(burst[0], tmp_path / "blamed")
    label = YAML(typ="safe").load((blamed / "label.yaml").read_text())
    assert label["root_cause"] == [{"service": label["sim"]["earlier_incident"]["service"], "fault": "slow_dependency"}]


@needs_shared_data
def test_alert_timing_table(bench, tmp_path):
    module = bench("alert_timing")
    result = module.main(["--data", str(SHARED_DATA), "--sets", "nezha-ob", "--limit", "2", "--count", "0",
                          "--offsets=-2,0", "--no-knowledge", "--plot", "", "--home", str(tmp_path / "h")])
    assert headers(result.tables["timing"]) == ["set", "-2 min", "+0 min"]
    assert set(result.data["nezha-ob"]) == {"-2", "+0"}
    assert all(row["cases"] == 2 for row in result.data["nezha-ob"].values())


@needs_shared_data
def test_metric_conventions_table(bench):
    module = bench("metric_conventions")
    result = module.main(["--data", str(SHARED_DATA), "--sets", "nezha-tt-dev", "--limit", "1", "--no-knowledge"])
    assert first_column(result.tables["conventions"]) == ["as given", *module.CONVENTIONS]
    assert all(total == 1 for _top1, _top3, total in result.data["sets"]["nezha-tt-dev"].values())


def test_metric_conventions_rewrite_names_and_values(bench, tmp_path):
    module = bench("metric_conventions")
    assert module.word_swap("latency", "rt")("pod_client_latency_p99_seconds", 0.2) == ("pod_client_rt_p99_seconds",
                                                                                           0.2)
    assert module.word_swap("latency", "")("latency_p99_seconds", 0.2) == ("p99_seconds", 0.2)
    assert module.error_rate_for_success("pod_success_rate_percent", 97.0) == ("pod_error_rate_percent", 3.0)
    assert module.error_rate_for_success("success_rate", 0.25) == ("error_rate", 0.75)
    assert module.finer_units("memory_usage_mebibytes", 2.0) == ("memory_usage_bytes", 2097152.0)
    assert module.calls_for_workload("pod_workload_ops", 5.0) == ("pod_calls_total", 5.0)
    source = PROJECT_ROOT / "examples" / "scenarios" / "rca-slow-dependency"
    out = module.rewritten_copy(source, tmp_path, module.opaque({}))
    metrics = {line.split(",")[1] for line in (out / "metrics.csv").read_text().splitlines()[1:]}
    assert metrics and all(m.startswith("metric-") for m in metrics)
    assert not any(line.split(",")[1].startswith("metric-")  # the source left as it was
                   for line in (source / "metrics.csv").read_text().splitlines()[1:])


@needs_shared_data
def test_ablations_take_one_kind_of_evidence_away(bench, tmp_path):
    module = bench("ablations")
    result = module.main(["--data", str(SHARED_DATA), "--sets", "nezha-tt-dev,nab-dev", "--limit", "1",
                          "--no-knowledge"])
    assert first_column(result.tables["ablations"]) == ["as given", "no logs", "no trace ids", "no level field",
                                                        "errors as access logs", "30 % fewer requests",
                                                        "30 % of log lines lost", "15 min before the alert",
                                                        "no earlier incident in the look-back", "1 day of history"]
    assert set(result.data["sets"]["nab-dev"]) == {"as given", "1 day of history"}
    bundle = module.find_bundles(SHARED_DATA / "nezha-tt-dev")[0]
    stripped = module.without_trace_ids(bundle, tmp_path / "ids")
    lines = [json.loads(line) for line in (stripped / "logs.jsonl").read_text().splitlines()]
    assert lines and not any("trace_id" in line or module._HEX_ID.search(line["message"]) for line in lines)
    given = load_bundle(bundle).logs
    unlevelled = module.without_levels(bundle, tmp_path / "levels")
    assert not any("level" in json.loads(line) for line in (unlevelled / "logs.jsonl").read_text().splitlines())
    assert [r.level for r in load_bundle(unlevelled).logs] == [r.level for r in given]  # each line's text names it
    access = load_bundle(module.errors_as_access_logs(bundle, tmp_path / "access")).logs
    assert len(access) == len(given) and any(r.level == "ERROR" for r in given)
    assert [r.level for r in access] == [r.level for r in given]  # a 503 says ERROR where the level field says INFO
    assert all("HTTP/1.1\" 503" in a.message for a, g in zip(access, given, strict=True) if g.level == "ERROR")
    fewer = load_bundle(module.fewer_requests(bundle, tmp_path / "fewer")).logs
    lost = load_bundle(module.lines_lost(bundle, tmp_path / "lost")).logs
    traces = Counter(module.trace_id_in_text(r.message) or r.trace_id for r in given)
    kept = Counter(module.trace_id_in_text(r.message) or r.trace_id for r in fewer)
    assert all(kept[t] == traces[t] for t in kept if t)  # a trace is kept whole or not at all
    assert 0.6 < len({t for t in kept if t}) / len({t for t in traces if t}) < 0.8
    assert 0.6 < len(lost) / len(given) < 0.8
    assert any(0 < n < traces[t] for t, n in Counter(module.trace_id_in_text(r.message) or r.trace_id
                                                     for r in lost).items() if t)  # holes in traces
    short = module.short_history(bundle, tmp_path / "short")
    since = load_bundle(bundle).event.time - module.SHORT_HISTORY_S
    cut = load_bundle(short)
    assert min(s.timestamps.min() for s in cut.series) >= since and min(r.ts for r in cut.logs) >= since
    quiet = load_bundle(module.without_earlier_incident(bundle, tmp_path / "quiet"))
    time, (first, last) = quiet.event.time, module.EARLIER_INCIDENT_SPAN_S
    left = np.concatenate([s.timestamps for s in quiet.series])
    assert not ((left >= time - first) & (left < time - last)).any()
    kept = np.concatenate([s.timestamps for s in load_bundle(bundle).series])
    assert left.size == (~((kept >= time - first) & (kept < time - last))).sum() < kept.size
    assert len(quiet.logs) == len(given)  # the logs are left as they are


@needs_shared_data
def test_real_releases_judge_each_quiet_series_in_every_variant(bench):
    module = bench("real_releases")
    result = module.main(["--data", str(SHARED_DATA), "--limit", "5"])
    assert first_column(result.tables["decisions"]) == list(module.VARIANTS)
    assert all(sum(counts.values()) == 5 for counts in result.data["counts"].values())
    assert all(set(case) == set(module.VARIANTS) for case in result.data["cases"].values())
    judged = [case for case in result.data["cases"].values() if case["harmless"] not in module.UNJUDGED]
    assert judged, "none of the first five quiet series was judged: the smoke test would measure nothing"


def test_real_releases_shift_the_series_after_the_onset_by_its_own_spread(bench):
    module = bench("real_releases")
    times = np.arange(0.0, 86400.0 + 7200.0, 600.0)
    values = np.where(np.arange(times.size) % 2 == 0, 10.0, 12.0)  # MAD 1: spread 1.4826
    series = module.Series("speed", {"service": "road"}, times, values)
    started = 86400.0
    moved = module.shifted(series, started, 3.0)
    late = times >= started + module.ONSET_DELAY_S
    assert np.allclose(moved.values[late] - values[late], 3 * 1.4826)
    assert np.array_equal(moved.values[~late], values[~late])
    flat = module.Series("count", {"service": "road"}, times, np.where(times % 7200 == 0, 1.0, 0.0))
    assert module.spread(flat.values) > 0  # mostly zeros: the standard deviation, not a MAD of 0


@needs_shared_data
def test_inspection_names_rename_every_series_and_compare_like_with_like(bench):
    module = bench("inspection_names")
    result = module.main(["--data", str(SHARED_DATA), "--limit", "4", "--no-knowledge"])
    assert first_column(result.tables["names"]) == list(module.NAMES)
    for name in module.NAMES:
        row = result.data[name]
        assert row["bundles"] <= 4 and row["renamed"].keys() == row["as given"].keys()
    assert result.data["request_count"]["bundles"] == 4  # no share in the name: every bundle


def test_inspection_names_give_a_share_only_to_series_within_100(bench, tmp_path):
    module = bench("inspection_names")
    bundle = tmp_path / "case"
    bundle.mkdir()
    (bundle / "event.yaml").write_text("pattern: inspection\ntime: 1000\nservice: road\nscope: {services: [road]}\n")
    (bundle / "metrics.csv").write_text("timestamp,metric,service,value\n1,speed,road,65\n2,speed,road,130\n")
    assert module.fits(bundle, "request_count") and not module.fits(bundle, "cpu_utilization")
    assert not module.fits(bundle, "cpu_util") and module.fits(bundle, "qps")


@needs_shared_data
def test_busy_systems_tables(bench, tmp_path):
    module = bench("busy_systems")
    result = module.main(["--data", str(SHARED_DATA), "--set", "nezha-tt-dev", "--limit", "1", "--times", "2",
                          "--services", "2", "--no-knowledge"])
    assert first_column(result.tables["logs"]) == ["as given", "2x busier, log limits in force",
                                                   "2x busier, no log limit"]
    runs = result.data["logs"]["runs"].values()
    assert all(row["cases"] == 1 for row in runs)
    for row in runs:  # each case's strict rank, by case id, agreeing with the counts
        (rank,) = row["ranks"].values()
        assert row["top1"] == (rank == 1) and row["top3"] == (rank is not None and rank <= 3)
    metrics = result.data["metrics"]
    assert metrics["rows"] == 2 * 25 * 2 * 2400 and metrics["first"] == "svc-01"


@needs_shared_data
def test_busier_copies_write_every_line_again_with_traces_of_their_own(bench, tmp_path):
    module = bench("busy_systems")
    bundle = sorted((SHARED_DATA / "nezha-tt-dev").glob("tt-*"))[0]
    original, _ = module.read_logs(module.locate(bundle, "logs.jsonl")[0], "x")
    copy = module.busier_copy(bundle, tmp_path, 3)
    busier, errors = module.read_logs(copy / "logs.jsonl.gz", "y")
    assert not errors and len(busier) == 3 * len(original)
    traced = {line.trace_id for line in original if line.trace_id}
    assert traced and len({line.trace_id for line in busier if line.trace_id}) == 3 * len(traced)
    assert (copy / "metrics.csv.gz").is_symlink() or (copy / "metrics.csv").is_symlink()


def test_inspection_shapes_table_and_what_the_new_detectors_add(bench, tmp_path):
    module = bench("inspection_shapes")
    result = module.main(["--no-knowledge", "--home", str(tmp_path / "h")])
    table = result.tables["shapes"]
    assert headers(table) == ["shape", "labelled", "every detector", "without daily shift and spike density"]
    labelled = dict(zip(first_column(table), (str(c) for c in table.columns[1].cells), strict=True))
    for shape, counts in result.data.items():
        if labelled[shape] == "yes":  # each anomaly shape found in some window, and more with the new detectors
            assert counts["every detector"] >= 1
        else:  # nothing reported on an unlabelled shape, with or without them
            assert counts == {"every detector": 0, "without daily shift and spike density": 0}
    found = [sum(c[v] for s, c in result.data.items() if labelled[s] == "yes")
             for v in ("every detector", "without daily shift and spike density")]
    assert found[0] > found[1]


def test_read_calls_compares_the_calls_read_with_the_given_graphs_and_answers_without_them(bench, tmp_path):
    module = bench("read_calls")
    result = module.main(["--count", "2", "--limit", "1", "--no-knowledge", "--home", str(tmp_path / "h")])
    rows = result.data["sets"]
    assert {"simulator", "simulator, services named by common words"} <= set(rows)
    simulated = rows["simulator"]
    assert simulated["bundles with logs"] == 2 and simulated["calls"] > 0 and simulated["not calls"] == 0
    assert simulated["pairs read"] == simulated["calls"] + simulated["not calls"]
    assert simulated["top-1"].endswith(")") and first_column(result.tables["calls"])[-1].endswith("common words")
    assert set(module.common_word_names([PROJECT_ROOT / "examples" / "scenarios" / "rca-slow-dependency"]).values()) \
        <= set(module.COMMON_WORDS)


def test_sparse_traffic_table(bench, tmp_path):
    module = bench("sparse_traffic")
    result = module.main(["--count", "1", "--home", str(tmp_path / "h")])
    assert headers(result.tables["sparse"]) == ["measure", "as simulated", "sparse traffic (3 requests a sample)"]
    assert all("/1 " in cells["RCA top-1"] for cells in result.data["variants"].values())
    with pytest.raises(SystemExit):
        module.main(["--count", "1", "--requests", "0"])


def test_sparse_traffic_counts_requests_a_few_at_a_time(bench, tmp_path):
    module = bench("sparse_traffic")
    given = list(csv.DictReader((CURATED_ONE / "metrics.csv").read_text().splitlines()))
    rows = list(module.sparse_rows(given, 3.0, seed=7))
    counted = (module.RATE, module.ERRORS)
    assert [r for r in rows if r["metric"] not in counted] == [r for r in given if r["metric"] not in counted]
    assert Counter(r["metric"] for r in rows) == Counter(r["metric"] for r in given)
    gateway = sorted((float(r["timestamp"]), float(r["value"])) for r in rows
                     if r["metric"] == module.RATE and r["service"] == "gateway" and r["instance"] == "")
    step = gateway[1][0] - gateway[0][0]
    counts = np.array([value * step for _, value in gateway])
    assert np.allclose(counts, np.round(counts), atol=1e-3)  # whole requests a sample
    assert 2.0 <= float(np.median(counts)) <= 4.0 and counts.min() >= 0
    shares = [float(r["value"]) for r in rows if r["metric"] == module.ERRORS]
    assert shares and all(0.0 <= s <= 1.0 for s in shares)
    assert rows == list(module.sparse_rows(given, 3.0, seed=7))  # the same draw for the same seed
    assert rows != list(module.sparse_rows(given, 3.0, seed=8))
    copy = module.sparse_copy(CURATED_ONE, tmp_path / "sparse", 3.0)
    assert (copy / "event.yaml").is_symlink() and not (copy / "metrics.csv").is_symlink()


def test_sparse_traffic_jitters_the_same_counts_as_a_scraper_extrapolates(bench):
    module = bench("sparse_traffic")
    given = list(csv.DictReader((CURATED_ONE / "metrics.csv").read_text().splitlines()))
    exact, jittered = module.sparse_rows(given, 3.0, seed=7), module.sparse_rows(given, 3.0, seed=7, jitter=0.005)
    factors = [float(j["value"]) / float(e["value"]) for e, j in zip(exact, jittered, strict=True)
               if e["metric"] == module.RATE and float(e["value"]) > 0]
    assert factors and all(1.0 - 1e-5 <= f <= 1.005 + 1e-5 for f in factors)  # the counts as they were, rates a hair up
    assert len({round(f, 6) for f in factors}) > 1  # never the same value twice
    assert module.sparse_label(1.0, 0.005) == "sparse traffic (1 requests a sample, rates jittered by up to 0.5 %)"
    with pytest.raises(SystemExit):
        module.main(["--count", "1", "--jitter", "1.5"])


def test_messy_scrapes_table(bench, tmp_path):
    module = bench("messy_scrapes")
    result = module.main(["--sets", "", "--count", "1", "--variants", "as given,pod churn",
                          "--home", str(tmp_path / "h")])
    table = result.tables["messy"]
    assert headers(table) == ["variant", "simulated"] and first_column(table) == ["as given", "pod churn"]
    assert all(row["simulated"]["rca"] + row["simulated"]["failed"] == 1 for row in result.data["variants"].values())
    for bad in (["--variants", "tidy"], ["--share", "1.5"], ["--gap", "0"]):
        with pytest.raises(SystemExit):
            module.main(["--sets", "", "--count", "1", *bad])


def test_messy_scrapes_counts_strictly_with_common_s_counts_and_windows_whole(bench, monkeypatch):
    module = bench("messy_scrapes")
    monkeypatch.setattr(module, "evaluated", lambda *_args: a_report_of_every_kind())
    counts = module.measured("any", [], None)
    assert {k: v for k, v in counts.items() if k != "cases"} == {
        "top1": 1, "top3": 2, "rca": 3, "failed": 1, "found": 0, "positive": 1, "alarms": 1, "negative": 2}
    assert counts["cases"] == {"r1": 1, "r2": 3, "r3": None, "i1": False, "i2": False, "i3": True, "broken": None}
    assert module.cell(counts) == "1 / 2 of 4; recall 0/1 (0%), false alarms 1/2 (50%)"


def test_pattern_measures_count_a_failed_case_as_an_rca_miss_as_strict_rca_does(bench):
    common = bench("common")
    report = a_report_of_every_kind()
    assert common.strict_rca(report) == (1, 2, 4)
    assert common.pattern_measures(report) == {
        "RCA top-1": "1/4 (25%)", "RCA top-3": "2/4 (50%)", "actionable judged no attention": "1/4 (25%)",
        "noise silenced": "1/2 (50%)", "bad releases intercepted": "1/2 (50%)", "good releases blocked": "1/1 (100%)",
        "inspection recall": "1/2 (50%)", "inspection false alarms": "3"}


def test_evaluated_measures_name_a_failed_case_on_stderr(bench, monkeypatch, capsys):
    common = bench("common")
    monkeypatch.setattr(common, "evaluated", lambda *_args: a_report_of_every_kind())
    assert common.evaluated_measures("as given", [], None)["RCA top-1"] == "1/4 (25%)"
    assert "as given: broken failed (counted as a miss)" in capsys.readouterr().err


def _pods(series) -> dict[tuple[str, str], set[str]]:
    """(service, metric) -> the instance names its series carry."""
    out: dict[tuple[str, str], set[str]] = {}
    for s in series:
        out.setdefault((s.service, s.metric), set()).add(s.labels.get("instance", ""))
    return out


def test_messy_scrapes_split_churned_pods_and_drop_samples_of_a_copy(bench, tmp_path):
    module = bench("messy_scrapes")
    given_text = (CURATED_ONE / "metrics.csv").read_bytes()
    given = load_bundle(CURATED_ONE).series
    churned = load_bundle(module.messy_copy(CURATED_ONE, tmp_path / "churn", module.Mess(churn=True), seed=1,
                                            share=1.0, run=3)).series
    assert (CURATED_ONE / "metrics.csv").read_bytes() == given_text  # the original untouched
    before, after = _pods(given), _pods(churned)
    assert before.keys() == after.keys()
    assert all(len(after[key]) == 2 * len(before[key]) for key in before)  # each pod split into an old and a new one
    assert all("" not in names for names in after.values())  # a series without a pod got one
    def samples(series):
        return sorted((s.service, s.metric, t) for s in series for t in s.timestamps)

    assert samples(churned) == samples(given)  # every sample kept, under the old pod's name or the new one's
    messy = module.messy_copy(CURATED_ONE, tmp_path / "drop", module.Mess(drop=0.1, gap=True), seed=1, share=1.0,
                              run=3)
    dropped = load_bundle(messy).series
    kept, total = sum(len(s) for s in dropped), sum(len(s) for s in given)
    assert kept < total - 3 and kept > 0.7 * total
    steps = [np.diff(s.timestamps).max() for s in dropped if len(s) > 1]
    assert max(steps) >= 4 * 60  # a run of three missed one-minute scrapes
    assert (messy / "event.yaml").is_symlink() and not (messy / "metrics.csv").is_symlink()
    as_given = module.messy_copy(CURATED_ONE, tmp_path / "given", module.Mess(), seed=1, share=1.0, run=3)
    assert (as_given / "metrics.csv").resolve() == (CURATED_ONE / "metrics.csv").resolve()


def test_messy_scrapes_jitter_each_scrape_time_within_its_bound(bench, tmp_path):
    module = bench("messy_scrapes")
    given = {s.key(): s for s in load_bundle(CURATED_ONE).series}
    copy = module.messy_copy(CURATED_ONE, tmp_path / "jitter", module.Mess(jitter=True), seed=1, share=1.0, run=3,
                             jitter=5.0)
    jittered = {s.key(): s for s in load_bundle(copy).series}
    assert jittered.keys() == given.keys()
    moved = np.concatenate([jittered[k].timestamps - given[k].timestamps for k in given])
    assert np.abs(moved).max() <= 5.0 and np.count_nonzero(moved) > 0.9 * moved.size
    assert all(np.array_equal(jittered[k].values, given[k].values) for k in given)


def test_silent_targets_cut_the_faulty_or_another_service_and_leave_a_lone_service_bundle_as_given(bench, tmp_path):
    """The cut copies: the labelled cause's series end ``lead`` seconds before the alert, every other series whole;
    "another service" cuts one service that is not the cause. A bundle whose only service with series is the
    cause raised (``integers(0)``) instead of being measured as given."""
    from agent.bundles.label import load_label
    from agent.bundles.writer import write_bundle

    module = bench("silent_targets")
    given = load_bundle(CURATED_ONE)
    truth = load_label(CURATED_ONE).root_cause[0].service
    cut_at = given.event.time - 60.0

    def ends(bundle):
        return {(s.service, s.metric, tuple(sorted(s.labels.items()))): s.timestamps[-1]
                for s in load_bundle(bundle).series}

    before = ends(CURATED_ONE)
    faulty = ends(module.cut_copy(CURATED_ONE, tmp_path / "faulty", module.CUTS[1], 60.0))
    assert all(end < cut_at for key, end in faulty.items() if key[0] == truth)
    assert {k: v for k, v in faulty.items() if k[0] != truth} == {k: v for k, v in before.items() if k[0] != truth}
    other = ends(module.cut_copy(CURATED_ONE, tmp_path / "other", module.CUTS[2], 60.0))
    cut_services = {k[0] for k, v in other.items() if v != before[k]}
    assert len(cut_services) == 1 and truth not in cut_services

    lone = write_bundle(tmp_path / "lone", given.event, [s for s in given.series if s.service == truth])
    (lone / "label.yaml").write_text((CURATED_ONE / "label.yaml").read_text())
    copy = module.cut_copy(lone, tmp_path / "lone-other", module.CUTS[2], 60.0)
    assert ends(copy) == ends(lone)
