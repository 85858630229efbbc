"""Many scenarios at once, for evaluation and benchmarks (seeds >= 1000 are reserved for those)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from agent.sim.scenario import PATTERNS, SUPPORTED, ScenarioError, build_scenario, write_scenario

BENCHMARK_SEEDS = 1000  # seeds below this are for examples and tests


def combinations(pattern: str | None = None) -> list[tuple[str, str]]:
    """Every (pattern, fault) pair the simulator generates, optionally for one pattern."""
    if pattern is not None and pattern not in PATTERNS:
        raise ScenarioError(f"unknown pattern {pattern!r}; choose one of {', '.join(PATTERNS)}")
    return [(p, f) for p in PATTERNS if pattern in (None, p) for f in SUPPORTED[p]]


def case_name(seed: int) -> str:
    """A neutral directory name: nothing in it hints at the pattern or the fault."""
    return f"case-{seed:05d}"


def generate_batch(
    out_dir: Path, count: int, seed_start: int, pattern: str | None = None,
    progress: Callable[[int, Path], None] | None = None,
) -> list[Path]:
    """Write ``count`` bundles under ``out_dir``, seeds ``seed_start``.., cycling through every
    (pattern, fault) pair by seed; ``progress(i, path)`` is called after each one."""
    if count < 0:
        raise ScenarioError(f"count must be 0 or more, not {count}")
    pairs = combinations(pattern)
    out_dir = Path(out_dir)
    written = []
    for i in range(count):
        seed = seed_start + i
        kind, fault = pairs[seed % len(pairs)]
        path = write_scenario(build_scenario(kind, fault, seed), out_dir / case_name(seed))
        written.append(path)
        if progress is not None:
            progress(i, path)
    return written
