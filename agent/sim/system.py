"""The simulated serving system: services, their dependencies and per-service baselines.

Names follow ``docs/simulated-system.md`` exactly; Skills and the handbook are written against them.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.topology import Topology

GIB = 1024**3

METRICS: tuple[str, ...] = (
    "requests_per_second",
    "request_latency_p50_seconds",
    "request_latency_p99_seconds",
    "request_error_ratio",
    "cpu_usage_ratio",
    "memory_usage_bytes",
    "disk_usage_ratio",
    "cache_hit_ratio",
    "click_through_ratio",
)

METRIC_HELP: dict[str, str] = {
    "requests_per_second": "Request rate served.",
    "request_latency_p50_seconds": "Median request latency.",
    "request_latency_p99_seconds": "99th percentile request latency.",
    "request_error_ratio": "Share of requests failing (0..1).",
    "cpu_usage_ratio": "CPU used / CPU limit (0..1).",
    "memory_usage_bytes": "Resident memory.",
    "disk_usage_ratio": "Disk used / disk size (0..1).",
    "cache_hit_ratio": "Cache hits / lookups (cache service only).",
    "click_through_ratio": "Click-through ratio (gateway, recommendation, ad-serving).",
}


@dataclass(frozen=True)
class ServiceSpec:
    """One service and its baseline at average daily load (latencies in seconds, memory per instance)."""

    name: str
    business: str
    depends_on: tuple[str, ...]
    instances: int
    rps: float
    p50: float
    p99: float
    error_ratio: float
    cpu: float
    memory: float
    memory_limit: float
    disk: float
    cache_hit: float | None = None
    ctr: float | None = None
    language: str = "go"

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metric names this service exports."""
        return tuple(
            m for m in METRICS
            if (m != "cache_hit_ratio" or self.cache_hit is not None)
            and (m != "click_through_ratio" or self.ctr is not None)
        )


SERVICES: dict[str, ServiceSpec] = {
    s.name: s
    for s in (
        ServiceSpec("gateway", "search", ("query-understanding", "retrieval", "ranking", "recommendation",
                                          "ad-serving"), 4, 3000, 0.040, 0.180, 0.002, 0.45,
                    1.5 * GIB, 3 * GIB, 0.35, ctr=0.045),
        ServiceSpec("query-understanding", "search", ("cache",), 3, 2900, 0.008, 0.035, 0.001, 0.40,
                    2.5 * GIB, 4 * GIB, 0.30, language="python"),
        ServiceSpec("retrieval", "search", ("cache",), 3, 2900, 0.015, 0.070, 0.001, 0.50,
                    6 * GIB, 10 * GIB, 0.55, language="cpp"),
        ServiceSpec("ranking", "search", ("feature-store", "cache"), 4, 4200, 0.025, 0.110, 0.0015, 0.55,
                    4 * GIB, 7 * GIB, 0.40, language="cpp"),
        ServiceSpec("recommendation", "recommendation", ("feature-store", "user-profile", "ranking"), 3,
                    1500, 0.030, 0.140, 0.002, 0.45, 3 * GIB, 5 * GIB, 0.30, ctr=0.060, language="java"),
        ServiceSpec("ad-serving", "ads", ("user-profile", "feature-store"), 3, 2500, 0.012, 0.060, 0.001,
                    0.40, 2 * GIB, 4 * GIB, 0.30, ctr=0.012, language="java"),
        ServiceSpec("user-profile", "recommendation", ("cache",), 3, 4000, 0.003, 0.015, 0.0005, 0.35,
                    3 * GIB, 5 * GIB, 0.50, language="java"),
        ServiceSpec("feature-store", "infra", (), 3, 7000, 0.004, 0.020, 0.0005, 0.50,
                    8 * GIB, 14 * GIB, 0.60),
        ServiceSpec("cache", "infra", (), 3, 15000, 0.0006, 0.003, 0.0002, 0.30,
                    12 * GIB, 16 * GIB, 0.20, cache_hit=0.93),
    )
}

TOPOLOGY: dict[str, list[str]] = {name: list(spec.depends_on) for name, spec in SERVICES.items()}

BUSINESSES: dict[str, tuple[str, ...]] = {
    "search": ("gateway", "query-understanding", "retrieval", "ranking", "cache", "feature-store"),
    "recommendation": ("gateway", "recommendation", "user-profile", "ranking", "feature-store", "cache"),
    "ads": ("gateway", "ad-serving", "user-profile", "feature-store", "cache"),
}

# Services with something on local disk that can fill up (indexes, segments, snapshots, spill files).
STATEFUL = ("retrieval", "ranking", "user-profile", "feature-store", "cache")
# Services that take releases and canaries in the serving path.
SERVING = ("gateway", "query-understanding", "retrieval", "ranking", "recommendation", "ad-serving",
           "user-profile", "feature-store")


_GRAPH = Topology(TOPOLOGY)


def callers_of(service: str) -> list[str]:
    """Services that call ``service`` directly, in topology order."""
    return _GRAPH.dependents(service)


def upstream_of(service: str) -> list[str]:
    """Every service that depends on ``service`` directly or transitively, nearest first."""
    return _GRAPH.dependents(service, depth=None)


def downstream_of(service: str) -> list[str]:
    """Every service ``service`` depends on directly or transitively, nearest first."""
    return _GRAPH.dependencies(service, depth=None)


def camel(service: str) -> str:
    """``ad-serving`` → ``AdServing`` (alert names)."""
    return "".join(part.capitalize() for part in service.split("-"))
