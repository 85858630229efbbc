"""metrics.csv rows: value cells read float-first, a series' key cells looked up as written."""

from __future__ import annotations

import math

import pytest

from agent.bundles.metrics_file import _value, read_metrics


@pytest.mark.parametrize(("cell", "expected"), [
    ("2.5", 2.5), (" 2.5 ", 2.5), ("-1e3", -1000.0), ("inf", math.inf),
    ("", None), ("  ", None), ("NaN", None), (" nan ", None), ("NULL", None), ("n/a", None), ("#N/A", None),
])
def test_a_value_cell_is_a_number_or_no_sample(cell, expected):
    assert _value(cell) == expected


def test_a_nan_spelt_otherwise_is_a_sample_and_a_word_is_an_error():
    assert math.isnan(_value("-nan"))  # not one of the missing-value words: read, then dropped as NaN
    assert _value("fast") == "not a number ('fast')"


def test_key_cells_written_differently_share_their_series_and_names_are_checked_once(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("timestamp,metric,service,value\n60,cpu,a,\n60, cpu ,a,1\n120,cpu,a ,2\n180, cpu ,a,x\n"
                    "240,cpu,a,4\n300, ,a,5\n", encoding="utf-8")
    series, errors = read_metrics(path, "case/metrics.csv")
    assert [(s.metric, s.service, s.timestamps.tolist(), s.values.tolist()) for s in series] == [
        ("cpu", "a", [60.0, 120.0, 240.0], [1.0, 2.0, 4.0])]
    assert [(e.line, e.field) for e in errors] == [(5, "value"), (7, "metric")]
