"""Bundles with ``metrics.csv.gz``, ``logs.jsonl.gz``, ``changes.jsonl.gz`` instead of the plain files."""

from __future__ import annotations

import dataclasses
import gzip
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.bundles.errors import BundleError
from agent.bundles.reader import load_bundle, read_bundle
from agent.bundles.validate import validate_bundle
from agent.bundles.writer import write_bundle
from agent.cli.app import app
from agent.config import PROJECT_ROOT
from agent.eval.runner import evaluate
from agent.series import ChangeRecord, LogRecord, make_series
from tests.shared_data import SHARED_DATA, needs

DATA_FILES = ("metrics.csv", "logs.jsonl", "changes.jsonl")
SCENARIO = PROJECT_ROOT / "examples" / "scenarios" / "rca-slow-dependency"
NEZHA_TT = SHARED_DATA / "nezha-tt-dev"
runner = CliRunner()


def gzip_files(case: Path, names: tuple[str, ...] = DATA_FILES) -> Path:
    """Replace each named file of ``case`` by its gzip form; returns ``case``."""
    for name in names:
        plain = case / name
        (case / f"{name}.gz").write_bytes(gzip.compress(plain.read_bytes()))
        plain.unlink()
    return case


@pytest.fixture
def plain(tmp_path) -> Path:
    series = [make_series("latency p99", {"service": "CheckoutAPI", "instance": "i-1"}, [(0, 1.5), (60, 2.5)]),
              make_series("up", {"service": "db@orders.example.com"}, [(0, 1.0)])]
    logs = [LogRecord(30.0, "CheckoutAPI", "ERROR", "timeout", instance="i-1"),
            LogRecord(31.0, "CheckoutAPI", "WARN", "slow")]
    changes = [ChangeRecord(10.0, "CheckoutAPI", "deploy", "d-1", "v2", version="v2")]
    event = {"pattern": "rca", "time": 100, "service": "CheckoutAPI"}
    return write_bundle(tmp_path / "plain", event, series, logs, changes, {"CheckoutAPI": ["db@orders.example.com"]})


@pytest.fixture
def packed(plain, tmp_path) -> Path:
    return gzip_files(shutil.copytree(plain, tmp_path / "case"))


def _content(path: Path) -> tuple:
    bundle = load_bundle(path)
    series = sorted((s.key(), s.timestamps.tolist(), s.values.tolist()) for s in bundle.series)
    return series, bundle.logs, bundle.changes, bundle.services()


def test_gz_bundle_loads_like_the_plain_one(plain, packed):
    assert sorted(p.name for p in packed.iterdir()) == [
        "changes.jsonl.gz", "event.yaml", "logs.jsonl.gz", "metrics.csv.gz", "topology.yaml"]
    assert validate_bundle(packed) == []
    content = _content(packed)
    assert content == _content(plain)
    assert len(content[0]) == 2 and len(content[1]) == 2 and len(content[2]) == 1


def test_plain_and_gz_files_may_be_mixed(plain, tmp_path):
    mixed = gzip_files(shutil.copytree(plain, tmp_path / "mixed"), ("logs.jsonl",))
    assert _content(mixed) == _content(plain)


@pytest.mark.parametrize("name", DATA_FILES)
def test_both_forms_present_is_an_error_naming_the_bundle_and_files(plain, tmp_path, name):
    case = shutil.copytree(plain, tmp_path / "case")
    (case / f"{name}.gz").write_bytes(gzip.compress((case / name).read_bytes()))
    bundle, errors = read_bundle(case)
    assert bundle is None
    assert errors == [BundleError(str(case), f"both {name} and {name}.gz are present; keep only one of them")]
    result = runner.invoke(app, ["bundle", "validate", str(case)])
    assert result.exit_code == 1
    assert f"{case}: both {name} and {name}.gz are present" in result.stderr


def _not_gzip(data: bytes) -> bytes:
    return b"timestamp,metric,service,value\n"


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _bad_crc(data: bytes) -> bytes:
    return data[:-8] + bytes([data[-8] ^ 0xFF]) + data[-7:]


@pytest.mark.parametrize("name", DATA_FILES)
@pytest.mark.parametrize("damage", [_not_gzip, _truncated, _bad_crc])
def test_corrupt_gz_is_a_clear_error_naming_the_file(packed, name, damage):
    path = packed / f"{name}.gz"
    path.write_bytes(damage(path.read_bytes()))
    bundle, errors = read_bundle(packed)
    assert bundle is None
    assert [e.file for e in errors] == [f"{packed}/{name}.gz"]
    assert errors[0].message.startswith("cannot read: corrupt gzip data")


def test_errors_in_gz_files_name_the_real_file_and_line(packed):
    logs = gzip.decompress((packed / "logs.jsonl.gz").read_bytes()).replace(b'"WARN"', b'"LOUD"')
    (packed / "logs.jsonl.gz").write_bytes(gzip.compress(logs))
    metrics = gzip.decompress((packed / "metrics.csv.gz").read_bytes()) + b"5,up,db,abc,\n"
    (packed / "metrics.csv.gz").write_bytes(gzip.compress(metrics))
    assert [str(e) for e in validate_bundle(packed)] == [
        f"{packed}/metrics.csv.gz:5: value: not a number ('abc')",
        f"{packed}/logs.jsonl.gz:2: level: must be one of DEBUG, INFO, WARN, ERROR, FATAL (any case; WARNING, TRACE, "
        "CRITICAL, ERR and other common names are read too, and the numbers of syslog, 0-7, and bunyan/pino, "
        "10-60), got 'LOUD'",
    ]


def test_ingest_reads_gz_logs_and_changes(packed, bianque_home):
    result = runner.invoke(app, ["bundle", "ingest", str(packed)])
    assert result.exit_code == 0, result.output
    assert "case: 2 log line(s), 1 change(s)" in result.stdout


def test_eval_runner_scores_a_gz_bundle_as_the_plain_one(tmp_path):
    plain = shutil.copytree(SCENARIO, tmp_path / "plain")
    packed = gzip_files(shutil.copytree(SCENARIO, tmp_path / "packed"))
    report = evaluate([plain, packed])
    assert report.errors == {}
    first, second = ({k: v for k, v in dataclasses.asdict(s).items() if k != "case"} for s in report.scores)
    assert first == second and first["passed"] and first["rank"] == 1


@needs(NEZHA_TT)
def test_real_gz_bundles_load():
    bundles = sorted(p for p in NEZHA_TT.iterdir() if (p / "event.yaml").is_file())
    assert bundles and all((p / "metrics.csv.gz").is_file() and not (p / "metrics.csv").exists() for p in bundles)
    for path in bundles:
        bundle, errors = read_bundle(path)
        assert errors == [] and bundle.series and bundle.logs, path.name
