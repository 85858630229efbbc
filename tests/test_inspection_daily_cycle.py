"""A leak hunt over a system whose memory and traffic follow the day, with only 26 h of history (a 6 h look-back,
of which the day before holds the last 2 h): the daily ramp is no leak, a real leak still is."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from agent.cli.app import app

NOW = 1774411200  # 2026-03-25T04:00:00Z: traffic and memory rise through the night before
runner = CliRunner()


@pytest.fixture(autouse=True)
def no_knowledge(monkeypatch):
    monkeypatch.setattr("agent.runtime.open_knowledge", lambda settings, **kwargs: None)


def bundle(path: Path, leak: bool) -> Path:
    rng = np.random.default_rng(7)
    rows = ["timestamp,metric,service,value,instance"]
    for t in range(NOW - 26 * 3600, NOW + 1, 300):
        day = math.sin(2 * math.pi * (t % 86400) / 86400)
        grown = 4e8 * max(0, t - (NOW - 5 * 3600)) / 3600 if leak else 0.0
        rows.append(f"{t},requests_per_second,api,{100 * (1 + 0.5 * day) * (1 + rng.normal(0, 0.02)):.3f},api-0")
        rows.append(f"{t},memory_usage_bytes,api,{2e9 * (1 + 0.2 * day) + grown + rng.normal(0, 1e7):.0f},api-0")
    path.mkdir()
    (path / "metrics.csv").write_text("\n".join(rows) + "\n")
    (path / "event.yaml").write_text("pattern: inspection\ntime: '2026-03-25T04:00:00Z'\nscope:\n  services: [api]\n")
    return path


def inspect(path: Path) -> dict:
    result = runner.invoke(app, ["inspect", "--bundle", str(path), "--skill", "memory-leak-inspection", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["verdict"]


def test_a_daily_ramp_with_a_day_of_history_is_no_leak(tmp_path):
    """It had been a CRITICAL memory_leak (and a CRITICAL traffic trend): the Skill read only its 6 h."""
    verdict = inspect(bundle(tmp_path / "cycle", leak=False))
    assert verdict["overall"] == "info" and not [i for i in verdict["items"] if i["severity"] != "info"]


def test_a_leak_on_top_of_the_daily_ramp_is_still_found(tmp_path):
    verdict = inspect(bundle(tmp_path / "leak", leak=True))
    assert [(i["service"], i["kind"], i["severity"]) for i in verdict["items"] if i["severity"] != "info"] == [
        ("api", "memory_leak", "critical")]
