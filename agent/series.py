"""Time series and log records: the raw data sources hand to detectors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

import numpy as np

LOG_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "FATAL")  # least to most severe
LEVEL_SYNONYMS = {  # the names other loggers (syslog, log4j, java.util.logging, Go, .NET) give the same levels
    "TRACE": "DEBUG", "FINEST": "DEBUG", "FINER": "DEBUG", "FINE": "DEBUG", "VERBOSE": "DEBUG", "DBG": "DEBUG",
    "INFORMATION": "INFO", "INFORMATIONAL": "INFO", "NOTICE": "INFO", "CONFIG": "INFO", "INF": "INFO",
    "WARNING": "WARN", "WRN": "WARN",
    "ERR": "ERROR", "SEVERE": "ERROR", "ERRO": "ERROR",
    "CRITICAL": "FATAL", "CRIT": "FATAL", "ALERT": "FATAL", "EMERG": "FATAL", "EMERGENCY": "FATAL", "PANIC": "FATAL",
    "DPANIC": "ERROR",  # zap: panics only in development builds
    # single letters: glog / klog (I W E F) and Android logcat (V D I W E F A)
    "V": "DEBUG", "D": "DEBUG", "I": "INFO", "W": "WARN", "E": "ERROR", "F": "FATAL", "A": "FATAL",
}
NUMERIC_LEVELS = {  # two numberings that do not overlap: syslog severities 0-7 and bunyan/pino's tens 10-60
    "0": "FATAL", "1": "FATAL", "2": "FATAL",  # emerg, alert, crit (as their names above)
    "3": "ERROR", "4": "WARN", "5": "INFO", "6": "INFO", "7": "DEBUG",  # err, warning, notice, info, debug
    "10": "DEBUG", "20": "DEBUG", "30": "INFO", "40": "WARN", "50": "ERROR", "60": "FATAL",  # trace .. fatal
}
UNLEVELLED = "INFO"  # a line with no level (plain stdout, a shipper that left it out): routine unless its text says
# otherwise (an exception's text counts at any level, ``detectors.logs.level_weight``)
LEVEL_HELP = (f"one of {', '.join(LOG_LEVELS)} (any case; WARNING, TRACE, CRITICAL, ERR and other common names "
              "are read too, and the numbers of syslog, 0-7, and bunyan/pino, 10-60)")


def canonical_level(level: str) -> str | None:
    """``level`` as one of ``LOG_LEVELS`` (any case, surrounding space ignored, synonyms mapped: WARNING ->
    WARN, TRACE -> DEBUG, CRITICAL -> FATAL, ...; numbers as ``NUMERIC_LEVELS``: syslog 0-7, bunyan/pino 10-60);
    INFO (``UNLEVELLED``) when blank; None when it names no level. Python's numbers (10-50, ERROR 40) are read
    as pino's, one level lower from 20 up: Python JSON loggers write the level's name."""
    upper = level.strip().upper()
    if not upper:
        return UNLEVELLED
    if upper in LOG_LEVELS:
        return upper
    return LEVEL_SYNONYMS.get(upper) or NUMERIC_LEVELS.get(_integral(upper))


# Where a line's own text names its level, when no field does: a key (`level=error`, `"severity": "WARN"`), a
# glog/klog header (`E1205 10:00:00.123 ...`), a bracketed level in any case (nginx's `[error]`), or an
# upper-case level word near the start (Spring's `2023-01-29 10:00:00.123 ERROR 1 --- ...`, log4j's layouts).
_LEVEL_KEYS = r"(?:level|severity|lvl|loglevel|log\.level)"
# A JSON key, quoted whole (`"level": 50`, `"level":"warn"`): a word or pino's/syslog's number.
_JSON_LEVEL = re.compile(rf'"{_LEVEL_KEYS}"\s*:\s*"?([A-Za-z]+|\d{{1,2}})\b', re.IGNORECASE)
# A logfmt or prose key (`level=warn`, `severity: ERROR`): a word only ("tank level: 3", "retry level=3" are no level).
_WORD_LEVEL = re.compile(rf'(?<![\w."]){_LEVEL_KEYS}\s*[=:]\s*"?([A-Za-z]+)\b', re.IGNORECASE)
_GLOG_HEADER = re.compile(r"([IWEF])\d{4} \d\d:\d\d:\d\d")
_LEVEL_WORDS = "TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|SEVERE|FATAL|CRITICAL|PANIC"
_BRACKETED_LEVEL = re.compile(rf"\[\s*({_LEVEL_WORDS})\s*\]", re.IGNORECASE)
_LEVEL_WORD = re.compile(rf"(?<![A-Za-z0-9_])({_LEVEL_WORDS})(?![A-Za-z0-9_])")
LEVEL_WORD_REACH = 100  # characters from the line's start an upper-case level word is read in (a header's reach)


def level_in_text(message: str) -> str | None:
    """The level a line's text names (one of ``LOG_LEVELS``), for a line whose record gave none; None when the text
    names none. Read in order: a ``level``/``severity`` key (a number only as a JSON key's value), a glog/klog
    header, a bracketed level (any case), an upper-case level word within ``LEVEL_WORD_REACH`` characters of the
    start; the first that names a level wins."""
    for pattern in (_JSON_LEVEL, _WORD_LEVEL):
        if (found := pattern.search(message)) and (level := canonical_level(found[1])):
            return level
    if found := _GLOG_HEADER.match(message.lstrip()):
        return LEVEL_SYNONYMS[found[1]]
    head = message[:LEVEL_WORD_REACH]
    found = _BRACKETED_LEVEL.search(head) or _LEVEL_WORD.search(head)
    return canonical_level(found[1]) if found else None


# An HTTP status a line reports: an access log's (common/combined format, nginx, Apache, envoy, gunicorn:
# `"GET /cart HTTP/1.1" 503`) or a key's (`status=503`, `"status_code": 503`, `http.resp.status=503`); the key
# must say "status" or "response code" (envoy's `"response_code": 503`; a bare `code` is as often a gRPC or an
# application code).
_ACCESS_STATUS = re.compile(r'HTTP/\d(?:\.\d)?"\s+([1-5]\d\d)(?!\w)')
_KEYED_STATUS = re.compile(
    r'(?<![\w.])"?(?:http[._])?(?:(?:resp(?:onse)?[._])?status(?:[._]?code)?|resp(?:onse)?[._]?code)"?\s*[=:]\s*"?'
    r'([1-5]\d\d)(?![\w.])',
    re.IGNORECASE)
SERVER_ERROR_LEVEL = "ERROR"  # a request answered 5xx failed on the server's side, whatever level its line has
ROUTINE_LEVELS = ("DEBUG", "INFO")  # levels a reported server error raises to ``SERVER_ERROR_LEVEL``


def http_status_in_text(message: str) -> int | None:
    """The HTTP status a log line reports (an access log's status field, or a ``status``/``status_code`` key's
    value), None when it reports none."""
    found = _ACCESS_STATUS.search(message) or _KEYED_STATUS.search(message)
    return int(found[1]) if found else None


def line_level(given: str, message: str) -> str | None:
    """A log line's level: the one ``given`` names (``canonical_level``; None when it names none); when ``given``
    is blank, the one its text names (``level_in_text``), else ``UNLEVELLED``. A routine level (DEBUG, INFO,
    none) is raised to ERROR when the line reports an HTTP 5xx status (``http_status_in_text``): access logs
    are shipped at INFO whatever the request's fate, and their status is how they say a request failed."""
    level = canonical_level(given) if given.strip() else level_in_text(message) or UNLEVELLED
    if level in ROUTINE_LEVELS and (status := http_status_in_text(message)) is not None and status >= 500:
        return SERVER_ERROR_LEVEL
    return level


def _integral(text: str) -> str:
    """``text`` without a float's zero fraction (``"40.0"`` -> ``"40"``), else as given."""
    whole, dot, fraction = text.partition(".")
    return whole if dot and fraction.strip("0") == "" and whole else text


def level_name(level: str) -> str:
    """``canonical_level``, or the name upper-cased when it names none of the levels (compared as given)."""
    return canonical_level(level) or level.strip().upper()


@dataclass(frozen=True)
class Series:
    """One time series: a metric name, its labels (``service`` among them) and sorted samples."""

    metric: str
    labels: Mapping[str, str]
    timestamps: np.ndarray
    values: np.ndarray
    per_second: bool = False  # a count read as its per-second rate (``detectors.counters.as_rate``)

    @property
    def service(self) -> str | None:
        return self.labels.get("service")

    def key(self) -> str:
        """``metric{a="1",b="2"}`` with labels sorted: stable identity for links and ids."""
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return f"{self.metric}{{{inner}}}"

    def between(self, start: float, end: float) -> Series:
        """Samples with ``start <= t < end``."""
        mask = (self.timestamps >= start) & (self.timestamps < end)
        return replace(self, timestamps=self.timestamps[mask], values=self.values[mask])

    def last(self, count: int) -> Series:
        """The most recent ``count`` samples (all of them when there are fewer, none for 0)."""
        first = max(len(self) - count, 0)  # not [-count:]: [-0:] is every sample
        return replace(self, timestamps=self.timestamps[first:], values=self.values[first:])

    def __len__(self) -> int:
        return int(self.timestamps.size)


DEFAULT_STEP_S = 60.0  # the sampling interval assumed when the data cannot tell (one sample a minute)


def sample_step(series: Sequence[Series], default: float = DEFAULT_STEP_S) -> float:
    """The data's sampling interval: the median gap between consecutive samples over ``series``
    (``default`` when no series has two samples)."""
    return median_gap([s.timestamps for s in series], default)


def missed_scrapes(timestamps: np.ndarray, step: float) -> np.ndarray:
    """For each of the sorted ``timestamps``, how many samples ``step`` seconds apart are missing just before it (0
    for the first): a gap of three intervals is two missed scrapes."""
    times = np.asarray(timestamps, dtype=float)
    if times.size < 2 or step <= 0:
        return np.zeros(times.size, dtype=int)
    return np.r_[0, np.maximum(np.rint(np.diff(times) / step) - 1, 0)].astype(int)


def median_gap(timestamps: Iterable[Sequence[float] | np.ndarray], default: float = DEFAULT_STEP_S) -> float:
    """The median positive gap between consecutive times over every sequence of ``timestamps`` (each sorted);
    ``default`` when there is none."""
    gaps = [np.diff(np.asarray(t, dtype=float)) for t in timestamps if len(t) >= 2]
    joined = np.concatenate(gaps) if gaps else np.empty(0)
    joined = joined[joined > 0]
    return float(np.median(joined)) if joined.size else default


def make_series(metric: str, labels: Mapping[str, str], points: list[tuple[float, float]]) -> Series:
    """A Series from (timestamp, value) pairs in any order; NaN values are dropped, samples sharing a timestamp
    merged (``merge_repeats``)."""
    if points:
        arr = np.asarray(sorted(points), dtype=float)
        ts, vs = arr[:, 0], arr[:, 1]
        keep = ~np.isnan(vs)
        ts, vs = merge_repeats(ts[keep], vs[keep])
    else:
        ts = vs = np.empty(0, dtype=float)
    return Series(metric=metric, labels=dict(labels), timestamps=ts, values=vs)


def merge_repeats(timestamps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Time-sorted samples with those sharing a timestamp made one, their mean: exact duplicates (overlapping
    export windows write them) change nothing, conflicting ones are averaged."""
    if timestamps.size < 2 or not np.any(timestamps[1:] == timestamps[:-1]):
        return timestamps, values
    starts = np.flatnonzero(np.r_[True, timestamps[1:] != timestamps[:-1]])
    counts = np.diff(np.r_[starts, timestamps.size])
    firsts = values[starts]
    # the mean as the first value plus the mean deviation from it: exactly the value when all are equal
    deviations = np.add.reduceat(values - np.repeat(firsts, counts), starts)
    return timestamps[starts], firsts + deviations / counts


@dataclass(frozen=True, slots=True)  # slots: a busy system's bundle holds a million of them
class LogRecord:
    """One log line."""

    ts: float
    service: str
    level: str
    message: str
    instance: str | None = None
    trace_id: str | None = None
    extra: Mapping[str, object] = field(default_factory=dict)


DEFAULT_CHANGE_TYPE = "deploy"  # a change that names no type (missing, empty or null)
ChangeType = Literal["deploy", "config", "flag", "canary", "rollback"]  # what a Skill's triggers can name
CHANGE_TYPES: tuple[str, ...] = get_args(ChangeType)


def change_type(given: str | None) -> str:
    """A change's type as given, or ``DEFAULT_CHANGE_TYPE`` when it names none (None, empty or blank)."""
    return given if given and given.strip() else DEFAULT_CHANGE_TYPE


def diff_text(value: object) -> object:
    """A change's diff given as a JSON object or array (``{"replicas": [3, 5]}``) as its compact JSON text, key order
    kept, so everything reading the diff reads text; any other value as given."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return value


@dataclass(frozen=True)
class ChangeRecord:
    """One deploy, config push, flag flip, canary or rollback."""

    ts: float
    service: str
    type: str
    id: str
    description: str = ""
    version: str | None = None
    author: str | None = None
    canary: Mapping[str, str] | None = None
    baseline: Mapping[str, str] | None = None
    diff: str | None = None
