"""OpenMetrics text exposition of series, for ``promtool tsdb create-blocks-from openmetrics``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from agent.bundles.writer import format_number
from agent.series import Series
from agent.sim.system import METRIC_HELP


def escape_label(value: str) -> str:
    """A label value quoted for the exposition format (backslash, double quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(series: Series) -> str:
    inner = ",".join(f'{k}="{escape_label(str(v))}"' for k, v in sorted(series.labels.items()))
    return f"{{{inner}}}" if inner else ""


def render_openmetrics(series: Iterable[Series]) -> Iterator[str]:
    """Lines of the exposition: one gauge family per metric (``# HELP``, ``# TYPE``, then every
    sample ``name{labels} value timestamp``, timestamps in seconds, each series in time order),
    ending with ``# EOF``."""
    families: dict[str, list[Series]] = {}
    for s in series:
        families.setdefault(s.metric, []).append(s)
    for name in sorted(families):
        help_text = METRIC_HELP.get(name, name.replace("_", " "))
        yield f"# HELP {name} {help_text}"
        yield f"# TYPE {name} gauge"
        for s in sorted(families[name], key=lambda x: x.key()):
            labels = _labels(s)
            order = s.timestamps.argsort(kind="stable")
            for ts, value in zip(s.timestamps[order].tolist(), s.values[order].tolist(), strict=True):
                yield f"{name}{labels} {format_number(value)} {format_number(ts)}"
    yield "# EOF"


def write_openmetrics(path: Path, series: Iterable[Series]) -> Path:
    """Write the exposition of ``series`` to ``path`` and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for line in render_openmetrics(series):
            fh.write(line)
            fh.write("\n")
    return path
