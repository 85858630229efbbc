"""History detector: now vs the same window 1 day / 7 days earlier."""

from __future__ import annotations

import numpy as np
import pytest

from agent.detectors import detect_history, detect_onset
from agent.events import Event, InspectionScope, Pattern
from agent.findings import FindingKind
from agent.graph.analysis import analyze_gathered, signals_without_history
from agent.series import Series
from agent.skills.library import load_library

T0 = 1772445600.0  # 2026-03-02T10:00:00Z, "now" window is T0 .. T0 + 1 h
DAY, WEEK = 86400.0, 604800.0
WINDOW = 60


def daily(t: np.ndarray, seed: int) -> np.ndarray:
    """Requests with a strong daily cycle (steep morning rise to a peak at 11:00) and noise."""
    hours = (t % DAY) / 3600.0
    cycle = 1000.0 + 800.0 * np.exp(-(((hours - 11.0) / 0.6) ** 2))
    return cycle + np.random.default_rng(seed).normal(0.0, 20.0, t.size)


def with_history(now_values: np.ndarray | None = None, seed: int = 1, offsets=(DAY, WEEK)) -> Series:
    """The current hour plus the same hour at each offset; the cycle is identical every day."""
    parts_t, parts_v = [], []
    for k, offset in enumerate(sorted(offsets, reverse=True)):
        t = T0 - offset + 60.0 * np.arange(WINDOW)
        parts_t.append(t)
        parts_v.append(daily(t, seed + k + 1))
    t_now = T0 + 60.0 * np.arange(WINDOW)
    parts_t.append(t_now)
    parts_v.append(daily(t_now, seed) if now_values is None else now_values)
    return Series("requests_per_second", {"service": "gateway"}, np.concatenate(parts_t), np.concatenate(parts_v))


def run(series: Series, **kw):
    kw.setdefault("offsets", (DAY, WEEK))
    return detect_history([series], start=T0, end=T0 + WINDOW * 60, **kw)


def now_times() -> np.ndarray:
    return T0 + 60.0 * np.arange(WINDOW)


def test_daily_peak_seen_yesterday_and_last_week_is_no_anomaly():
    series = with_history()
    # within the hour alone the rise looks like an anomaly ...
    assert detect_onset([series], start=T0, end=T0 + WINDOW * 60, direction="up")
    # ... but yesterday and last week rose the same way
    assert run(series) == []
    assert run(series, direction="both") == []


def test_elevated_against_both_offsets_fires():
    values = daily(now_times(), 2)
    values[35:] *= 1.6
    [finding] = run(with_history(values))
    assert finding.kind == FindingKind.HISTORY_DEVIATION and finding.direction == "up"
    assert finding.numbers["rel_change_1d"] == pytest.approx(0.6, abs=0.1)
    assert finding.numbers["rel_change_7d"] == pytest.approx(0.6, abs=0.1)
    assert finding.onset == T0 + 35 * 60
    assert "1d ago" in finding.summary and "7d ago" in finding.summary
    assert finding.score > 0.5


def test_a_drop_only_fires_for_down_or_both():
    values = daily(now_times(), 3)
    values[30:] *= 0.5
    series = with_history(values)
    assert run(series) == []
    [finding] = run(series, direction="both")
    assert finding.direction == "down" and finding.numbers["rel_change_1d"] < -0.3


def test_like_last_week_but_unlike_yesterday_is_no_anomaly():
    """A weekly pattern: yesterday was quieter, last week had the same level; it must beat every offset."""
    t_now = now_times()
    t_day, t_week = t_now - DAY, t_now - WEEK
    rng = np.random.default_rng(4)
    values = np.concatenate([
        1500 + rng.normal(0, 20, WINDOW), 1000 + rng.normal(0, 20, WINDOW), 1500 + rng.normal(0, 20, WINDOW),
    ])
    series = Series("requests_per_second", {"service": "gateway"}, np.concatenate([t_week, t_day, t_now]), values)
    assert run(series) == []
    assert len(run(series, offsets=(DAY,))) == 1


@pytest.mark.parametrize("positions", [[50], [50, 51], [WINDOW - 1], [WINDOW - 2, WINDOW - 1]])
def test_spikes_and_last_point_blips_are_ignored(positions):
    values = daily(now_times(), 5)
    values[positions] *= 3.0
    assert run(with_history(values)) == []


def test_no_history_means_no_judgement():
    values = daily(now_times(), 6) * 2.0
    only_now = Series("requests_per_second", {"service": "gateway"}, now_times(), values)
    assert run(only_now) == []


def test_noisy_history_raises_the_bar():
    rng = np.random.default_rng(7)
    t_now, t_day = now_times(), now_times() - DAY
    history = 100 + rng.normal(0, 30, WINDOW)  # very noisy yesterday
    now = 100 + rng.normal(0, 30, WINDOW)
    now[40:] += 25  # +25 %, within the noise band of +-3 x 30 x sqrt(2)
    series = Series("requests_per_second", {"service": "gateway"}, np.concatenate([t_day, t_now]),
                    np.concatenate([history, now]))
    assert run(series, offsets=(DAY,)) == []


