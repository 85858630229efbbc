"""Log templates per service and their emission: sampled INFO access logs, background WARNs and
the WARN/ERROR lines faults produce. Variable parts (ids, numbers, keys) differ per line, so a
template miner such as drain3 recovers the templates."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from agent.series import LogRecord
from agent.sim.system import SERVICES
from agent.sim.world import World

# key -> (level, template). Placeholders not given by the caller are filled by FILLERS.
TEMPLATES: dict[str, tuple[str, str]] = {
    "access_gateway": ("INFO", "GET {path} status=200 latency_ms={ms} bytes={bytes} trace={trace}"),
    "access_rpc": ("INFO", "rpc {rpc} ok in {ms}ms items={n} trace={trace}"),
    "started": ("INFO", "started {service} version {version} on {instance} (pid {pid})"),
    "config_applied": ("INFO", "applied config revision {rev} from {file}"),
    "flag_changed": ("INFO", "feature flag {flag} set to {value} for {pct}% of traffic"),
    "slow_request": ("WARN", "slow request rpc={rpc} took {ms}ms trace={trace}"),
    "retry": ("WARN", "retrying call to {dep} after transient error code={code} (attempt {attempt}/3)"),
    "pool": ("WARN", "connection pool to {dep} near capacity in_use={n}/{max}"),
    "deprecated": ("WARN", "client {client} uses deprecated api version v1 on {path}"),
    "gc_young": ("WARN", "GC pause {ms}ms (young) heap_used={mb}MB"),
    "upstream_timeout": ("ERROR", "upstream timeout calling {dep} after {ms}ms (attempt {attempt}/3)"),
    "deadline": ("WARN", "deadline exceeded waiting for {dep} rpc={rpc} budget_ms={budget}"),
    "upstream_error": ("ERROR", "upstream {dep} returned {code} for rpc={rpc} trace={trace}"),
    "queue_depth": ("WARN", "request queue depth {n} above {max}, shedding low-priority requests"),
    "slow_op": ("WARN", "slow {op} on shard {shard}: {ms}ms (keys={n})"),
    "rate_limited": ("WARN", "rate limiter engaged: client={client} rps={n} limit={max}"),
    "miss_storm": ("WARN", "cache miss storm: miss_rate={pct}% keyspace={keyspace}"),
    "evicted": ("WARN", "evicted {n} keys in {ms}ms used_memory={mb}MB maxmemory={max}MB"),
    "cache_fallback": ("WARN", "cache lookup miss for {keyspace}:{id}, falling back to {backend}"),
    "cache_timeout": ("ERROR", "cache get timed out after {ms}ms node={node}"),
    "gc_full": ("WARN", "GC pause {ms}ms (full) heap_used={mb}MB heap_max={max}MB"),
    "soft_limit": ("WARN", "memory usage {mb}MB exceeds soft limit {max}MB"),
    "oom_killed": ("ERROR", "OOMKilled: container {container} in pod {instance} exceeded memory limit "
                            "{max}Mi, restarting"),
    "disk_usage": ("WARN", "disk usage at {pct}% on {mount}"),
    "no_space": ("ERROR", "write failed: no space left on device path={mount}/{file}"),
    "compaction": ("ERROR", "compaction aborted: insufficient disk space free={mb}MB needed={max}MB"),
    "config_failed": ("ERROR", "config reload failed: key {key}: {reason}"),
    "config_invalid": ("ERROR", "invalid value {value} for key {key}, falling back to default"),
    "config_unknown": ("WARN", "unknown key {key} in {file}, ignored"),
    "request_failed": ("ERROR", "request failed rpc={rpc} code=INTERNAL trace={trace}"),
    "exc_java": ("ERROR", "unhandled exception in {handler}: java.lang.NullPointerException at "
                          "{cls}.{method}({cls}.java:{line}) trace={trace}"),
    "exc_go": ("ERROR", "panic recovered in handler {handler}: runtime error: index out of range [{n}] "
                        "with length {max} trace={trace}"),
    "exc_cpp": ("ERROR", "invalid feature slot {n} (max {max}) in {handler}, request dropped trace={trace}"),
    "exc_python": ("ERROR", "unhandled exception in {handler}: KeyError: '{field}' trace={trace}"),
}

RPCS = {
    "gateway": ["Search", "Feed", "Suggest"], "query-understanding": ["Parse", "Rewrite"],
    "retrieval": ["Recall", "SearchShard"], "ranking": ["Score", "Rank"], "recommendation": ["Recommend"],
    "ad-serving": ["Auction", "Bid"], "user-profile": ["GetProfile", "BatchGetProfile"],
    "feature-store": ["BatchGet", "GetFeatures"], "cache": ["GET", "MGET"],
}
HEX = "0123456789abcdef"


def _hex(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list(HEX), n))


FILLERS: dict[str, Callable[[np.random.Generator], Any]] = {
    "trace": lambda r: _hex(r, 16),
    "ms": lambda r: int(r.integers(5, 400)),
    "bytes": lambda r: int(r.integers(800, 60000)),
    "n": lambda r: int(r.integers(2, 500)),
    "max": lambda r: int(r.integers(500, 2000)),
    "attempt": lambda r: int(r.integers(1, 4)),
    "pid": lambda r: int(r.integers(20, 30000)),
    "rev": lambda r: int(r.integers(1000, 99999)),
    "pct": lambda r: int(r.integers(1, 100)),
    "mb": lambda r: int(r.integers(100, 16000)),
    "line": lambda r: int(r.integers(40, 900)),
    "shard": lambda r: f"s{int(r.integers(0, 64))}",
    "id": lambda r: int(r.integers(10**6, 10**9)),
    "node": lambda r: f"10.{int(r.integers(0, 255))}.{int(r.integers(0, 255))}.{int(r.integers(2, 250))}:6379",
    "code": lambda r: str(r.choice(["UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED"])),
    "client": lambda r: f"app-{_hex(r, 4)}",
    "path": lambda r: str(r.choice(["/v1/search", "/v1/feed", "/v1/suggest", "/v2/search"])),
    "budget": lambda r: int(r.choice([50, 80, 100, 150, 250])),
    "op": lambda r: str(r.choice(["scan", "multiget", "compaction read", "index lookup"])),
    "keyspace": lambda r: str(r.choice(["feat", "profile", "qrw", "emb"])),
    "mount": lambda r: str(r.choice(["/data", "/var/lib/app"])),
    "file": lambda r: f"segment-{int(r.integers(1000, 99999))}.log",
    "flag": lambda r: str(r.choice(["new_snippet_ui", "dedup_v2", "explore_slot", "fast_path"])),
    "value": lambda r: str(r.choice(["on", "off"])),
}


def fill(template: str, rng: np.random.Generator, given: dict[str, Any]) -> str:
    """Render one line: given values (a list means pick one, a (lo, hi) tuple an integer in it,
    a callable is called with the rng) and random fillers for the rest."""
    values = {}
    for name in dict.fromkeys(f for _, f, _, _ in string.Formatter().parse(template) if f):
        value = given.get(name)
        if value is None:
            filler = FILLERS.get(name)
            value = filler(rng) if filler else name
        elif isinstance(value, list):
            value = value[int(rng.integers(len(value)))]
        elif isinstance(value, tuple):
            value = int(rng.integers(value[0], value[1]))
        elif callable(value):
            value = value(rng)
        values[name] = value
    return template.format(**values)


def emit(world: World, service: str, tpl: str, per_minute: np.ndarray | float,
         rows: Sequence[int] | None = None, level: str | None = None, **given: Any) -> int:
    """Emit template ``tpl`` from ``service`` at ``per_minute`` expected lines each minute (Poisson),
    from random instances among ``rows``; returns how many lines were written."""
    rng = world.rng
    level_default, template = TEMPLATES[tpl]
    ts = world.ts
    rate = np.broadcast_to(np.asarray(per_minute, dtype=float), ts.shape)
    counts = rng.poisson(np.clip(rate, 0.0, None))
    pods = world.instances[service]
    pool = list(range(len(pods))) if rows is None else list(rows)
    given.setdefault("service", service)
    given.setdefault("rpc", RPCS[service])
    written = 0
    for i in np.flatnonzero(counts):
        for _ in range(int(counts[i])):
            row = pool[int(rng.integers(len(pool)))]
            when = round(float(ts[i]) + float(rng.uniform(0.0, 60.0)), 3)
            values = {"instance": pods[row], **given}
            message = fill(template, rng, values)
            trace = _trace_of(message)
            world.logs.append(LogRecord(when, service, level or level_default, message, pods[row], trace))
            written += 1
    return written


def emit_at(world: World, service: str, tpl: str, when: float, row: int, **given: Any) -> None:
    """One line of template ``tpl`` at an exact time from instance ``row``."""
    level, template = TEMPLATES[tpl]
    pod = world.instances[service][row]
    message = fill(template, world.rng, {"service": service, "instance": pod, "rpc": RPCS[service], **given})
    world.logs.append(LogRecord(round(when, 3), service, level, message, pod, _trace_of(message)))


def _trace_of(message: str) -> str | None:
    match = re.search(r"trace=([0-9a-f]{16})", message)
    return match.group(1) if match else None


def access_logs(world: World, services: Sequence[str], per_minute: float = 0.2) -> None:
    """Sampled INFO access logs of every service (a small, steady sample)."""
    for service in services:
        key = "access_gateway" if service == "gateway" else "access_rpc"
        p50_ms = SERVICES[service].p50 * 1000
        emit(world, service, key, per_minute, ms=(max(1, int(p50_ms * 0.5)), int(p50_ms * 3) + 2))


BACKGROUND = ("slow_request", "retry", "pool", "deprecated", "gc_young", "upstream_timeout")


def background_warnings(world: World, services: Sequence[str], intensity: float) -> None:
    """Benign WARN (and the odd ERROR) lines that every healthy system logs now and then."""
    rng = world.rng
    for service in services:
        deps = list(SERVICES[service].depends_on)
        for key in BACKGROUND:
            if key in ("retry", "pool", "upstream_timeout") and not deps:
                continue
            if key == "gc_young" and SERVICES[service].language != "java":
                continue
            rate = intensity * rng.uniform(0.0, 0.08)
            if key == "upstream_timeout":
                rate *= 0.3
            if rate > 0.005:
                emit(world, service, key, rate, dep=deps or None, ms=(80, 900))
