"""Select and pool series: by label matchers, and per (metric, service) over a time window."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

from agent.series import Series


def select_by_labels(series: Sequence[Series], matchers: Mapping[str, str]) -> list[Series]:
    """The series whose labels equal every matcher (e.g. a canary's ``{version: v2.31.0}``)."""
    return [s for s in series if all(s.labels.get(k) == v for k, v in matchers.items())]


def pool_by_metric_service(
    series: Sequence[Series], start: float, end: float
) -> dict[tuple[str, str | None], np.ndarray]:
    """All samples in ``[start, end)`` per (metric, service), instances pooled."""
    pooled: dict[tuple[str, str | None], list[np.ndarray]] = defaultdict(list)
    for s in series:
        pooled[(s.metric, s.service)].append(s.between(start, end).values)
    return {key: np.concatenate(parts) for key, parts in pooled.items()}
