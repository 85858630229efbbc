"""Calls named by metric labels: service-mesh and span metrics whose labels name both ends of a call.

Many systems log no trace ids but export, per call, a counter whose labels say who called whom: Istio's
``istio_requests_total{source_workload, destination_workload}``, Linkerd's ``response_total{deployment,
dst_deployment}``, OpenTelemetry span metrics' ``calls_total{service_name, peer_service}`` (Kiali draws its graph
off them). :data:`CONVENTIONS` lists the label pairs read so; the sources answer which pairs of values their
series carry (``calls`` of the bundle and the Prometheus sources), and :func:`calls_from_labels` keeps a pair as
an edge only when both values name services the data has: a label may name a pod, an address or a caller outside
the system (Istio's ``unknown``), and an edge to something without data gives the ranking nothing to weigh. A host
name (Istio's ``destination_service="reviews.default.svc.cluster.local"``, ``cart:7070``) names the service its
first DNS label names, when the data has that service. See docs/skills.md (`data.dependencies`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

OWN_SERVICE = "service"  # as a convention's caller label: the series' own service is the caller
SPAN_KIND = "(?i:(span_kind_)?(client|producer))?"  # a client or producer span, or no span kind at all


@dataclass(frozen=True)
class CallLabels:
    """One convention: the label naming the caller, the one naming the callee, who writes them, and what other
    labels must hold (label -> a regex both RE2 and Python read, matched whole; ``""`` matches an absent label)."""

    caller: str
    callee: str
    writer: str
    where: tuple[tuple[str, str], ...] = ()

    @property
    def named_labels(self) -> frozenset[str]:
        """The labels a series must carry to name a call this way (the series' own service label aside)."""
        return frozenset({self.callee} | ({self.caller} if self.caller != OWN_SERVICE else set()))

    @property
    def name(self) -> str:
        """``caller/callee``, as notes and docs name the convention."""
        return f"{self.caller}/{self.callee}"

    def call_of(self, labels: Mapping[str, str]) -> tuple[str, str] | None:
        """(caller, callee) the labels of one series name under this convention; None when either is empty, both
        are the same or a condition fails."""
        caller, callee = labels.get(self.caller, ""), labels.get(self.callee, "")
        if not caller or not callee or caller == callee:
            return None
        if any(not re.fullmatch(regex, labels.get(label, "")) for label, regex in self.where):
            return None
        return caller, callee


CONVENTIONS: tuple[CallLabels, ...] = (
    CallLabels("source_workload", "destination_workload", "Istio"),
    CallLabels("source_canonical_service", "destination_canonical_service", "Istio"),
    CallLabels("source_app", "destination_app", "Istio"),
    CallLabels("source_service", "destination_service", "generic"),
    CallLabels("deployment", "dst_deployment", "Linkerd (outbound)", (("direction", "(outbound)?"),)),
    CallLabels("service_name", "peer_service", "OpenTelemetry span metrics (client spans)",
               (("span_kind", SPAN_KIND),)),
    # OpenTelemetry's own attribute names, as a bundle's label columns or a UTF-8-named store keep them
    CallLabels("service.name", "peer.service", "OpenTelemetry span metrics, dotted names (client spans)",
               (("span.kind", SPAN_KIND),)),
    CallLabels("client", "server", "generic"),
    CallLabels("caller", "callee", "generic"),
    # the series' own service calls: only where no label names another caller
    CallLabels(OWN_SERVICE, "destination_service", "the series' service calls", (("source_service", ""),)),
    CallLabels(OWN_SERVICE, "peer_service", "the series' service calls (client spans)",
               (("service_name", ""), ("span_kind", SPAN_KIND))),
    CallLabels(OWN_SERVICE, "callee", "the series' service calls", (("caller", ""),)),
)


@dataclass(frozen=True)
class ReadCalls:
    """Callers and what they call, as read off the data (here off metric labels, in ``topology_inference`` off the
    order of log lines in traces)."""

    depends_on: dict[str, list[str]] = field(default_factory=dict)

    @property
    def calls(self) -> int:
        """How many caller -> callee edges."""
        return sum(len(callees) for callees in self.depends_on.values())

    def services(self) -> set[str]:
        """Every caller and callee."""
        return set(self.depends_on) | {c for callees in self.depends_on.values() for c in callees}

    def describe(self, why: str = "no call graph given") -> str:
        """One sentence for the report's notes, after ``why`` the calls were read off the data."""
        raise NotImplementedError


@dataclass(frozen=True)
class LabelledCalls(ReadCalls):
    """Callers and what they call, as metric labels named them between services with data."""

    conventions: tuple[str, ...] = ()  # the conventions that named a kept call
    left_out: int = 0  # pairs of values naming something that is no service with data

    def describe(self, why: str = "no call graph given") -> str:
        """One sentence for the report's notes, after ``why`` a call graph was read off the labels."""
        left = (f"; {self.left_out} pair(s) naming something that is no service with data left out"
                if self.left_out else "")
        return (f"{why}: {self.calls} call(s) among {len(self.services())} services read off metric labels naming "
                f"caller and callee ({', '.join(self.conventions)}){left}")


def service_named(value: str, services: Collection[str]) -> str | None:
    """The service with data that a label's value names: itself, or the first DNS label of a host name with any
    ``:port`` dropped (``reviews.default.svc.cluster.local:9080`` -> ``reviews``); None for anything else."""
    if value in services:
        return value
    host = value.rsplit(":", 1)[0] if re.fullmatch(r"[^:]+:\d+", value) else value
    for name in (host, host.split(".", 1)[0]):
        if name in services:
            return name
    return None


def calls_from_labels(seen: Iterable[tuple[CallLabels, str, str]], services: Collection[str]) -> LabelledCalls:
    """The call graph of the (convention, caller, callee) triples the sources found, kept where both ends are among
    ``services`` (those the data has)."""
    kept: dict[str, set[str]] = {}
    conventions: dict[str, None] = {}
    left_out: set[tuple[str, str]] = set()
    for convention, caller_label, callee_label in seen:
        caller, callee = service_named(caller_label, services), service_named(callee_label, services)
        if not caller or not callee:
            left_out.add((caller_label, callee_label))
        elif caller != callee:
            kept.setdefault(caller, set()).add(callee)
            conventions[convention.name] = None
    depends_on = {caller: sorted(kept[caller]) for caller in sorted(kept)}
    return LabelledCalls(depends_on, tuple(conventions), len(left_out))
