"""``bianque sim``: one bundle, a batch, the curated set, the fault list, and clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.bundles.label import load_label
from agent.bundles.reader import load_bundle
from agent.cli.app import app
from agent.sim.batch import combinations
from agent.sim.curated import CURATED, write_curated

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "scenarios"


def test_list_faults_names_every_kind_with_its_patterns():
    result = runner.invoke(app, ["sim", "--list-faults", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"bad_release", "bad_config", "slow_dependency", "cache_failure", "memory_leak",
                         "traffic_spike", "disk_full", "noisy_alert", "healthy"}
    assert data["memory_leak"] == ["rca", "inspection"]
    assert data["healthy"] == ["rca", "release_interception", "inspection"]
    table = runner.invoke(app, ["sim", "--list-faults"])
    assert table.exit_code == 0 and "slow_dependency" in table.output


def test_one_bundle_with_openmetrics(tmp_path):
    out, om = tmp_path / "case", tmp_path / "case.om"
    result = runner.invoke(app, ["sim", "--fault", "disk_full", "--pattern", "inspection", "--seed", "3",
                                 "--out", str(out), "--openmetrics", str(om)])
    assert result.exit_code == 0, result.output
    bundle = load_bundle(out)
    assert bundle.event.pattern.value == "inspection"
    assert load_label(out).findings[0].kind == "disk_full"
    text = om.read_text()
    assert text.startswith("# HELP") and text.endswith("# EOF\n")
    assert "disk_usage_ratio{" in text


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o755), (0o027, 0o750)])
def test_a_bundle_gets_the_mode_of_the_umask_not_owner_only(tmp_path, umask, mode):
    """``bianque sim`` wrote its bundle directory with mkdtemp's 0700: nobody else could read a bundle meant to be
    shared."""
    before = os.umask(umask)
    try:
        result = runner.invoke(app, ["sim", "--fault", "disk_full", "--pattern", "inspection", "--out",
                                     str(tmp_path / "case")])
    finally:
        os.umask(before)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "case").stat().st_mode & 0o777 == mode
    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "case").iterdir()} == {mode & 0o666}
    (tmp_path / "case").chmod(0o711)  # a mode given by hand is kept when the bundle is written again
    assert runner.invoke(app, ["sim", "--fault", "disk_full", "--pattern", "inspection", "--out",
                               str(tmp_path / "case")]).exit_code == 0
    assert (tmp_path / "case").stat().st_mode & 0o777 == 0o711


def test_unknown_fault_and_unsupported_pair_fail_with_a_message(tmp_path):
    result = runner.invoke(app, ["sim", "--fault", "meltdown", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "unknown fault 'meltdown'" in result.output
    result = runner.invoke(app, ["sim", "--fault", "traffic_spike", "--pattern", "inspection",
                                 "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "not generated for pattern 'inspection'" in result.output
    assert not (tmp_path / "x").exists()
    result = runner.invoke(app, ["sim", "--fault", "healthy"])
    assert result.exit_code == 2 and "--out" in result.output


def test_out_that_is_no_bundle_is_refused_and_left_as_it_was(tmp_path):
    """``sim --out`` replaces the bundle there: a directory of other files (``[notes]``) had been removed whole."""
    work = tmp_path / "[work]"
    work.mkdir()
    (work / "notes.txt").write_text("keep")
    result = runner.invoke(app, ["sim", "--fault", "disk_full", "--pattern", "inspection", "--out", str(work)])
    assert result.exit_code == 2
    assert f"error: {work}: exists and is no case bundle (no event.yaml)" in " ".join(result.stderr.split())
    assert [p.name for p in work.iterdir()] == ["notes.txt"]


def test_batch_writes_neutral_names_cycling_through_pairs(tmp_path):
    result = runner.invoke(app, ["sim", "batch", "--out", str(tmp_path), "--count", "3", "--seed-start", "1000",
                                 "--pattern", "release_interception"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["case-01000", "case-01001", "case-01002"]
    faults = {load_label(tmp_path / n).model_extra["sim"]["fault"] for n in names}
    assert faults == {f for _, f in combinations("release_interception")}
    bad = runner.invoke(app, ["sim", "batch", "--out", str(tmp_path), "--count", "1", "--pattern", "triage"])
    assert bad.exit_code == 2 and "unknown pattern 'triage'" in bad.output


def test_curated_set_is_reproduced_byte_for_byte(tmp_path):
    written = write_curated(tmp_path)
    assert [p.name for p in written] == [c.name for c in CURATED]
    for case in CURATED:
        ours, shipped = tmp_path / case.name, EXAMPLES / case.name
        files = sorted(p.name for p in ours.iterdir())
        assert files == sorted(p.name for p in shipped.iterdir()), case.name
        for name in files:
            assert (ours / name).read_bytes() == (shipped / name).read_bytes(), f"{case.name}/{name}"


def test_curated_cases_use_small_seeds_and_are_documented():
    readme = (EXAMPLES / "README.md").read_text()
    total = 0
    for case in CURATED:
        assert case.seed < 1000
        assert f"`{case.name}`" in readme
        total += sum(p.stat().st_size for p in (EXAMPLES / case.name).iterdir())
    assert total < 8_000_000
    assert len({(c.pattern, c.fault, c.seed, c.variant) for c in CURATED}) == len(CURATED)
