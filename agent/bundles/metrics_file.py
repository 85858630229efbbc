"""Read and check ``metrics.csv`` (or ``metrics.csv.gz``): long format, one sample a row."""

from __future__ import annotations

import csv
from array import array
from operator import itemgetter
from pathlib import Path

import numpy as np

from agent.bundles.data_files import READ_ERRORS, FileLimits, open_text, read_error
from agent.bundles.errors import BundleError, ErrorLog
from agent.names import name_problem
from agent.series import Series, merge_repeats
from agent.timeparse import NotSecondsError, to_epoch

REQUIRED_COLUMNS = ("timestamp", "metric", "service", "value")
MISSING_VALUES = frozenset({"", "nan", "null", "none", "na", "n/a", "#n/a"})
"""``value`` cells that mean "no sample" (what pandas, R and JSON exporters write for one): the row is skipped."""

_Key = tuple[str, str, tuple[str, ...]]


def read_metrics(path: Path, label: str) -> tuple[list[Series], list[BundleError]]:
    """Series grouped by metric and labels (absent, empty or blank file: none), and every problem found."""
    log = ErrorLog(label)
    if not path.is_file():
        return [], []
    try:
        with open_text(path, newline="", limits=FileLimits.for_metrics()) as fh:
            groups, extra = _read_rows(csv.reader(fh), log)
    except (*READ_ERRORS, csv.Error) as exc:
        log.add(read_error(exc))
        return [], log.result()
    return _to_series(groups, extra), log.result()


def _read_rows(reader: csv.Reader, log: ErrorLog) -> tuple[dict[_Key, tuple[array, array]], list[str]]:
    header = next((row for row in reader if any(cell.strip() for cell in row)), None)
    if header is None:  # an empty (or blank) file holds no samples, as a header alone does
        return {}, []
    header = [h.strip() for h in header]
    header = [h.lower() if h.lower() in REQUIRED_COLUMNS else h for h in header]  # `Timestamp,Metric,...` too
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    duplicated = sorted({h for h in header if h and header.count(h) > 1})
    if missing:
        log.add(f"missing column(s) {', '.join(missing)} (need timestamp,metric,service,value)", 1, "header")
    if duplicated:
        log.add(f"duplicated column(s) {', '.join(duplicated)}", 1, "header")
    if missing or duplicated:
        return {}, []
    i_ts, i_metric, i_service, i_value = (header.index(c) for c in REQUIRED_COLUMNS)
    extra = [(i, h) for i, h in enumerate(header) if h and h not in REQUIRED_COLUMNS]
    extra_idx = [i for i, _ in extra]
    width = len(header)
    groups: dict[_Key, tuple[array, array]] = {}
    epochs: dict[str, float | str] = {}
    raw_key = itemgetter(i_metric, i_service, *extra_idx)  # a row's key cells as written, a tuple
    known: dict[tuple[str, ...], tuple[array, array]] = {}  # key cells as written -> their series' bucket
    for row in reader:
        if not row:
            continue
        if len(row) != width:
            log.add(f"row has {len(row)} cells, the header has {width}", reader.line_num)
            continue
        text = row[i_ts]
        ts = epochs.get(text)
        if ts is None:
            ts = epochs[text] = _epoch(text)
        if isinstance(ts, str):
            log.add(ts, reader.line_num, "timestamp")
            continue
        cells = raw_key(row)
        bucket = known.get(cells)  # a series already holding samples: its names were checked then
        if bucket is None and not row[i_metric].strip():
            log.add("empty (every row needs a metric name)", reader.line_num, "metric")
            continue
        value = _value(row[i_value])
        if value is None:
            continue
        if isinstance(value, str):
            log.add(value, reader.line_num, "value")
            continue
        if bucket is None:
            key = (row[i_metric].strip(), row[i_service].strip(), tuple(row[i] for i in extra_idx))
            bucket = groups.get(key)
            if bucket is None:
                if not _names_ok(key, log, reader.line_num):
                    continue
                bucket = groups[key] = (array("d"), array("d"))
            known[cells] = bucket
        bucket[0].append(ts)
        bucket[1].append(value)
    return groups, [h for _, h in extra]


def _value(cell: str) -> float | str | None:
    """A value cell's number; None for a cell meaning "no sample" (``MISSING_VALUES``, any case, spaces
    around); what is wrong with any other cell. ``float`` first: it takes the spaces itself, and only a cell it
    refuses or reads as NaN can be one of those words."""
    try:
        value = float(cell)
    except ValueError:
        return None if cell.strip().lower() in MISSING_VALUES else f"not a number ({cell!r})"
    if value != value and cell.strip().lower() in MISSING_VALUES:
        return None
    return value


def _names_ok(key: _Key, log: ErrorLog, line: int) -> bool:
    """True when the metric and service names of a new series hold no control characters."""
    for field, name in (("metric", key[0]), ("service", key[1])):
        problem = name_problem(name)
        if problem:
            log.add(problem, line, field)
            return False
    return True


def _epoch(text: str) -> float | str:
    """Unix seconds from a timestamp cell, or what is wrong with it."""
    try:
        return to_epoch(text)
    except NotSecondsError as exc:
        return str(exc)
    except ValueError:
        return f"not a Unix or RFC 3339 timestamp ({text!r})"


def _to_series(groups: dict[_Key, tuple[array, array]], extra: list[str]) -> list[Series]:
    out = []
    for (metric, service, tail), (ts_list, value_list) in groups.items():
        labels = {"service": service} if service else {}
        labels.update((name, v.strip()) for name, v in zip(extra, tail, strict=True) if v.strip())
        ts = np.frombuffer(ts_list, dtype=float)
        vs = np.frombuffer(value_list, dtype=float)
        order = np.argsort(ts, kind="stable")
        ts, vs = ts[order], vs[order]
        keep = np.isfinite(vs)  # NaN, or an infinity (a rate divided by zero): no sample
        ts, vs = merge_repeats(ts[keep], vs[keep])  # rows repeated by overlapping exports: one sample
        out.append(Series(metric=metric, labels=labels, timestamps=ts, values=vs))
    return out
