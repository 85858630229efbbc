"""``GET /metrics``: the service in Prometheus' text format, read at each scrape.

What the database holds (the queue, the cases, the schedules) is the same from every replica; what this process did
(its workers' investigations, its notifications) is its own, as counters. A database that does not answer makes
``bianque_database_up`` 0 and leaves its series out: the scrape itself still answers, so the outage can alert.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from agent.api.workers import QueueWorkers
from agent.memory import Memory
from agent.memory.db import database_problem
from agent.version import __version__

log = logging.getLogger(__name__)
PREFIX = "bianque"


class ServiceCollector(Collector):
    """The queue, cases and schedules of ``memory`` and the counters of this process's ``workers``."""

    def __init__(self, memory: Memory, workers: QueueWorkers) -> None:
        self.memory, self.workers = memory, workers
        self._down: str | None = None  # the database problem last met by a scrape (logged when it changes)

    def collect(self) -> Iterator[Metric]:
        """Every family, the database's read now."""
        yield InfoMetricFamily(f"{PREFIX}_build", "The running version.", value={"version": __version__})
        yield from self._process()
        try:
            database = list(self._database())
        except Exception as exc:  # noqa: BLE001 - any database failure: up 0, said once in the log
            self._database_down(exc)
            yield GaugeMetricFamily(f"{PREFIX}_database_up", "1 when the database answered this scrape.", value=0)
            return
        if self._down is not None:
            log.warning("metrics: the database answers again")
            self._down = None
        yield GaugeMetricFamily(f"{PREFIX}_database_up", "1 when the database answered this scrape.", value=1)
        yield from database

    def _process(self) -> Iterator[Metric]:
        workers, notifier = self.workers, self.workers.notifier
        yield GaugeMetricFamily(f"{PREFIX}_worker_running", "Queued investigations this process runs now.",
                                value=workers.running)
        yield CounterMetricFamily(f"{PREFIX}_worker_investigations_completed",
                                  "Queued investigations this process finished.", value=workers.completed)
        yield CounterMetricFamily(f"{PREFIX}_worker_attempts_failed",
                                  "Attempts at queued investigations that failed in this process (retried or given "
                                  "up).", value=workers.failed_attempts)
        yield GaugeMetricFamily(f"{PREFIX}_worker_problem", "1 while this process's workers cannot take queued "
                                                             "work (GET /healthz says why).",
                                value=int(workers.problem is not None))
        status = notifier.status()
        notifications = CounterMetricFamily(f"{PREFIX}_notifications",
                                            "Notifications this process posted, failed to post or held back as "
                                            "repeats.", labels=["outcome"])
        for outcome, key in (("sent", "sent"), ("failed", "failed"), ("held", "repeats_held")):
            notifications.add_metric([outcome], status[key])
        yield notifications

    def _database(self) -> Iterator[Metric]:
        stats = self.memory.queue_stats()
        queue = GaugeMetricFamily(f"{PREFIX}_queue_items", "Queued investigations by status (all replicas).",
                                  labels=["status"])
        for name in ("pending", "running", "done", "failed"):
            queue.add_metric([name], getattr(stats, name))
        yield queue
        oldest = 0.0 if stats.oldest_pending_at is None else max(0.0, time.time() - stats.oldest_pending_at)
        yield GaugeMetricFamily(f"{PREFIX}_queue_oldest_pending_age_seconds",
                                "How long the oldest pending investigation has waited (0: none pending).",
                                value=oldest)
        cases = GaugeMetricFamily(f"{PREFIX}_cases", "Stored cases by pattern and status.",
                                  labels=["pattern", "status"])
        for (pattern, status), count in sorted(self.memory.case_counts().items()):
            cases.add_metric([pattern, status], count)
        yield cases
        yield from _schedules(self.memory)

    def _database_down(self, exc: Exception) -> None:
        said = database_problem(self.memory.engine.url, exc) or f"{type(exc).__name__}: {exc}"
        if said != self._down:
            log.warning("metrics: the database does not answer (bianque_database_up 0): %s", said)
        self._down = said


def _schedules(memory: Memory) -> Iterator[Metric]:
    """Each schedule's state: enabled, when it last ran and how that run ended."""
    labels = ["schedule", "skill"]
    enabled = GaugeMetricFamily(f"{PREFIX}_schedule_enabled", "1 when the schedule runs.", labels=labels)
    last_run = GaugeMetricFamily(f"{PREFIX}_schedule_last_run_timestamp_seconds",
                                 "When the schedule's last run finished (Unix seconds).", labels=labels)
    last_status = GaugeMetricFamily(f"{PREFIX}_schedule_last_run_status",
                                    "1 for the status of the schedule's last run (done, could not judge, failed, "
                                    "skipped, running).", labels=[*labels, "status"])
    for schedule in memory.list_schedules():
        names = [schedule.job_id, schedule.skill]
        enabled.add_metric(names, int(schedule.enabled))
        if schedule.last_run is not None:
            last_run.add_metric(names, schedule.last_run)
        if schedule.last_status:
            last_status.add_metric([*names, schedule.last_status], 1)
    yield from (enabled, last_run, last_status)


def service_registry(memory: Memory, workers: QueueWorkers) -> CollectorRegistry:
    """A registry of the service's collector and the process's own (CPU, memory, open files, Python)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector(memory, workers))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry
