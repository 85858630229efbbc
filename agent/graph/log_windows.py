"""Where an investigation's log lines are split into a reference and the part judged against it.

Log templates are judged by counting lines in two windows: a template missing from the reference is new, one far
more frequent than the reference's rate (scaled by the windows' lengths) bursts. Both only mean something over
time the log store covers. Stores, and bundles most of all, often keep minutes of logs where metrics reach back
an hour or days, so the windows are cut to the store's first and last lines (``LogSource.line_span``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.events import Pattern
from agent.graph.reference import reference_split

LOG_LEAD_S = 300.0  # RCA log incident window opens this long before the alert (rules fire a few minutes in)
MIN_REFERENCE_SHARE = 0.5  # an RCA's log reference is at least this share of what is compared with it


@dataclass(frozen=True)
class LogWindows:
    """The reference (``baseline``) and the judged part (``current``) of the log lines, ``[start, end)`` each;
    ``store_begins``: the store's first line when it comes after the reference (it holds none of it), else None."""

    baseline: tuple[float, float]
    current: tuple[float, float]
    store_begins: float | None = None


def log_windows(pattern: Pattern, start: float, end: float, anchor: float, split: float,
                span: Sequence[float] | None) -> LogWindows | None:
    """The log windows of an investigation over ``[start, end)`` whose metrics split at ``split``; ``span`` is the
    store's first and last lines in it (None: unknown, judged over the whole window). None: no reference or
    nothing after it.

    - RCA: log lines come at the fault, not minutes ahead of it as metric drift may, so the judged part opens
      ``LOG_LEAD_S`` before the alert; but when the store reaches back before that, the reference covers at
      least ``MIN_REFERENCE_SHARE`` of the time judged against it, up to the alert itself (the fault began no
      later). With minutes of logs and an event placed at the fault's start (a replay, or an engineer asking
      "why at 11:04?"), the lead alone left a minute of reference against several of normal lines and the
      fault's: every routine template missing from that minute read as new. Lines that begin after the lead
      have nothing before them and stay new (a hand-made bundle's logs often begin at the incident).
    - Inspection: a store that reaches back to less reference than the inspected hours (it kept only those,
      while metrics go back days) is split as metrics without a reference are, mid-way through its lines, or
      every routine error of those hours would be a new template.
    - Every pattern: the reference begins at the store's first line and the judged part ends at its last, so a
      template's expected count scales by the time the store covers (a template logged every ten minutes since
      the first line was a burst of 80 times its rate when two days the store held nothing of were counted).
    """
    first, last = (float(span[0]), float(span[1])) if span else (None, None)
    if pattern == Pattern.RCA:
        split = max(split, anchor - LOG_LEAD_S)
        if first is not None and last is not None and first < split:
            covered_from, covered_to = max(start, first), min(end, last)
            share = MIN_REFERENCE_SHARE / (1.0 + MIN_REFERENCE_SHARE)
            split = max(split, min(covered_from + share * (covered_to - covered_from), anchor))
    elif pattern == Pattern.INSPECTION and first is not None and first > split - (end - split):
        split = reference_split(pattern, first, end, anchor)  # as metrics without a reference before the window
    if first is not None and first < split:
        start = max(start, first)
    if last is not None and last >= split:
        end = min(end, last + 1.0)  # the window ends exclusive: the last line stays in it
    if not (split > start and end > split):
        return None
    return LogWindows((start, split), (split, end), first if first is not None and first >= split else None)
