"""What the real sets' answers lean on: each set answered again with one kind of evidence taken away.

Every bundle of each set (``--sets``, default every set in ``--data``) is answered offline, as ``bianque eval``
does, as given and then:

- **no logs** (sets with logs): ``logs.jsonl`` left out, metrics only;
- **no trace ids** (sets with logs): every line's ``trace_id`` field dropped and hexadecimal ids of 16 or more
  digits in its text masked, so nothing ties a line to a request;
- **no level field** (sets with logs): every line's ``level`` field dropped, as a shipper that keeps only the raw
  line (container stdout) gives; the level then comes from the line's text, where it names one;
- **errors as access logs** (sets with logs): every ERROR / FATAL line written as its service's access-log line
  of a failed request (``"GET /<service>/api HTTP/1.1" 503``, level INFO, the trace id kept, the error's own text
  gone), as a system whose only request logs are its web server's or its mesh proxy's gives;
- **30 % fewer requests** (sets with logs): the lines of a fixed 30 % of the traces dropped (each trace kept or
  dropped whole, by a hash of its id; a line with no trace id by a hash of its text), as a system with less
  traffic logs;
- **30 % of lines lost** (sets with logs): each line dropped on its own (by a hash of its position and text), as
  a log pipeline that sheds lines under pressure leaves traces with holes;
- **15 min before the alert** (RCA sets): metrics and logs cut to the 15 minutes before the event time (and what
  follows it): a short history, as an export that keeps little before an incident gives;
- **no earlier incident in the look-back** (RCA sets): metric samples from 10 to 3 minutes before the event time
  left out. The alert looks back 10 minutes for where the incident began; nezha-ob's incidents come 8–9 minutes
  apart, most after one on the same service, so that look-back holds the previous incident's tail, which ranks
  the service on evidence of another fault. Left out, what the look-back holds is the alerted fault's own
  (both Nezha sets alert two minutes after the fault); the first incident of a recording, whose data begins at
  its fault, is then left without a reference and cannot be judged;
- **1 day of history** (inspection sets): metrics cut to one day before the inspected window (the generic
  inspection reads two).

Strict scoring as ``real_sets.py``: top-1 / top-3 for RCA sets, recall / false alarms for inspection sets.

Usage::

    .venv/bin/python benchmarks/ablations.py [--data DIR] [--sets nezha-tt-dev,nab-dev] [--limit N] [--json]
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

from common import (
    BenchResult,
    all_sets_parser,
    bench_settings,
    chosen_sets,
    emit,
    linked_copy,
    open_knowledge_if,
    pct,
    rewrite_metrics,
)
from real_sets import measured, run_set
from rich.table import Table

from agent.bundles.data_files import locate, open_text
from agent.bundles.event_file import read_event
from agent.detectors.trace_ids import trace_id_in_text
from agent.eval.runner import find_bundles
from agent.events import Event
from agent.timeparse import to_epoch

METRIC_FILES = ("metrics.csv", "metrics.csv.gz")
LOG_FILES = ("logs.jsonl", "logs.jsonl.gz")
SHORT_HISTORY_S = 15 * 60
EARLIER_INCIDENT_SPAN_S = (10 * 60, 3 * 60)  # metric samples this long before the event time are left out
INSPECTION_HISTORY_S = 86400
LOST_SHARE = 0.3  # of the requests, or of the lines
_HEX_ID = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{16,}(?![0-9A-Za-z])")

Ablation = Callable[[Path, Path], Path]


def _event(bundle: Path) -> Event:
    """The bundle's event alone (its data files are not parsed)."""
    event, errors = read_event(bundle / "event.yaml", str(bundle / "event.yaml"))
    if event is None:
        raise SystemExit("; ".join(map(str, errors)))  # each names the file by its path
    return event


def _write_metrics(bundle: Path, out: Path, keep: Callable[[float], bool]) -> None:
    rewrite_metrics(bundle, out, lambda rows: (row for row in rows if keep(to_epoch(row["timestamp"]))))


