"""Accuracy on a system whose names no Skill knows: fresh simulated scenarios with services and metrics renamed.

The simulator's own Skills are written for its services (``ranking``, ``feature-store``, ...) and metric names
(``request_latency_p99_seconds``, ...). A new user's system has other names. Each fresh scenario (``--count``
per pattern, seeds from ``--seed-start``, >= 1000) is answered six ways, offline as ``bianque eval`` does:

- **as simulated**;
- **services renamed**: every service (and business) becomes ``svc-NN`` wherever it appears (metrics, logs,
  changes, event, alert, topology, label), so no Skill of the simulator's modules fits and the generic Skills
  answer;
- **services renamed, metrics in short forms**: the metric names too become the short forms many monitoring
  systems of search, recommendation and ads engines use (``qps``, ``rt_p99``, ``err_rate``, ``cpu_util``,
  ``mem_used``, ``hit_rate``, ``ctr``; ``SHORT_FORMS``): the words say what a series measures, in other words;
- **services renamed, requests counted by status**: the request rate and error ratio become one request counter
  split by an HTTP status label, ``http_requests_total{code="200"}`` and ``{code="500"}`` (``by_status``), as
  Prometheus-native services count requests: the failures are a series of a request counter, named as its work is;
- **services renamed, latency as histograms**: the request rate and p50 / p99 latency become one Prometheus
  histogram, ``http_request_duration_seconds_bucket{le=...}``, ``_count`` and ``_sum``, cumulative counters
  (``by_histogram``), as services instrumented with a Prometheus client export latency: no series is a quantile;
- **services and metrics renamed**: the metric names too become ``metric-NNN``: no name says what a series
  measures or which way is bad (the catch-all reads every series both ways). An inspection then counts as
  finding a labelled problem when it flags the right service (``kind: anomaly``): no report could name a
  memory leak in a series called ``metric-017``.

Prints per variant: RCA top-1 / top-3, actionable alerts judged as needing no attention, noise silenced; bad
releases intercepted and good ones blocked; inspection recall and false alarms.

Usage::

    .venv/bin/python benchmarks/foreign_names.py [--count 20] [--seed-start 1000] [--json]
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
import tempfile
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from common import (
    BenchResult,
    add_common_arguments,
    bench_settings,
    emit,
    evaluated_measures,
    fresh_scenarios,
    measures_table,
    seed_start_argument,
)

PATTERNS = ("rca", "release_interception", "inspection")
TEXT_FILES = ("event.yaml", "label.yaml", "topology.yaml", "logs.jsonl", "changes.jsonl")
HISTOGRAMMED = ("requests_per_second", "request_latency_p50_seconds", "request_latency_p99_seconds")
HISTOGRAM_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)  # Prometheus clients' defaults
Z99 = 2.3263  # the standard normal's 99th percentile
STATUS_COUNTED = ("requests_per_second", "request_error_ratio")  # (work, failed share) of each sample
SHORT_FORMS = {  # the simulator's metric names as many in-house monitoring systems write them
    "requests_per_second": "qps", "request_latency_p99_seconds": "rt_p99", "request_latency_p50_seconds": "rt_p50",
    "request_error_ratio": "err_rate", "cpu_usage_ratio": "cpu_util", "memory_usage_bytes": "mem_used",
    "disk_usage_ratio": "disk_util", "cache_hit_ratio": "hit_rate", "click_through_ratio": "ctr",
}


def bundle_names(bundle: Path) -> tuple[set[str], set[str]]:
    """(services, metric names) in a bundle's ``metrics.csv`` and ``topology.yaml``."""
    import yaml

    services: set[str] = set()
    metrics: set[str] = set()
    with (bundle / "metrics.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            services.add(row["service"])
            metrics.add(row["metric"])
    topology = yaml.safe_load((bundle / "topology.yaml").read_text()) if (bundle / "topology.yaml").exists() else {}
    for service, entry in ((topology or {}).get("services") or {}).items():
        services.add(service)
        services.update((entry or {}).get("depends_on") or [])
    return services, metrics


def word_replacer(mapping: Mapping[str, str]) -> Callable[[str], str]:
    """A function replacing each key of ``mapping`` where it stands as a whole name (not inside a longer
    identifier; ``-`` and ``.`` may border it, so ``ranking-3`` becomes ``svc-04-3``), longest keys first."""
    if not mapping:
        return lambda text: text
    keys = sorted(mapping, key=len, reverse=True)
    pattern = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(re.escape(k) for k in keys) + r")(?![A-Za-z0-9_])")
    return lambda text: pattern.sub(lambda m: mapping[m.group(1)], text)


