"""Write a case bundle (see docs/bundle-format.md) atomically: a crash never leaves half a bundle."""

from __future__ import annotations

import csv
import json
import math
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from ruamel.yaml import YAML

from agent.events import Event
from agent.files import process_umask
from agent.series import ChangeRecord, LogRecord, Series

METRIC_COLUMNS = ("timestamp", "metric", "service", "value")


class NotABundleError(FileExistsError):
    """Where a bundle is to be written stands something else (a file, a symbolic link, a directory that holds no
    bundle): it is never replaced."""


def write_bundle(
    out_dir: Path,
    event: Event | dict,
    series: Iterable[Series],
    logs: Iterable[LogRecord] = (),
    changes: Iterable[ChangeRecord] = (),
    topology: dict[str, list[str]] | None = None,
    label: dict | None = None,
    capture: Mapping[str, Any] | None = None,
) -> Path:
    """Write one bundle to ``out_dir`` (replacing it if present) and return its path.

    ``event`` is validated as an :class:`Event`; its times are written as RFC 3339. ``topology``
    maps each service to what it calls. ``label`` is the ground truth, written to label.yaml; ``capture``, what a
    live run read beside its data (``agent.bundles.capture``), to capture.yaml.
    """
    out_dir = Path(out_dir)
    parsed = event if isinstance(event, Event) else Event.model_validate(event)
    _check_replaceable(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    mode = out_dir.stat().st_mode & 0o777 if out_dir.is_dir() else 0o777 & ~process_umask()
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        tmp.chmod(mode)  # a bundle is shared: the mode a mkdir would give (or the replaced one's), not mkdtemp's 0700
        _dump_yaml(tmp / "event.yaml", event_to_dict(parsed))
        write_metrics_csv(tmp / "metrics.csv", series)
        _write_jsonl(tmp / "logs.jsonl", (_log_to_dict(r) for r in logs))
        _write_jsonl(tmp / "changes.jsonl", (_change_to_dict(c) for c in changes))
        if topology is not None:
            _dump_yaml(tmp / "topology.yaml", topology_to_dict(topology))
        if capture:
            _dump_yaml(tmp / "capture.yaml", dict(capture))
        if label is not None:
            data = label.model_dump(mode="json") if isinstance(label, BaseModel) else dict(label)
            _dump_yaml(tmp / "label.yaml", data)
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def event_to_dict(event: Event) -> dict[str, Any]:
    """The event.yaml mapping of an event, times as RFC 3339 strings."""
    data = event.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["time"] = rfc3339(event.time)
    if event.alert is not None:
        for key, value in (("startsAt", event.alert.starts_at), ("endsAt", event.alert.ends_at)):
            if value is not None:
                data["alert"][key] = rfc3339(value)
    if event.change is not None and event.change.ts is not None:
        data["change"]["ts"] = rfc3339(event.change.ts)
    return data


def topology_to_dict(topology: Mapping[str, Iterable[str]]) -> dict[str, Any]:
    """``{svc: [deps]}`` as the topology.yaml mapping ``services: {svc: {depends_on: [...]}}``."""
    return {"services": {str(svc): {"depends_on": [str(d) for d in deps]} for svc, deps in topology.items()}}


def write_metrics_csv(path: Path, series: Iterable[Series]) -> None:
    """Long-format metrics.csv: fixed columns, then one column per further label, sorted."""
    series = list(series)
    extra = sorted({k for s in series for k in s.labels if k != "service"})
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([*METRIC_COLUMNS, *extra])
        for s in series:
            service = s.labels.get("service", "")
            tail = [s.labels.get(k, "") for k in extra]
            for ts, value in zip(s.timestamps.tolist(), s.values.tolist(), strict=True):
                writer.writerow([format_number(ts), s.metric, service, format_number(value), *tail])


def format_number(value: float) -> str:
    """Integers without a decimal point, other floats in their shortest exact form."""
    value = float(value)
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def rfc3339(epoch: float) -> str:
    """RFC 3339 UTC text, with a fraction only when the time has one."""
    dt = datetime.fromtimestamp(epoch, tz=UTC)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _log_to_dict(record: LogRecord) -> dict[str, Any]:
    data: dict[str, Any] = {k: v for k, v in record.extra.items()}
    data.update(ts=record.ts, service=record.service, level=record.level, message=record.message)
    if record.instance is not None:
        data["instance"] = record.instance
    if record.trace_id is not None:
        data["trace_id"] = record.trace_id
    return data


def _change_to_dict(change: ChangeRecord) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ts": change.ts,
        "service": change.service,
        "type": change.type,
        "id": change.id,
        "description": change.description,
    }
    optional = {
        "version": change.version,
        "author": change.author,
        "canary": dict(change.canary) if change.canary is not None else None,
        "baseline": dict(change.baseline) if change.baseline is not None else None,
        "diff": change.diff,
    }
    data.update({k: v for k, v in optional.items() if v is not None})
    return data


def _write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=str))
            fh.write("\n")


def _dump_yaml(path: Path, data: Any) -> None:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False
    with path.open("w", encoding="utf-8") as fh:
        yaml.dump(data, fh)


def _check_replaceable(out_dir: Path) -> None:
    """Raise :class:`NotABundleError` unless ``out_dir`` is absent, an empty directory or a bundle (it holds
    event.yaml): writing a bundle replaces what stands there, and ``--out ~/work`` had removed a whole directory."""
    if out_dir.is_symlink():
        raise NotABundleError(f"{out_dir}: is a symbolic link: not replaced by a bundle (give a new directory)")
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise NotABundleError(f"{out_dir}: is a file: not replaced by a bundle (give a new directory)")
    if (out_dir / "event.yaml").is_file() or not any(out_dir.iterdir()):
        return
    raise NotABundleError(f"{out_dir}: exists and is no case bundle (no event.yaml): not replaced, nothing written "
                          "(give a new directory, or an existing bundle's to replace it)")


def _replace_dir(tmp: Path, out_dir: Path) -> None:
    """Move ``tmp`` to ``out_dir``; an existing bundle is swapped out first, then removed."""
    if not out_dir.exists():
        tmp.rename(out_dir)
        return
    old = out_dir.with_name(f".{out_dir.name}.old-{tmp.name}")
    out_dir.rename(old)
    try:
        tmp.rename(out_dir)
    except BaseException:
        old.rename(out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)
