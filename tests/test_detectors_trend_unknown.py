"""A metric of unknown meaning growing steadily is reported only when it already lies beyond anything its
reference days showed (``detect_trend(beyond_before=...)``): a daily ramp climbs to levels its reference knew,
a leak does not."""

from __future__ import annotations

import numpy as np

from agent.detectors.trend import detect_trend
from agent.series import Series

DAY = 86400.0
WINDOW = 90 * 60.0


def _series(window_values: np.ndarray, reference_values: np.ndarray | None) -> Series:
    """The same 90 minutes a day earlier (``reference_values``, if any), then the inspected 90 minutes."""
    now = DAY + 60.0 * np.arange(window_values.size)
    if reference_values is None:
        return Series("metric-007", {"service": "svc-01"}, now, window_values)
    before = 60.0 * np.arange(reference_values.size)
    return Series("metric-007", {"service": "svc-01"}, np.r_[before, now], np.r_[reference_values, window_values])


def _judge(series: Series) -> list:
    return detect_trend([series], start=DAY, end=DAY + WINDOW, min_growth=0.2, seasonal_offsets=(),
                        beyond_before=DAY)


RAMP = 1000.0 + np.linspace(0.0, 300.0, 90) + np.random.default_rng(1).normal(0.0, 5.0, 90)


def test_a_ramp_to_levels_the_reference_knew_is_not_reported():
    yesterday = 1000.0 + np.linspace(0.0, 320.0, 90)  # the same climb the day before
    assert _judge(_series(RAMP, yesterday)) == []
    assert detect_trend([_series(RAMP, yesterday)], start=DAY, end=DAY + WINDOW, min_growth=0.2,
                        seasonal_offsets=())  # without the option: reported


def test_growth_beyond_every_reference_value_is_reported():
    yesterday = np.full(90, 1000.0) + np.random.default_rng(2).normal(0.0, 5.0, 90)
    (found,) = _judge(_series(RAMP, yesterday))
    assert found.kind == "trend" and found.direction == "up"


def test_with_no_reference_at_all_the_trend_stands():
    assert len(_judge(_series(RAMP, None))) == 1
