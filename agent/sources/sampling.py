"""Thinning a log answer to a line limit without biasing the rates the detectors compare.

The log detectors compare a template's rate in a reference window with its rate in the minutes up to the
event, and the trace detector compares each trace's path with the reference's paths. A limit applied by
cutting at one end, or at both, leaves one window measured over time it holds no lines for: on a busy system
every template of the incident window looked like a burst or new. Here every stretch of time keeps the same
share of its lines instead (a systematic sample), so both windows are thinned alike and their ratio stays
what it was; a query reading whole traces keeps whole traces (a share of the traces, with all their lines).

Lines are thinned within their service and level (``stratified``): the detectors count templates per service
and level, so a ratio within one is what must hold, and a small group (six ERROR lines beside a busy INFO
stream) is kept whole rather than thinned to nothing: the budget is shared out so that no group gets more than
an equal share of what the smaller groups leave.

One rule picks the sample everywhere: of ``n`` ordered items keep the ``j``-th (0-based) when
``(j + 1) * k // n > j * k // n``, which keeps exactly ``k`` evenly spread items. The SQL store applies the same
rule in SQL (``row_number()``), so a bundle and a store holding the same lines answer the same lines.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TypeVar

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

ROUNDS = 5  # budget corrections for whole traces longer than the average line share


def kept(index: int, keep: int, total: int) -> bool:
    """Whether the ``index``-th (0-based) of ``total`` ordered items is among ``keep`` evenly spread ones."""
    return (index + 1) * keep // total > index * keep // total


def evenly(items: Sequence[T], limit: int) -> tuple[list[T], bool]:
    """At most ``limit`` of time-ordered ``items``: all of them, or ``limit`` evenly spread ones (truncated: True)."""
    total = len(items)
    if total <= limit:
        return list(items), False
    return [item for i, item in enumerate(items) if kept(i, limit, total)], True


def fair_quotas(sizes: Mapping[K, int], limit: int) -> dict[K, int]:
    """How many of each group's items to keep, ``limit`` in all: groups smallest first, each keeps all of its
    items or an equal share of what is left, whichever is less (water-filling; ties by key, so the choice is
    the same everywhere)."""
    quotas: dict[K, int] = {}
    left = limit
    ordered = sorted(sizes.items(), key=lambda kv: (kv[1], repr(kv[0])))
    for position, (group, size) in enumerate(ordered):
        quotas[group] = min(size, left // (len(ordered) - position))
        left -= quotas[group]
    return quotas


def stratified(items: Sequence[T], limit: int, group_of: Callable[[T], K]) -> tuple[list[T], bool]:
    """At most ``limit`` of time-ordered ``items``: all of them, or within each group (``group_of``: a line's
    service and level) its ``fair_quotas`` share spread evenly over the window (truncated: True)."""
    total = len(items)
    if total <= limit:
        return list(items), False
    groups = [group_of(item) for item in items]
    sizes = Counter(groups)
    quotas = fair_quotas(sizes, limit)
    seen: Counter[K] = Counter()
    chosen = []
    for item, group in zip(items, groups, strict=True):
        if kept(seen[group], quotas[group], sizes[group]):
            chosen.append(item)
        seen[group] += 1
    return chosen, True


def share_of(count: int, limit: int, total: int) -> int:
    """How many of ``count`` items a sample keeping ``limit`` of ``total`` keeps (at least one of a non-empty set)."""
    return min(count, max(1 if count else 0, round(count * limit / total)))


def whole_traces(items: Sequence[T], limit: int, trace_of: Callable[[T], str | None]) -> tuple[list[T], bool]:
    """At most ``limit`` of time-ordered ``items``, traces kept whole: the same share of the traces (in order of
    their first line, evenly spread) with every line of each, and that share of the lines with no trace, evenly
    spread (``within_limit``). All of them when they fit (truncated: False)."""
    total = len(items)
    if total <= limit:
        return list(items), False
    traces = [trace_of(item) for item in items]
    first_seen: dict[str, int] = {}
    for trace in traces:
        if trace is not None and trace not in first_seen:
            first_seen[trace] = len(first_seen)
    untraced = traces.count(None)

    def pick(budget: int) -> list[T]:
        keep_traces, keep_untraced = share_of(len(first_seen), budget, total), share_of(untraced, budget, total)
        chosen, position = [], 0
        for item, trace in zip(items, traces, strict=True):
            if trace is not None:
                if kept(first_seen[trace], keep_traces, len(first_seen)):
                    chosen.append(item)
            else:
                if kept(position, keep_untraced, untraced):
                    chosen.append(item)
                position += 1
        return chosen

    return within_limit(limit, pick), True


def within_limit(limit: int, pick: Callable[[int], Sequence[T]]) -> list[T]:
    """``pick(budget)`` for the largest budget up to ``limit`` whose sample holds at most ``limit`` lines.

    A share of the traces holds that share of the lines only when traces are alike in length; where the chosen
    ones are longer, the budget shrinks in proportion (``ROUNDS`` at most), so whole traces are dropped rather
    than traces cut. Whatever is still over ``limit`` at the end is thinned ``evenly``.
    """
    budget = limit
    chosen = pick(budget)
    for _ in range(ROUNDS):
        if len(chosen) <= limit:
            break
        budget = max(1, budget * limit // len(chosen))
        chosen = pick(budget)
    return evenly(chosen, limit)[0]
