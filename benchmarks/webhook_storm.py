"""Alert storm against one and two ``bianque serve`` replicas on one PostgreSQL: alerts posted vs cases finished.

Each run starts the replicas as real processes (live investigator: the graph with the offline reasoner,
checkpoints in PostgreSQL, no metric source), posts ``--alerts`` alerts (repeats and duplicates among
them) in concurrent calls spread over the replicas, waits until the queue is drained and counts, in the
database, the incidents, the cases and the incidents without exactly one case.

    .venv/bin/python benchmarks/webhook_storm.py                  # a throw-away PostgreSQL 15 (initdb)
    .venv/bin/python benchmarks/webhook_storm.py --database-url postgresql+psycopg://…/empty_db
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BIANQUE = Path(sys.executable).parent / "bianque"
READY_S = 120.0


@dataclass
class StormResult:
    """One storm: what was posted, what the database holds after the queue drained."""

    replicas: int
    alerts_posted: int
    calls: int
    answered_200: int
    alerts_rejected: int
    incidents: int
    cases_finished: int
    incidents_without_one_case: int
    queue_failed: int
    post_s: float
    drain_s: float


def storm_alerts(count: int, services: int) -> list[dict]:
    """``count`` firing alerts over ``services`` services, two alert names each, in a fixed order.

    Every service's alerts repeat (same fingerprint) and duplicate (another name on the same service).
    """
    alerts = []
    for i in range(count):
        service = f"storm-svc-{i % services:03d}"
        name = f"StormAlert{(i // services) % 2}"
        alerts.append(
            {
                "status": "firing",
                "labels": {"alertname": name, "service": service, "severity": "warning"},
                "annotations": {"summary": f"{name} on {service}"},
                "startsAt": "2026-03-02T12:00:00Z",
                "fingerprint": f"{service}-{name}",
            }
        )
    return alerts


class Replica:
    """One ``bianque serve`` process with its own BIANQUE_HOME on the shared database."""

    def __init__(self, database_url: str, home: Path, port: int, workers: int = 2) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = home / "serve.log"
        home.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "BIANQUE_HOME": str(home),
            "BIANQUE_DATABASE_URL": database_url,
            "BIANQUE_API_WORKERS": str(workers),
            "BIANQUE_API_POLL_S": "0.2",
        }
        for name in ("BIANQUE_PROMETHEUS_URL", "BIANQUE_LLM_BASE_URL", "BIANQUE_API_TOKEN"):
            env.pop(name, None)
        self._log_file = self.log.open("wb")
        self.proc = subprocess.Popen(
            [str(BIANQUE), "serve", "--port", str(port), "--log-level", "warning"],
            env=env, stdout=self._log_file, stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"replica exited with {self.proc.returncode}: {self.tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"replica at {self.url} not ready after {READY_S:g} s: {self.tail()}")

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()


def stuck_replicas_report(started: Sequence[Replica]) -> str:
    """Every replica's thread stacks (``bianque`` prints them on SIGUSR1) and log tail."""
    for replica in started:
        if replica.proc.poll() is None:
            replica.proc.send_signal(signal.SIGUSR1)
    time.sleep(2)
    return "\n".join(f"--- replica {r.url} ---\n{r.tail(200)}" for r in started)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def replicas(database_url: str, count: int, root: Path) -> Iterator[list[Replica]]:
    """``count`` started replicas on ``database_url``, stopped (SIGTERM) at the end."""
    started: list[Replica] = []
    try:
        for i in range(count):
            started.append(Replica(database_url, root / f"replica-{i}", free_port()))
        for replica in started:
            replica.wait_ready()
        yield started
    finally:
        for replica in started:
            replica.stop()


def post_storm(urls: Sequence[str], alerts: list[dict], batch: int, concurrency: int) -> list[httpx.Response]:
    """Post ``alerts`` in calls of ``batch``, ``concurrency`` at a time, alternating over ``urls``."""
    calls = [alerts[i:i + batch] for i in range(0, len(alerts), batch)]

    def post(n: int) -> httpx.Response:
        body = {"version": "4", "status": "firing", "receiver": "storm", "alerts": calls[n]}
        return httpx.post(f"{urls[n % len(urls)]}/webhook/alertmanager", json=body, timeout=120)

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(post, range(len(calls))))


