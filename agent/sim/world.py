"""The simulated world of one scenario: time windows, per-instance signals, logs and changes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from agent.series import ChangeRecord, LogRecord
from agent.sim.system import SERVICES, STATEFUL
from agent.sim.traffic import DAY, baseline_signals

CURRENT = "current"
HISTORY_OFFSETS: dict[str, float] = {"1d": DAY, "7d": 7 * DAY}
POD_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(frozen=True)
class Window:
    """One sampled time range: the current one, or the same range a day or a week earlier."""

    name: str
    ts: np.ndarray


@dataclass(frozen=True)
class VersionSplit:
    """A canary: instance row ``r`` of ``service`` runs ``new`` from ``switches[r]``; the rest runs ``old``."""

    service: str
    old: str
    new: str
    switches: dict[int, float]


@dataclass
class World:
    """Everything generated for one scenario; faults mutate it, the exporter turns it into a bundle."""

    rng: np.random.Generator
    event_time: float
    windows: dict[str, Window]
    instances: dict[str, list[str]]
    signals: dict[str, dict[str, dict[str, np.ndarray]]]  # window -> service -> metric -> (rows, T)
    versions: dict[str, str]
    logs: list[LogRecord] = field(default_factory=list)
    changes: list[ChangeRecord] = field(default_factory=list)
    detailed: set[str] = field(default_factory=set)  # services exported per instance
    split: VersionSplit | None = None
    next_id: int = 0

    @property
    def ts(self) -> np.ndarray:
        """Timestamps of the current window (one a minute)."""
        return self.windows[CURRENT].ts

    def sig(self, service: str, metric: str, window: str = CURRENT) -> np.ndarray:
        """The (instances, T) array of one metric; modify it in place."""
        return self.signals[window][service][metric]

    def aggregate(self, service: str, metric: str, window: str = CURRENT) -> np.ndarray:
        """The service-level series of one metric (see :func:`aggregate_rows`)."""
        block = self.signals[window][service]
        return aggregate_rows(metric, block[metric], block["requests_per_second"])

    def index(self, t: float) -> int:
        """Index of the current-window sample at or just before ``t`` (clamped to the window)."""
        i = int(np.searchsorted(self.ts, t, side="right")) - 1
        return min(max(i, 0), len(self.ts) - 1)

    def crop(self, start: float, end: float, history_start: float) -> None:
        """Keep ``[start, end)`` of the current window, ``[history_start, end)`` shifted for the history
        windows, and the logs of ``[start, end)``; changes before ``end`` stay (they may predate the window)."""
        keep = (self.ts >= start) & (self.ts < end)
        past = keep & (self.ts >= history_start)
        for name, window in list(self.windows.items()):
            mask = keep if name == CURRENT else past
            self.windows[name] = Window(name, window.ts[mask])
            for block in self.signals[name].values():
                for metric, values in block.items():
                    block[metric] = values[:, mask]
        self.logs = [r for r in self.logs if start <= r.ts < end]
        self.changes = [c for c in self.changes if c.ts < end]

    def new_id(self, prefix: str) -> str:
        """A fresh change id like ``deploy-48213``."""
        self.next_id += int(self.rng.integers(3, 40))
        return f"{prefix}-{self.next_id}"


def aggregate_rows(metric: str, values: np.ndarray, rps: np.ndarray) -> np.ndarray:
    """Per-instance rows to one service-level series: rate summed, ratios and latencies
    request-weighted, CPU and memory averaged per instance, disk the fullest volume."""
    if metric == "requests_per_second":
        return values.sum(axis=0)
    if metric in ("cpu_usage_ratio", "memory_usage_bytes"):
        return values.mean(axis=0)
    if metric == "disk_usage_ratio":
        return values.max(axis=0)
    weights = np.clip(rps, 1e-9, None)
    return (values * weights).sum(axis=0) / weights.sum(axis=0)


def pod_names(rng: np.random.Generator, service: str, count: int) -> list[str]:
    """Kubernetes-style pod names: ``feature-store-0`` for stateful sets, ``ranking-6f9c7d-x2k9q``
    for deployments."""
    if service in STATEFUL:
        return [f"{service}-{i}" for i in range(count)]
    letters = list(POD_ALPHABET)
    replica_set = "".join(rng.choice(letters, 6))
    return [f"{service}-{replica_set}-{''.join(rng.choice(letters, 5))}" for _ in range(count)]


def random_version(rng: np.random.Generator) -> str:
    """A plausible semantic version."""
    return f"v{int(rng.integers(1, 4))}.{int(rng.integers(0, 40))}.{int(rng.integers(0, 12))}"


def bump_version(rng: np.random.Generator, version: str) -> str:
    """The next release after ``version`` (a patch or a minor bump)."""
    major, minor, patch = (int(p) for p in version.lstrip("v").split("."))
    if rng.random() < 0.5:
        return f"v{major}.{minor}.{patch + 1}"
    return f"v{major}.{minor + 1}.0"


def build_world(rng: np.random.Generator, event_time: float, start: float, end: float) -> World:
    """Normal behaviour of every service over ``[start, end)`` and the same range 1 and 7 days earlier."""
    ts = np.arange(start, end, 60.0)
    windows = {CURRENT: Window(CURRENT, ts)}
    windows.update({name: Window(name, ts - offset) for name, offset in HISTORY_OFFSETS.items()})
    instances = {name: pod_names(rng, name, spec.instances) for name, spec in SERVICES.items()}
    versions = {name: random_version(rng) for name in SERVICES}
    levels = {CURRENT: 1.0, "1d": float(rng.uniform(0.97, 1.03)), "7d": float(rng.uniform(0.92, 1.0))}
    signals = {
        wname: {name: baseline_signals(spec, window.ts, rng, levels[wname]) for name, spec in SERVICES.items()}
        for wname, window in windows.items()
    }
    return World(rng, event_time, windows, instances, signals, versions)
