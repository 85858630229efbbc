"""Which way a change is bad: ``up`` (latency, errors), ``down`` (success, CTR) or ``both``."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

DirectionName = Literal["up", "down", "both"]
_VALID = ("up", "down", "both")


def check_direction(direction: str, allow_both: bool = True) -> str:
    """The direction as a plain string, or a ValueError naming the allowed values."""
    value = str(getattr(direction, "value", direction))
    allowed = _VALID if allow_both else _VALID[:2]
    if value not in allowed:
        raise ValueError(f"direction must be one of {', '.join(allowed)}, got {direction!r}")
    return value


def bad_signs(direction: str) -> tuple[int, ...]:
    """Signs of a change that count as bad: (+1,), (-1,) or (+1, -1)."""
    return {"up": (1,), "down": (-1,), "both": (1, -1)}[check_direction(direction)]


def is_bad(delta: float, direction: str) -> bool:
    """True when a change of ``delta`` goes the bad way."""
    return any(delta * sign > 0 for sign in bad_signs(direction))


def observed(delta: float) -> str:
    """``up`` or ``down`` for the sign of a change (what ``Finding.direction`` records)."""
    return "up" if delta >= 0 else "down"


def mwu_alternative(direction: str) -> str:
    """The Mann-Whitney alternative for "first sample is worse than the second"."""
    return {"up": "greater", "down": "less", "both": "two-sided"}[check_direction(direction)]


# Which way a metric is bad, read off its name when a Skill leaves it to the data (``direction: auto``).
# Words are matched as whole tokens of the name split on non-letters and camelCase, so ``TravelTime``
# and ``request_duration_seconds`` both say "up" and ``cache_hit_ratio`` says "down".
ERROR_WORDS = frozenset({"error", "errors", "err", "errs", "fail", "failed", "failure", "failures", "timeout",
                         "timeouts", "exception", "exceptions", "5xx"})  # a rise of such a metric is requests failing
_UP_WORDS = ERROR_WORDS | {"reject", "rejected", "dropped", "4xx", "throttle", "throttles", "throttled", "unhealthy",
                           "retry", "retries", "lag",
                           # a process dying: kube_pod_container_status_restarts_total, oom_kills, crash loops
                           "restart", "restarts", "oom", "oomkilled", "crash", "crashes", "crashloop", "panic",
                           "panics", "slow"}  # slow: mysql_global_status_slow_queries
_DURATION_WORDS = frozenset({"latency", "duration", "time", "rt", "elapsed"})  # "rt": response time
# a unit says a duration unless it opens the name (ms_requests_total) or ends a rate (events_per_ms)
_TIME_UNITS = frozenset({"seconds", "ms", "milliseconds", "microseconds", "nanoseconds", "minutes"})
# what a rate's name ends in: a count per a time (requests_per_second, bytes_per_sec) or says it (qps)
_PER_TIME = _TIME_UNITS | {"second", "sec", "secs", "s", "minute", "min", "hour", "hours"}
_RATE_WORDS = frozenset({"qps", "rps", "tps", "iops"})
_PERCENTILE = re.compile(r"p\d{2,3}")  # p50, p99, p999: a latency distribution's quantiles
# what adds up events or time instead of measuring one wait: a counter's total (node_cpu_seconds_total) and a
# histogram's or timer's count, sum and buckets (request_duration_seconds_count counts requests)
_ACCUMULATED = frozenset({"total", "count", "sum", "bucket"})
_NOT_A_WAIT = frozenset({"offset", "skew", "drift", "expiry", "expiration", "expires", "remaining", "ttl",
                         "timestamp"})  # a clock's error, time left, a point in time
# "<word> time" naming when something happened (process_start_time_seconds, node_boot_time_seconds, last_seen_time)
_WHEN_WORDS = frozenset({"start", "started", "boot", "created", "creation", "seen", "modified", "changed", "last"})
_DOWN_WORDS = frozenset({"success", "succ", "availability", "available", "avail", "uptime", "apdex", "healthy",
                         "free", "freeable"})  # "succ": success, as in succ_rate; "avail": node_filesystem_avail_bytes
_DOWN_PAIRS = (("hit", "ratio"), ("hit", "rate"))
# a resource's utilisation or saturation (the USE method's U and S): busier is worse, a counter of busy time too
_SATURATION_WORDS = frozenset({"utilization", "utilisation", "util", "utilized", "busy", "saturation", "saturated"})
# work waiting: a queue's length, a backlog, what is pending grows when a service falls behind; a total or a
# histogram's part counts what went through instead (rabbitmq_queue_messages_published_total: a rate of work)
_WAITING_WORDS = frozenset({"queue", "queues", "queued", "backlog", "backlogged", "pending",
                            "workqueue", "inqueue"})  # Kubernetes' workqueue_depth, API priority's inqueue_requests
# who serves a queue: fewer consumers or workers is what backs it up (rabbitmq_queue_consumers), either way
_SERVING_WORDS = frozenset({"consumer", "consumers", "worker", "workers", "subscriber", "subscribers"})
# a physical reading names what the series measures; error words beside it say what it watches, not which way
# is bad (``machine_temperature_system_failure`` is a temperature: a fall can be the failure), unless the name
# counts them: it ends in a plural or participle (``sensor_voltage_errors``, ``temp_reads_failed``) or adds up
# (``temperature_read_failures_total``)
_READINGS = frozenset({"temperature", "celsius", "fahrenheit", "kelvin", "humidity", "voltage", "volts"})
_COUNTED_ERRORS = frozenset({"errors", "failures", "failed", "exceptions", "timeouts", "rejected", "dropped"})


def name_tokens(metric: str) -> list[str]:
    """Lower-case words of a metric name: ``cacheHitRatio`` and ``cache_hit_ratio`` give cache, hit, ratio;
    an acronym ends before a capitalised word (``5XXError``: 5xx, error; ``HTTPCode``: http, code) and a
    capitalised ``Un`` stays with its word (``UnHealthyHostCount``: unhealthy, host, count)."""
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", metric)
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", spaced)
    spaced = re.sub(r"([0-9])([A-Z][a-z])", r"\1 \2", spaced)
    spaced = re.sub(r"\b([Uu]n) (?=[A-Za-z])", r"\1", spaced)
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]


def accumulates(metric: str) -> bool:
    """The name is a counter's total or a histogram's count, sum or buckets: it adds up, it measures no wait."""
    return _ends_accumulated(name_tokens(metric))


def _ends_accumulated(tokens: list[str]) -> bool:
    return bool(tokens) and tokens[-1] in _ACCUMULATED


def _counts_errors(tokens: list[str]) -> bool:
    """The name counts errors: it ends in a plural or participle error word, or is a total or count of one."""
    if not tokens:
        return False
    last = tokens[-1] if not _ends_accumulated(tokens) else tokens[-2] if len(tokens) > 1 else ""
    return last in _COUNTED_ERRORS or (_ends_accumulated(tokens) and bool(ERROR_WORDS.intersection(tokens)))


def _says_waiting(tokens: list[str]) -> bool:
    """The name measures work waiting (queue_depth, pending_pods, BacklogCount): a queue word in a name that does
    not add up, or whose count follows the queue word (a count of what waits, not a histogram's count), and names
    no one serving the queue (its consumers or workers)."""
    if not _WAITING_WORDS.intersection(tokens) or _SERVING_WORDS.intersection(tokens):
        return False
    return not _ends_accumulated(tokens) or (tokens[-1] == "count" and len(tokens) > 1 and tokens[-2] in _WAITING_WORDS)


def says_wait(metric: str) -> bool:
    """The name measures a wait: a duration word (latency, duration, time, rt, elapsed), a time unit or a latency
    quantile (``avg_rt``, ``cost_ms``, ``TargetResponseTime``, ``p99``), and is no total, count, sum, bucket, clock
    offset or time left."""
    return _says_duration(name_tokens(metric))


def says_per_time(metric: str) -> bool:
    """The name says a rate: a count per a time (``requests_per_second``, ``bytes_per_sec``) or a rate's
    abbreviation (``qps``, ``iops``)."""
    tokens = name_tokens(metric)
    return bool(_RATE_WORDS.intersection(tokens)) or any(
        t == "per" and i + 1 < len(tokens) and tokens[i + 1] in _PER_TIME for i, t in enumerate(tokens))


def _point_in_time(tokens: list[str]) -> bool:
    """The name says when something happened: a time after a word such as start, boot or seen."""
    return any(t == "time" and i > 0 and tokens[i - 1] in _WHEN_WORDS for i, t in enumerate(tokens))


def _says_duration(tokens: list[str]) -> bool:
    """A duration word, a time unit or a latency quantile (p99) in a name that measures a wait."""
    if not tokens or _ends_accumulated(tokens) or _NOT_A_WAIT.intersection(tokens) or _point_in_time(tokens):
        return False
    return any(_PERCENTILE.fullmatch(t) or t in _DURATION_WORDS
               or (t in _TIME_UNITS and i > 0 and tokens[i - 1] != "per") for i, t in enumerate(tokens))


@lru_cache(maxsize=4096)
def infer_direction(metric: str) -> DirectionName:
    """``up`` when the name says errors or failures, or a wait: latency, duration, time, a time unit or a quantile
    (``_seconds``, ``_ms``, ``p99``) in a name that is no total, count, sum, clock offset or time left; or
    utilisation or saturation (``cpu_utilization``, ``busy_workers``); or work waiting (``queue_depth``,
    ``pending_pods``, a backlog); ``down`` for success, availability, a hit ratio or what is free; ``both`` when the
    name does not say, or names a physical reading (a temperature, humidity or voltage) without counting errors: a
    reading can go wrong either way."""
    tokens = name_tokens(metric)
    words = set(tokens)
    if words & _READINGS and not _counts_errors(tokens):
        return "both"
    if words & _DOWN_WORDS or any(a in words and b in words for a, b in _DOWN_PAIRS):
        return "down"
    if words & (_UP_WORDS | _SATURATION_WORDS) or _says_duration(tokens) or _says_waiting(tokens):
        return "up"
    return "both"
