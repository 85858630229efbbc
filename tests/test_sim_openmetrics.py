"""OpenMetrics output of the simulator: well-formed for promtool backfill."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from agent.series import Series
from agent.sim.openmetrics import escape_label, render_openmetrics, write_openmetrics
from agent.sim.scenario import build_scenario

SAMPLE = re.compile(r'^([a-z_][a-z0-9_]*)(\{[^}]*\})? (-?[0-9.e+-]+|NaN) ([0-9]{10})$')


def test_families_are_grouped_typed_and_terminated():
    series = [
        Series("b_metric", {"service": "x"}, np.array([120.0, 60.0]), np.array([2.0, 1.5])),
        Series("a_metric", {"service": "x", "note": 'say "hi"\\'}, np.array([60.0]), np.array([0.25])),
        Series("b_metric", {"service": "y"}, np.array([60.0]), np.array([3.0])),
    ]
    lines = list(render_openmetrics(series))
    assert lines[-1] == "# EOF" and lines.count("# EOF") == 1
    assert lines[:2] == ["# HELP a_metric a metric", "# TYPE a_metric gauge"]
    assert lines[2] == 'a_metric{note="say \\"hi\\"\\\\",service="x"} 0.25 60'
    names = [line.split("{")[0] for line in lines if not line.startswith("#")]
    assert names == ["a_metric", "b_metric", "b_metric", "b_metric"]  # one contiguous block per family
    assert lines[5:8] == ['b_metric{service="x"} 1.5 60', 'b_metric{service="x"} 2 120', 'b_metric{service="y"} 3 60']


def test_escape_label_handles_newlines():
    assert escape_label("a\nb") == "a\\nb"


def test_scenario_exposition_is_parseable_line_by_line(tmp_path):
    scenario = build_scenario("release_interception", "bad_release", 2)
    path = write_openmetrics(tmp_path / "sub" / "metrics.om", scenario.series)
    lines = path.read_text().splitlines()
    typed = [line.split()[2] for line in lines if line.startswith("# TYPE")]
    assert len(typed) == len(set(typed)) and all(line.endswith(" gauge") for line in lines if "# TYPE" in line)
    samples = [line for line in lines if not line.startswith("#")]
    assert len(samples) == sum(len(s) for s in scenario.series)
    bad = [line for line in samples if not SAMPLE.match(line)]
    assert not bad, bad[:3]
    assert any('version="' in line for line in samples)  # the canary's version label survives


# make test installs promtool (Debian prometheus); under CI=true its absence is a failure, not a skip
needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None and not os.environ.get("CI"),
                                    reason="promtool not installed")


@needs_promtool
def test_promtool_backfills_a_scenario(tmp_path):
    scenario = build_scenario("rca", "slow_dependency", 4)
    source = write_openmetrics(tmp_path / "metrics.om", scenario.series)
    out = tmp_path / "tsdb"
    result = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(source), str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    blocks = [p for p in out.iterdir() if (p / "meta.json").is_file()]
    assert len(blocks) >= 3  # the current window and the two history windows land in separate blocks


@needs_promtool
def test_promtool_rejects_a_broken_exposition(tmp_path):
    """Guards the test above: promtool does fail on bad input, so its success means something."""
    source = tmp_path / "bad.om"
    source.write_text("# TYPE x gauge\nx{service=\"a\"} notanumber 60\n# EOF\n")
    result = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(source),
                             str(tmp_path / "tsdb")], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