def by_status(rows: Iterable[dict[str, str]]) -> Iterator[dict[str, str]]:
    """The simulator's request rate and error ratio of each sample as one request counter split by an HTTP status
    label, ``http_requests_total{code="200"}`` and ``{code="500"}`` (``STATUS_COUNTED``), as Prometheus-native
    services count requests; every other row as it was, with an empty ``code``."""
    pending: dict[tuple[str, ...], dict[str, dict[str, str]]] = {}
    for row in rows:
        if row["metric"] not in STATUS_COUNTED:
            yield {**row, "code": ""}
            continue
        key = tuple(v for k, v in row.items() if k not in ("metric", "value"))
        sample = pending.setdefault(key, {})
        sample[row["metric"]] = row
        if len(sample) == len(STATUS_COUNTED):
            del pending[key]
            rate, errors = (float(sample[m]["value"]) for m in STATUS_COUNTED)
            counter = {**row, "metric": "http_requests_total"}
            yield {**counter, "value": f"{rate * (1.0 - errors):.6g}", "code": "200"}
            yield {**counter, "value": f"{rate * errors:.6g}", "code": "500"}
    for sample in pending.values():  # a rate without its error ratio (or the reverse): as it was
        yield from ({**row, "code": ""} for row in sample.values())


def by_histogram(rows: Iterable[dict[str, str]]) -> Iterator[dict[str, str]]:
    """The simulator's request rate and p50 / p99 latency of each instance as one Prometheus histogram,
    ``http_request_duration_seconds_bucket{le=...}`` (the client libraries' default bounds), ``_count`` and
    ``_sum``, cumulative counters as instrumented services export them: each sample's requests spread over the
    buckets by a log-normal through its p50 and p99 (``HISTOGRAMMED``); every other row as it was, with an empty
    ``le``."""
    samples: dict[tuple[tuple[str, str], ...], dict[float, dict[str, float]]] = {}
    for row in rows:
        if row["metric"] not in HISTOGRAMMED:
            yield {**row, "le": ""}
            continue
        key = tuple((k, v) for k, v in row.items() if k not in ("metric", "value", "timestamp"))
        samples.setdefault(key, {}).setdefault(float(row["timestamp"]), {})[row["metric"]] = float(row["value"])
    for key, by_time in samples.items():
        counted = dict.fromkeys((*HISTOGRAM_BOUNDS, math.inf, "count", "sum"), 0.0)
        previous = None
        for ts in sorted(by_time):
            sample = by_time[ts]
            if len(sample) < len(HISTOGRAMMED):
                continue
            rate, p50, p99 = (sample[m] for m in HISTOGRAMMED)
            requests = rate * (ts - previous if previous is not None else 60.0)
            previous = ts
            mu, sigma = math.log(max(p50, 1e-9)), max(math.log(max(p99, 1e-9) / max(p50, 1e-9)) / Z99, 1e-6)
            for bound in HISTOGRAM_BOUNDS:
                counted[bound] += requests * 0.5 * (1.0 + math.erf((math.log(bound) - mu) / (sigma * math.sqrt(2))))
            counted[math.inf] += requests
            counted["count"] += requests
            counted["sum"] += requests * math.exp(mu + sigma * sigma / 2.0)
            base = {**dict(key), "timestamp": f"{ts:.0f}", "le": ""}
            for bound in (*HISTOGRAM_BOUNDS, math.inf):
                yield {**base, "metric": "http_request_duration_seconds_bucket", "value": f"{counted[bound]:.10g}",
                       "le": "+Inf" if bound == math.inf else f"{bound:g}"}
            yield {**base, "metric": "http_request_duration_seconds_count", "value": f"{counted['count']:.10g}"}
            yield {**base, "metric": "http_request_duration_seconds_sum", "value": f"{counted['sum']:.10g}"}


Regrouping = tuple[str, Callable[[Iterable[dict[str, str]]], Iterator[dict[str, str]]]]  # (label column added, rewrite)
BY_STATUS: Regrouping = ("code", by_status)
BY_HISTOGRAM: Regrouping = ("le", by_histogram)


def renamed_copy(bundle: Path, out: Path, *, metrics_too: bool, businesses: Mapping[str, str],
                 metric_names: Mapping[str, str] | None = None, service_names: Mapping[str, str] | None = None,
                 regrouped: Regrouping | None = None) -> Path:
    """``bundle`` written to ``out`` with every service (and the ``businesses`` given) renamed ``svc-NN`` (or as
    ``service_names`` maps it), and, with ``metrics_too``, every metric ``metric-NNN`` (or each metric
    ``metric_names`` maps), consistently in every file; with ``regrouped``, its metric rows rewritten so
    (``BY_STATUS``, ``BY_HISTOGRAM``)."""
    services, metrics = bundle_names(bundle)
    names = {s: (service_names or {}).get(s, f"svc-{i:02d}") for i, s in enumerate(sorted(services), 1)}
    names.update({b: n for b, n in businesses.items() if b not in names})
    if metrics_too:
        names.update({m: f"metric-{i:03d}" for i, m in enumerate(sorted(metrics), 1)})
    elif metric_names:
        names.update({m: metric_names[m] for m in metrics if m in metric_names})
    rename = word_replacer(names)
    out.mkdir(parents=True)
    with (bundle / "metrics.csv").open(newline="") as src, (out / "metrics.csv").open("w", newline="") as dst:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(dst, fieldnames=[*(reader.fieldnames or []), *([regrouped[0]] if regrouped else [])])
        writer.writeheader()
        rows = ({k: rename(v) if k in ("service", "metric", "instance") and v else v for k, v in row.items()}
                for row in reader)
        writer.writerows(regrouped[1](rows) if regrouped else rows)
    for name in TEXT_FILES:
        if (bundle / name).exists():
            (out / name).write_text(rename((bundle / name).read_text()))
    _rename_inside_words(out / "event.yaml", {k: v for k, v in names.items() if k in services or k in businesses})
    if metrics_too:
        _service_only_truth(out / "label.yaml")
    return out