def _write_logs(source: Path, out: Path, edit: Callable[[dict], dict | None]) -> None:
    with open_text(source) as src, (out / "logs.jsonl").open("w") as dst:
        for line in src:
            if line.strip() and (record := edit(json.loads(line))) is not None:
                dst.write(json.dumps(record) + "\n")


def without_logs(bundle: Path, root: Path) -> Path:
    """The bundle with its logs left out."""
    return linked_copy(bundle, root, leave_out=LOG_FILES)


def without_trace_ids(bundle: Path, root: Path) -> Path:
    """The bundle's log lines with no ``trace_id`` field and hexadecimal ids in their text masked."""
    copy = linked_copy(bundle, root, leave_out=LOG_FILES)
    if (logs := locate(bundle, "logs.jsonl")[0]) is not None:
        def strip(record: dict) -> dict:
            record.pop("trace_id", None)
            return {**record, "message": _HEX_ID.sub("<id>", str(record.get("message", "")))}
        _write_logs(logs, copy, strip)
    return copy


def without_levels(bundle: Path, root: Path) -> Path:
    """The bundle's log lines with no ``level`` field (the text of each line kept as it is)."""
    copy = linked_copy(bundle, root, leave_out=LOG_FILES)
    if (logs := locate(bundle, "logs.jsonl")[0]) is not None:
        _write_logs(logs, copy, lambda record: {k: v for k, v in record.items() if k != "level"})
    return copy


def errors_as_access_logs(bundle: Path, root: Path) -> Path:
    """The bundle's ERROR and FATAL lines written as their service's access-log lines of a failed request (a
    503 status, level INFO as shippers give access logs, the request's trace id kept), every other line as it is."""
    copy = linked_copy(bundle, root, leave_out=LOG_FILES)
    if (logs := locate(bundle, "logs.jsonl")[0]) is not None:
        def as_access_line(record: dict) -> dict:
            if str(record.get("level", "")).upper() not in ("ERROR", "FATAL"):
                return record
            trace = record.get("trace_id") or trace_id_in_text(str(record.get("message", "")))
            message = f'10.0.0.7 - - "GET /{record.get("service", "")}/api HTTP/1.1" 503 0 "-" "client"'
            return {**record, "level": "INFO", "message": f"{message} trace={trace}" if trace else message}
        _write_logs(logs, copy, as_access_line)
    return copy


def _kept(key: str) -> bool:
    """Deterministically keep ``1 - LOST_SHARE`` of the keys (crc32 of the key: the same answer every run)."""
    return zlib.crc32(key.encode()) / 2**32 >= LOST_SHARE


def _logs_thinned(bundle: Path, root: Path, key: Callable[[int, dict], str]) -> Path:
    """The bundle with only the log lines whose ``key(position, record)`` is kept (``_kept``)."""
    copy = linked_copy(bundle, root, leave_out=LOG_FILES)
    if (logs := locate(bundle, "logs.jsonl")[0]) is not None:
        positions = iter(range(1 << 62))
        _write_logs(logs, copy, lambda record: record if _kept(key(next(positions), record)) else None)
    return copy


def fewer_requests(bundle: Path, root: Path) -> Path:
    """The bundle's logs without the lines of ``LOST_SHARE`` of its traces (each trace kept or dropped whole)."""
    def key(position: int, record: dict) -> str:
        message = str(record.get("message", ""))
        trace = record.get("trace_id") or trace_id_in_text(message)
        return f"trace {trace}" if trace else f"line {record.get('ts')} {message}"
    return _logs_thinned(bundle, root, key)


def lines_lost(bundle: Path, root: Path) -> Path:
    """The bundle's logs with ``LOST_SHARE`` of the lines dropped one by one, whatever trace they belong to."""
    return _logs_thinned(bundle, root, lambda position, record: f"{position} {record.get('message', '')}")


def _history_cut(bundle: Path, root: Path, keep_from: float) -> Path:
    """The bundle with metric rows and log lines before ``keep_from`` dropped."""
    copy = linked_copy(bundle, root, leave_out=(*METRIC_FILES, *LOG_FILES))
    _write_metrics(bundle, copy, lambda ts: ts >= keep_from)
    if (logs := locate(bundle, "logs.jsonl")[0]) is not None:
        _write_logs(logs, copy, lambda record: record if to_epoch(record["ts"]) >= keep_from else None)
    return copy


