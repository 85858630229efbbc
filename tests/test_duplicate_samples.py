"""Samples of one series sharing a timestamp are one sample, their mean: overlapping exports change nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from agent.bundles.metrics_file import read_metrics
from agent.bundles.reader import load_bundle
from agent.config import PROJECT_ROOT, get_settings
from agent.investigate import investigate
from agent.runtime import bundle_toolkit
from agent.series import make_series
from tests.shared_data import SHARED_DATA, needs

SCENARIOS = PROJECT_ROOT / "examples" / "scenarios"
NEZHA_CASE = SHARED_DATA / "nezha-ob" / "ob-2022-08-22-035354"


def _doubled(source: Path, target: Path) -> Path:
    """A copy of the bundle ``source`` with every metrics.csv row written twice (the copy after all rows)."""
    shutil.copytree(source, target)
    header, *rows = (source / "metrics.csv").read_text().splitlines(keepends=True)
    (target / "metrics.csv").write_text("".join([header, *rows, *rows]))
    return target


def _answer(path: Path) -> tuple[list, list]:
    """The root causes (service, fault, confidence) and the Findings (id, score) an investigation gives."""
    bundle = load_bundle(path)
    result = investigate(bundle.event, bundle_toolkit(bundle, get_settings(), knowledge=None, memory=None),
                         source="cli")
    causes = [(c.service, c.fault, c.confidence) for c in result.verdict.root_causes]
    return causes, sorted((f.id, f.score) for f in result.findings)


def test_repeated_rows_are_one_sample_and_conflicting_ones_their_mean(tmp_path):
    csv = tmp_path / "metrics.csv"
    csv.write_text("timestamp,metric,service,value\n"
                   "60,m,a,0.1\n0,m,a,0.3\n60,m,a,0.1\n60,m,a,0.1\n0,m,a,0.5\n120,m,a,7\n")
    (series,), errors = read_metrics(csv, "metrics.csv")
    assert not errors
    assert series.timestamps.tolist() == [0, 60, 120]
    assert series.values.tolist() == [0.4, 0.1, 7.0]  # 0.1 three times is exactly 0.1


def test_a_prometheus_series_with_repeated_timestamps_is_merged_too():
    series = make_series("m", {"service": "a"}, [(60, 2.0), (0, 1.0), (60, 2.0), (60, 5.0)])
    assert series.timestamps.tolist() == [0, 60] and series.values.tolist() == [1.0, 3.0]
    assert np.array_equal(make_series("m", {}, [(0, 1.0), (60, 2.0)]).values, [1.0, 2.0])


@pytest.mark.parametrize("scenario", ["rca-noisy-alert", "release-bad-config"])  # both changed when doubled
def test_a_bundle_with_every_row_twice_gives_the_same_answer(tmp_path, scenario):
    assert _answer(_doubled(SCENARIOS / scenario, tmp_path / "doubled")) == _answer(SCENARIOS / scenario)


@needs(NEZHA_CASE)
def test_a_real_case_with_every_row_twice_gives_the_same_ranking(tmp_path):
    assert _answer(_doubled(NEZHA_CASE, tmp_path / "doubled")) == _answer(NEZHA_CASE)
