"""How long an investigation waits on a metric server that accepts connections and never answers.

A socket on loopback that listens and never replies stands in for ``BIANQUE_PROMETHEUS_URL``; one RCA alert
is investigated over the live sources (the offline reasoner, no log store, no knowledge, no memory) for each
source timeout and gather deadline asked. Each row: the wall time of ``investigate()``, whether the verdict
judged, and the reasons its missing metric data gives. The bound is ``BIANQUE_GATHER_DEADLINE_S`` (default 3 x the
source timeout) plus the computing, whatever the number of rounds of questions (label names, services, calls
read off the labels, the Skill's data).

Usage::

    .venv/bin/python benchmarks/hung_source.py [--timeouts 2,5] [--deadlines default,4] [--json]
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from common import BenchResult, add_common_arguments, bench_settings, emit
from rich.table import Table

from agent.events import Alert, Event, Pattern
from agent.investigate import investigate
from agent.runtime import live_toolkit


@dataclass
class HungRun:
    """One investigation against the silent server."""

    source_timeout_s: float
    gather_deadline_s: float
    wall_s: float
    judged: bool
    reasons: dict[str, int]


@contextmanager
def silent_server() -> Iterator[str]:
    """The URL of a loopback socket that accepts every connection and never answers (closed at the end)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(128)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:  # closed: the benchmark is over
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()
        for conn in held:
            conn.close()


def one_run(url: str, timeout_s: float, deadline_s: float | None) -> HungRun:
    """Investigate one alert with the metric source at ``url``."""
    with bench_settings() as settings:
        settings = settings.model_copy(update={"prometheus_url": url, "source_timeout_s": timeout_s,
                                               "gather_deadline_s": deadline_s})
        toolkit = live_toolkit(settings, knowledge=None, memory=None)
        now = time.time()
        alert = Alert(status="firing", labels={"alertname": "ApiLatencyHigh", "service": "api"}, startsAt=now - 60)
        event = Event(pattern=Pattern.RCA, time=now, service="api", alert=alert)
        started = time.monotonic()
        result = investigate(event, toolkit)
        wall = time.monotonic() - started
    reasons = Counter(gap.reason.split(" (")[0] for gap in result.missing_data if gap.kind == "metrics")
    return HungRun(timeout_s, settings.resolved_gather_deadline_s, wall, result.verdict.judged, dict(reasons))


def main(argv: list[str] | None = None) -> BenchResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeouts", default="2,5", help="BIANQUE_SOURCE_TIMEOUT_S values, comma-separated")
    parser.add_argument("--deadlines", default="default",
                        help="BIANQUE_GATHER_DEADLINE_S values ('default': 3 x the timeout), comma-separated")
    add_common_arguments(parser, knowledge=False)
    args = parser.parse_args(argv)
    deadlines = [None if d.strip() == "default" else float(d) for d in args.deadlines.split(",")]
    with silent_server() as url:
        runs = [one_run(url, float(t), d) for t in args.timeouts.split(",") for d in deadlines]
    table = Table(title="A metric server that never answers: one RCA alert over the live sources")
    for column in ("source timeout", "gather deadline", "wall time", "judged", "metric data missing (reason: count)"):
        table.add_column(column)
    for run in runs:
        table.add_row(f"{run.source_timeout_s:g} s", f"{run.gather_deadline_s:g} s", f"{run.wall_s:.1f} s",
                      "yes" if run.judged else "no (could not judge)",
                      "; ".join(f"{reason}: {count}" for reason, count in run.reasons.items()))
    result = BenchResult({"hung": table}, {"runs": [asdict(run) for run in runs]})
    emit(result, args.json)
    return result


if __name__ == "__main__":
    main()
