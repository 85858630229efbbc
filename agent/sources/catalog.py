"""The data catalog: which metrics, log sources and change sources exist, with help text and labels.

Skill authoring (by hand or by the LLM) checks names against it, so a Skill names only data that exists.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from agent.bundles.reader import CaseBundle, load_bundle
from agent.detectors.counters import counter_name
from agent.detectors.direction import infer_direction
from agent.sources.base import LogSource, MetricInfo, MetricSource, name_matches
from agent.sources.bundle import BundleChangeSource, BundleLogSource, BundleMetricSource

# Help for the simulated system's metrics (docs/simulated-system.md), used when a source has none.
KNOWN_METRICS: dict[str, tuple[str, str]] = {
    "requests_per_second": ("gauge", "request rate served"),
    "request_latency_p50_seconds": ("gauge", "median request latency in seconds"),
    "request_latency_p99_seconds": ("gauge", "p99 request latency in seconds"),
    "request_error_ratio": ("gauge", "share of requests failing (0..1)"),
    "cpu_usage_ratio": ("gauge", "CPU used / limit (0..1)"),
    "memory_usage_bytes": ("gauge", "resident memory in bytes"),
    "disk_usage_ratio": ("gauge", "disk used / size (0..1)"),
    "cache_hit_ratio": ("gauge", "cache hits / lookups (cache service only)"),
    "click_through_ratio": ("gauge", "click-through ratio (gateway, recommendation, ad-serving)"),
}


class CatalogError(RuntimeError):
    """A source could not say what data it has (e.g. an unreachable server)."""


@dataclass
class Catalog:
    """What data exists: metrics (with labels and services), log sources and their services."""

    metrics: list[MetricInfo] = field(default_factory=list)
    log_sources: list[str] = field(default_factory=list)
    log_services: list[str] = field(default_factory=list)
    change_services: list[str] = field(default_factory=list)

    def find_metrics(self, pattern: str) -> list[MetricInfo]:
        """Metrics whose name is ``pattern`` or matches it as a glob."""
        return [m for m in self.metrics if name_matches(m.name, pattern)]

    def knows_metric(self, pattern: str) -> bool:
        """True when at least one metric matches ``pattern``."""
        return any(name_matches(m.name, pattern) for m in self.metrics)

    def metric(self, name: str) -> MetricInfo | None:
        """The metric named exactly ``name``."""
        return next((m for m in self.metrics if m.name == name), None)

    def to_dict(self) -> dict[str, object]:
        """Plain data (JSON-ready) for prompts, the API and ``--json``."""
        return {
            "metrics": [
                {**asdict(m), "labels": list(m.labels), "services": list(m.services),
                 "bad_direction": infer_direction(m.name),
                 "read_as_rate": counter_name(m.name)}  # judged by its per-second rate (agent.detectors.counters)
                for m in self.metrics
            ],
            "log_sources": list(self.log_sources),
            "log_services": list(self.log_services),
            "change_services": list(self.change_services),
        }


def with_help(info: MetricInfo) -> MetricInfo:
    """``info`` with help text and type from :data:`KNOWN_METRICS` where the source gave none."""
    known = KNOWN_METRICS.get(info.name)
    if known is None:
        return info
    kind, text = known
    return replace(info, type=info.type if info.type != "unknown" else kind, help=info.help or text)


def catalog_from_metric_source(
    source: MetricSource, log_source: LogSource | None = None, change_services: list[str] | None = None
) -> Catalog:
    """A catalog of any metric source (plus, optionally, a log source and the services with changes).

    Raises :class:`CatalogError` when the source lists nothing and reports why in ``last_error``.
    """
    metrics = source.metrics()
    reason = getattr(source, "last_error", None)
    if not metrics and reason:
        raise CatalogError(f"{source.name}: cannot list metrics: {reason}")
    return Catalog(
        metrics=sorted((with_help(m) for m in metrics), key=lambda m: m.name),
        log_sources=[log_source.name] if log_source is not None else [],
        log_services=log_source.services() if log_source is not None else [],
        change_services=sorted(change_services or []),
    )


def catalog_from_bundle(bundle: CaseBundle | str | Path) -> Catalog:
    """A catalog of one case bundle (a loaded bundle or its directory)."""
    loaded = bundle if isinstance(bundle, CaseBundle) else load_bundle(bundle)
    logs = BundleLogSource(loaded) if loaded.logs else None
    return catalog_from_metric_source(BundleMetricSource(loaded), logs, BundleChangeSource(loaded).services())


def catalog_from_prometheus(url: str, service_label: str = "service") -> Catalog:
    """A catalog of the metrics a Prometheus-compatible server lists (the source is imported lazily); services
    are the values of ``service_label``."""
    from agent.sources.prometheus import PrometheusMetricSource

    return catalog_from_metric_source(PrometheusMetricSource(url, service_label=service_label))