def _rename_inside_words(event: Path, services: Mapping[str, str]) -> None:
    """Service names also renamed where they hide in an alert: inside its name (``GatewayP99LatencyHigh``,
    ``FeatureStoreDown``, case-insensitively) and URL-encoded in its generator URL."""
    import yaml

    data = yaml.safe_load(event.read_text()) or {}
    alert = data.get("alert")
    if not services or not isinstance(alert, dict):
        return
    parts = (r"[-_ ]?".join(map(re.escape, re.split(r"[-_ ]", s))) for s in services)
    pattern = re.compile("|".join(sorted(parts, key=len, reverse=True)), re.IGNORECASE)
    lookup = {re.sub(r"[-_ ]", "", s).lower(): new for s, new in services.items()}

    def clean(text: str) -> str:
        return pattern.sub(lambda m: lookup[re.sub(r"[-_ ]", "", m.group(0)).lower()], urllib.parse.unquote(text))

    labels = alert.get("labels") or {}
    if isinstance(labels.get("alertname"), str):
        labels["alertname"] = clean(labels["alertname"])
    if isinstance(alert.get("generatorURL"), str):
        alert["generatorURL"] = clean(alert["generatorURL"])
    event.write_text(yaml.safe_dump(data, sort_keys=False))


def _service_only_truth(label: Path) -> None:
    """An inspection's labelled findings as ``kind: anomaly``: with no name saying what a series measures,
    the report can say which service is off but not that it is a memory leak (``agent.scoring.ANY_KIND``)."""
    import yaml

    data = yaml.safe_load(label.read_text()) or {}
    if data.get("findings"):
        data["findings"] = [{**f, "kind": "anomaly"} for f in data["findings"]]
        label.write_text(yaml.safe_dump(data, sort_keys=False))


def businesses_of(bundles: list[Path]) -> dict[str, str]:
    """Every ``business`` the bundles' events name, each as ``biz-N``."""
    import yaml

    found = sorted({str(b) for p in bundles if (b := (yaml.safe_load((p / "event.yaml").read_text()) or {})
                                                 .get("business"))})
    return {b: f"biz-{i}" for i, b in enumerate(found, 1)}


def main(argv: list[str] | None = None) -> BenchResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="scenarios per pattern (default 20)")
    seed_start_argument(parser)
    add_common_arguments(parser, knowledge=False)
    args = parser.parse_args(argv)
    rows: dict[str, dict[str, str]] = {}
    with bench_settings(args.home) as settings, tempfile.TemporaryDirectory(prefix="bianque-names-") as scratch:
        root = Path(scratch)
        original = [p for paths in fresh_scenarios(root / "original", PATTERNS, args.count, args.seed_start).values()
                    for p in paths]
        businesses = businesses_of(original)
        variants = {
            "as simulated": original,
            "services renamed": [renamed_copy(p, root / "services" / p.parent.name / p.name, metrics_too=False,
                                              businesses=businesses) for p in original],
            "services renamed, metrics in short forms": [
                renamed_copy(p, root / "short" / p.parent.name / p.name, metrics_too=False, businesses=businesses,
                             metric_names=SHORT_FORMS) for p in original],
            "services renamed, requests counted by status": [
                renamed_copy(p, root / "status" / p.parent.name / p.name, metrics_too=False, businesses=businesses,
                             regrouped=BY_STATUS) for p in original],
            "services renamed, latency as histograms": [
                renamed_copy(p, root / "histogram" / p.parent.name / p.name, metrics_too=False,
                             businesses=businesses, regrouped=BY_HISTOGRAM) for p in original],
            "services and metrics renamed": [renamed_copy(p, root / "all" / p.parent.name / p.name, metrics_too=True,
                                                          businesses=businesses) for p in original],
        }
        for label, bundles in variants.items():
            rows[label] = evaluated_measures(label, bundles, settings)
    title = f"Fresh simulated scenarios under names no Skill knows ({args.count} per pattern, strict)"
    return BenchResult(tables={"names": measures_table(title, rows)}, data={"count": args.count, "variants": rows})


if __name__ == "__main__":
    result = main(sys.argv[1:])
    emit(result, "--json" in sys.argv)
