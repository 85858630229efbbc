"""A live investigation's data kept as a case bundle, so that a corrected live case can be replayed.

The gather step's answer (``state["gathered"]``: the series, log lines and changes the Skill's queries read) is
written with :func:`agent.bundles.writer.write_bundle`; the case then names it as its bundle, and the replay gate of
a Skill refinement investigates it as it does any bundle (docs/evolution.md, "Live cases"), with what the run read
beside its data (``capture.yaml``) so that it answers as the live run did.
"""

from __future__ import annotations

import gzip
import os
import shutil
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from agent.bundles.capture import capture_of
from agent.bundles.writer import METRIC_COLUMNS, write_bundle
from agent.series import ChangeRecord, LogRecord, Series, make_series
from agent.topology import Topology


def captured_series(items: Iterable[Mapping[str, Any]]) -> list[Series]:
    """One series per metric and labels, the samples of every signal and period that read it joined; a label named as
    a metrics.csv column (``metric``, ``timestamp``, ``value``) kept as ``exported_<name>``, as Prometheus renames a
    label that clashes with its own (the file would repeat the column, and no reader takes that)."""
    points: dict[tuple[str, tuple[tuple[str, str], ...]], dict[float, float]] = {}
    for item in items:
        labels = ((f"exported_{k}" if k in CLASHING else k, str(v)) for k, v in item["labels"].items())
        key = (str(item["metric"]), tuple(sorted(labels)))
        points.setdefault(key, {}).update(zip(map(float, item["t"]), map(float, item["v"]), strict=True))
    return [make_series(metric, dict(labels), sorted(samples.items())) for (metric, labels), samples in points.items()]


CLASHING = frozenset(METRIC_COLUMNS) - {"service"}  # metrics.csv's own columns: ``service`` is the series' service


def captured_logs(items: Iterable[Mapping[str, Any]]) -> list[LogRecord]:
    """The log lines read, in time order: a line as often as the query that read it most often read it (two of the
    Skill's queries reading one line: once; a line logged twice in one second: twice, as the run counted it)."""
    counted: dict[Any, Counter[tuple[Any, ...]]] = {}
    for item in items:
        line = (float(item["ts"]), item["service"], item["level"], item["message"], item.get("instance"),
                item.get("trace_id"))
        counted.setdefault(item.get("query"), Counter())[line] += 1
    most: Counter[tuple[Any, ...]] = Counter()
    for lines in counted.values():
        most |= lines  # the larger count of each line
    return sorted((LogRecord(ts=ts, service=service, level=level, message=message, instance=instance,
                             trace_id=trace_id)
                   for (ts, service, level, message, instance, trace_id), n in most.items() for _ in range(n)),
                  key=lambda r: r.ts)


def captured_changes(items: Iterable[Mapping[str, Any]]) -> list[ChangeRecord]:
    """The change records read, each once."""
    seen: dict[str, ChangeRecord] = {}
    for item in items:
        seen.setdefault(str(item["id"]), ChangeRecord(
            ts=float(item["ts"]), service=item["service"], type=item["type"], id=str(item["id"]),
            description=item.get("description") or "", version=item.get("version"),
            canary=item.get("canary"), baseline=item.get("baseline")))
    return sorted(seen.values(), key=lambda c: c.ts)


COMPRESSED = ("metrics.csv", "logs.jsonl")  # gzip-compressed once written (a minute series: a seventh of its size)


def capture_bundle(out_dir: Path, event: Mapping[str, Any], gathered: Mapping[str, Any],
                   topology: Topology | None = None) -> Path | None:
    """Write what a live investigation read as a bundle at ``out_dir`` (its data files gzip-compressed); None when it
    read nothing (no series, log line or change: there is nothing to replay). Its ``topology.yaml`` is the call graph
    the run used: the calls it read off its data (``gathered["calls_read"]``), else the given ``topology``; its
    ``capture.yaml`` what else the run read (:mod:`agent.bundles.capture`)."""
    series = captured_series(gathered.get("series", []))
    logs = captured_logs(gathered.get("logs", []))
    changes = captured_changes(gathered.get("changes", []))
    if not (series or logs or changes):
        return None
    capture = capture_of(gathered)
    read = capture.get("calls_read", {}).get("calls")
    calls = read or (topology.as_dict() if topology is not None and topology.services() else None)
    staged = out_dir.with_name(f".{out_dir.name}.staged")
    shutil.rmtree(staged, ignore_errors=True)
    try:
        write_bundle(staged, dict(event), series, logs, changes, topology=calls, capture=capture)
        for name in COMPRESSED:
            with (staged / name).open("rb") as plain, gzip.open(staged / f"{name}.gz", "wb") as packed:
                shutil.copyfileobj(plain, packed)
            (staged / name).unlink()
        shutil.rmtree(out_dir, ignore_errors=True)
        os.replace(staged, out_dir)  # whole or not at all
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return out_dir
