"""The curated example scenarios in ``examples/scenarios`` and how to regenerate them exactly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.sim.scenario import build_scenario, write_scenario


@dataclass(frozen=True)
class CuratedCase:
    """One example bundle: its directory name, what generates it and what it shows."""

    name: str
    pattern: str
    fault: str
    seed: int
    note: str
    variant: str | None = None
    service: str | None = None


CURATED: tuple[CuratedCase, ...] = (
    CuratedCase("rca-slow-dependency", "rca", "slow_dependency", 3,
                "feature-store slows down; its callers follow minutes later and time out; the gateway alerts",
                service="feature-store"),
    CuratedCase("rca-cache-failure", "rca", "cache_failure", 3,
                "the cache hit ratio collapses; cache callers slow down, feature-store load rises"),
    CuratedCase("rca-noisy-alert", "rca", "noisy_alert", 1,
                "a rule tripped by one-minute spikes that also happened yesterday and last week: noise"),
    CuratedCase("rca-memory-leak", "rca", "memory_leak", 2,
                "ranking leaks memory until GC pauses and OOM kills hurt its callers", service="ranking"),
    CuratedCase("release-bad-canary", "release_interception", "bad_release", 8,
                "the canary instance of a new version errors and/or slows down: block", variant="block"),
    CuratedCase("release-good-canary", "release_interception", "healthy", 2,
                "the canary behaves like the baseline: pass", variant="canary"),
    CuratedCase("release-bad-config", "release_interception", "bad_config", 2,
                "a config push breaks the service right after it lands: block", variant="block"),
    CuratedCase("release-marginal", "release_interception", "bad_release", 3,
                "the canary's memory grows faster than the baseline's, no errors: hold", variant="hold"),
    CuratedCase("inspection-memory-leak", "inspection", "memory_leak", 4,
                "memory of one service grows steadily while its traffic does not"),
    CuratedCase("inspection-disk-full", "inspection", "disk_full", 3,
                "a disk fills up towards 1 but has not run out yet"),
    CuratedCase("inspection-error-burst", "inspection", "bad_config", 2,
                "after a config push a known error template bursts; errors stay below the SLO"),
    CuratedCase("inspection-healthy", "inspection", "healthy", 4,
                "nothing wrong: background WARNs, harmless changes, noise"),
)


def write_curated(out_dir: Path, progress: Callable[[CuratedCase, Path], None] | None = None) -> list[Path]:
    """(Re)write every curated bundle under ``out_dir``; the same code gives the same bytes."""
    written = []
    for case in CURATED:
        scenario = build_scenario(case.pattern, case.fault, case.seed, variant=case.variant, service=case.service)
        path = write_scenario(scenario, Path(out_dir) / case.name)
        written.append(path)
        if progress is not None:
            progress(case, path)
    return written