HISTORY_SKILL = """\
name: daily-inspection
version: 1
description: A series against the same hours a day before, judged after a reference of two days.
pattern: inspection
scope:
  services: ["*"]
window:
  lookback: 2h
  reference: 2d
data:
  metrics:
    - id: requests
      name: requests
      labels: {service: "{service}"}
      compare: history
      direction: down
      min_effect: 0.2
decision:
  rules:
    - if: {signals: [requests], min_score: 0.5}
      then: warning
      reason: requests unlike the same hours a day before
  default: info
"""


def test_an_inspection_with_a_reference_judges_its_window_against_the_day_before(tmp_path):
    """With ``reference: 2d`` the gathered data begins two days before the inspected window; the history
    comparison must still judge the window itself (its daily peak missing), not the whole span from the
    reference's start, for which no day-before data exists."""
    (tmp_path / "daily-inspection.yaml").write_text(HISTORY_SKILL, encoding="utf-8")
    skill = load_library([tmp_path]).get("daily-inspection").skill
    end = T0 + 1.5 * 3600  # the window 09:30-11:30 holds the daily peak at 11:00
    t = np.arange(end - 2 * 3600 - 2 * DAY, end + 1, 300.0)
    values = daily(t, seed=3)
    window_points = t >= end - 2 * 3600
    values[window_points] = 1000.0 + np.random.default_rng(4).normal(0.0, 20.0, int(window_points.sum()))
    gathered = {"series": [{"signal": "requests", "service": "api", "role": "target", "period": "current",
                            "metric": "requests", "labels": {"service": "api"}, "t": t.tolist(),
                            "v": values.tolist(), "source": "test"}], "logs": [], "changes": []}
    event = Event(pattern=Pattern.INSPECTION, time=end, scope=InspectionScope(services=["api"]))
    window = {"start": float(t[0]), "end": end, "anchor": end, "reference_end": end - 2 * 3600}
    findings = analyze_gathered(skill, event, gathered, ["api"], window)
    (found,) = [f for f in findings if f.kind == FindingKind.HISTORY_DEVIATION]
    assert found.direction == "down" and found.numbers["rel_change_1d"] < -0.2
    assert found.window_start == end - 2 * 3600  # the inspected window, not the reference's start


def _requests(service: str, t: np.ndarray, values: np.ndarray) -> dict:
    return {"signal": "requests", "service": service, "role": "target", "period": "current", "metric": "requests",
            "labels": {"service": service}, "t": t.tolist(), "v": values.tolist(), "source": "test"}


def test_a_history_signal_with_no_past_at_all_is_judged_against_the_window(tmp_path):
    """A source keeping two hours of data has no day before: the history comparison cannot run, so a fall in
    the window is judged against the window's first half (and the report says so) instead of going unseen."""
    (tmp_path / "daily-inspection.yaml").write_text(HISTORY_SKILL, encoding="utf-8")
    skill = load_library([tmp_path]).get("daily-inspection").skill.model_copy(deep=True)
    skill.window.reference = None
    end = T0 + 2 * 3600
    t = np.arange(end - 2 * 3600, end + 1, 60.0)
    rng = np.random.default_rng(6)
    fallen = 1000.0 + rng.normal(0.0, 10.0, t.size)
    fallen[t >= end - 40 * 60] -= 500.0
    gathered = {"series": [_requests("api", t, fallen)], "logs": [], "changes": []}
    event = Event(pattern=Pattern.INSPECTION, time=end, scope=InspectionScope(services=["api"], window=7200))
    window = {"start": float(t[0]), "end": end, "anchor": end}
    findings = analyze_gathered(skill, event, gathered, ["api"], window)
    assert any(f.service == "api" and f.direction == "down" and f.score >= 0.5 for f in findings)
    assert signals_without_history(skill, gathered, window) == ["requests"]


def test_new_instances_beside_services_with_history_are_not_judged_without_it(tmp_path):
    """Only a source with no past at all falls back: a service whose series all began today (new instances after
    a redeploy) beside services with a day of history is left to the history comparison, as before."""
    (tmp_path / "daily-inspection.yaml").write_text(HISTORY_SKILL, encoding="utf-8")
    skill = load_library([tmp_path]).get("daily-inspection").skill.model_copy(deep=True)
    skill.window.reference = None
    end = T0 + 2 * 3600
    long_t = np.arange(end - DAY - 2 * 3600, end + 1, 300.0)
    short_t = np.arange(end - 2 * 3600, end + 1, 60.0)
    fallen = 1000.0 + np.random.default_rng(7).normal(0.0, 10.0, short_t.size)
    fallen[short_t >= end - 40 * 60] -= 500.0
    gathered = {"series": [_requests("api", long_t, daily(long_t, seed=8)), _requests("new", short_t, fallen)],
                "logs": [], "changes": []}
    event = Event(pattern=Pattern.INSPECTION, time=end, scope=InspectionScope(services=["api", "new"], window=7200))
    window = {"start": end - 2 * 3600, "end": end, "anchor": end}  # the day before comes with the series
    findings = analyze_gathered(skill, event, gathered, ["api", "new"], window)
    assert not any(f.service == "new" for f in findings)
    assert signals_without_history(skill, gathered, window) == []