def short_history(bundle: Path, root: Path) -> Path:
    """The bundle cut to ``SHORT_HISTORY_S`` before its event time."""
    return _history_cut(bundle, root, _event(bundle).time - SHORT_HISTORY_S)


def without_earlier_incident(bundle: Path, root: Path) -> Path:
    """The bundle with its metric samples from 10 to 3 minutes before the event time left out."""
    copy = linked_copy(bundle, root, leave_out=METRIC_FILES)
    time = _event(bundle).time
    first, last = time - EARLIER_INCIDENT_SPAN_S[0], time - EARLIER_INCIDENT_SPAN_S[1]
    _write_metrics(bundle, copy, lambda ts: not first <= ts < last)
    return copy


def one_day_of_history(bundle: Path, root: Path) -> Path:
    """An inspection bundle cut to ``INSPECTION_HISTORY_S`` before its inspected window."""
    event = _event(bundle)
    window = event.scope.window if event.scope and event.scope.window else 0.0
    return _history_cut(bundle, root, event.time - window - INSPECTION_HISTORY_S)


def ablations_for(bundles: list[Path]) -> dict[str, Ablation]:
    """The ablations that apply to a set, judged by its first bundle (pattern, logs present)."""
    first = bundles[0]
    rca = _event(first).pattern.value == "rca"
    found: dict[str, Ablation] = {}
    if (logs := locate(first, "logs.jsonl")[0]) is not None and logs.stat().st_size > 0:
        found |= {"no logs": without_logs, "no trace ids": without_trace_ids, "no level field": without_levels,
                  "errors as access logs": errors_as_access_logs, "30 % fewer requests": fewer_requests,
                  "30 % of log lines lost": lines_lost}
    if rca:
        found |= {"15 min before the alert": short_history,
                  "no earlier incident in the look-back": without_earlier_incident}
    else:
        found["1 day of history"] = one_day_of_history
    return found


def summary(values: dict[str, float | None], rca: bool) -> str:
    if rca:
        return f"{pct(values['top-1'])} / {pct(values['top-3'])}"
    return f"{pct(values['recall'])} / {pct(values['false alarms'])}"


def main(argv: list[str] | None = None) -> BenchResult:
    args = all_sets_parser(__doc__.splitlines()[0]).parse_args(argv)
    names = [path.name for path in chosen_sets(args)]
    rows: dict[str, dict[str, str]] = {}
    data: dict[str, dict[str, dict[str, float | None]]] = {}
    with bench_settings(args.home) as settings, tempfile.TemporaryDirectory(prefix="bianque-ablate-") as scratch:
        knowledge = open_knowledge_if(settings, not args.no_knowledge)
        for name in names:
            path = args.data / name
            bundles = find_bundles(path)[: args.limit]
            rca = _event(bundles[0]).pattern.value == "rca"
            variants = {"as given": None, **ablations_for(bundles)}
            for label, ablate in variants.items():
                target = path
                if ablate is not None:
                    target = Path(scratch) / label.replace(" ", "-") / name
                    for bundle in bundles:
                        ablate(bundle, target)
                outcomes, cases = run_set(target, args.limit, settings, knowledge, Path(scratch) / "runs")
                values = measured(name, outcomes, cases)
                data.setdefault(name, {})[label] = values
                rows.setdefault(label, {})[name] = summary(values, rca)
    table = Table(title="What the answers lean on: strict top-1 / top-3 (RCA) or recall / false alarms "
                        "(inspection), each set with one kind of evidence taken away")
    table.add_column("variant")
    for name in names:
        table.add_column(name, justify="right")
    for label, by_set in rows.items():
        table.add_row(label, *(by_set.get(name, "—") for name in names))
    return BenchResult(tables={"ablations": table}, data={"sets": data})


if __name__ == "__main__":
    result = main(sys.argv[1:])
    emit(result, "--json" in sys.argv)