def wait_drained(url: str, timeout: float) -> None:
    """Until the shared queue has nothing pending or running (RuntimeError after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queue = httpx.get(f"{url}/healthz", timeout=10).json()["queue"]
        if queue["pending"] + queue["running"] == 0:
            return
        time.sleep(0.25)
    raise RuntimeError(f"queue not drained after {timeout:g} s: {queue}")


def database_counts(database_url: str) -> dict[str, int]:
    """Incidents, finished webhook cases, incidents without exactly one finished case, failed queue items."""
    from sqlalchemy import text

    from agent.memory import Memory

    with Memory(database_url) as memory, memory.engine.connect() as connection:
        one = lambda sql: int(connection.execute(text(sql)).scalar() or 0)  # noqa: E731
        return {
            "incidents": one("SELECT count(*) FROM incidents"),
            "cases_finished": one(
                "SELECT count(*) FROM cases c JOIN events e ON e.id = c.event_id "
                "WHERE e.source = 'webhook' AND c.status = 'done'"
            ),
            # an incident's case is the one its queue item finished; any other webhook case for the
            # same queue thread would be a second investigation of it
            "incidents_without_one_case": one(
                "SELECT count(*) FROM incidents i WHERE i.case_id IS NULL OR (SELECT count(*) FROM cases c "
                "JOIN investigation_queue q ON q.thread_id = c.thread_id "
                "WHERE q.incident_id = i.id AND c.status = 'done') <> 1"
            ),
            "queue_failed": one("SELECT count(*) FROM investigation_queue WHERE status = 'failed'"),
        }


def run_storm(database_url: str, replica_count: int, alerts: list[dict], root: Path, *,
              batch: int = 10, concurrency: int = 8, drain_timeout: float = 600) -> StormResult:
    """Start the replicas, post the storm, wait for the queue to drain, count."""
    with replicas(database_url, replica_count, root) as started:
        urls = [r.url for r in started]
        began = time.monotonic()
        responses = post_storm(urls, alerts, batch, concurrency)
        posted = time.monotonic()
        try:
            wait_drained(urls[0], drain_timeout)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{stuck_replicas_report(started)}") from None
        drained = time.monotonic()
    ok = [r for r in responses if r.status_code == 200]
    return StormResult(
        replicas=replica_count,
        alerts_posted=len(alerts),
        calls=len(responses),
        answered_200=len(ok),
        alerts_rejected=sum(r.json()["rejected"] for r in ok),
        **database_counts(database_url),
        post_s=round(posted - began, 2),
        drain_s=round(drained - began, 2),
    )


@contextmanager
def throwaway_postgres() -> Iterator[object]:
    """A PostgreSQL cluster of the e2e fixtures (scripts/install-system-deps.sh installs it)."""
    sys.path.insert(0, str(PROJECT_ROOT))
    from tests.e2e.conftest import PostgresServer

    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> list[StormResult]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=200, help="alerts per storm (default 200)")
    parser.add_argument("--services", type=int, default=60, help="distinct services, i.e. incidents (default 60)")
    parser.add_argument("--batch", type=int, default=10, help="alerts per webhook call (default 10)")
    parser.add_argument("--concurrency", type=int, default=8, help="calls in flight at once (default 8)")
    parser.add_argument("--replicas", default="1,2", help="replica counts to run (default 1,2)")
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: a throw-away cluster)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    alerts = storm_alerts(args.alerts, args.services)
    results: list[StormResult] = []
    with ExitStack() as stack:
        server = None if args.database_url else stack.enter_context(throwaway_postgres())
        root = Path(tempfile.mkdtemp(prefix="bianque-storm-"))
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        for count in (int(n) for n in args.replicas.split(",")):
            url = args.database_url or server.create_database()  # type: ignore[union-attr]
            print(f"storm: {args.alerts} alerts on {args.services} services, {count} replica(s)…", file=sys.stderr)
            results.append(run_storm(url, count, alerts, root / f"run-{count}", batch=args.batch,
                                     concurrency=args.concurrency))
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        print_table(results)
    return results


def print_table(results: Sequence[StormResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Webhook storm: alerts posted vs cases finished (PostgreSQL 15, offline reasoner)")
    for column in ("replicas", "alerts posted", "calls (200)", "rejected", "incidents", "cases finished",
                   "incidents without exactly one case", "failed", "post s", "drain s"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(str(r.replicas), str(r.alerts_posted), f"{r.calls} ({r.answered_200})", str(r.alerts_rejected),
                      str(r.incidents), str(r.cases_finished), str(r.incidents_without_one_case),
                      str(r.queue_failed), f"{r.post_s:.1f}", f"{r.drain_s:.1f}")
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
