"""The robust inspection baseline the NAB development set's README names as the bar to beat.

Per series: median and MAD of the history before the inspected window; an alarm when any point
of the window lies more than ``MADS`` MADs from the median. Used by benchmarks/real_sets.py beside
the agent's own inspection verdicts.
"""

from __future__ import annotations

import numpy as np

from agent.bundles.reader import CaseBundle

MADS = 5.0


def mad_alarms(bundle: CaseBundle) -> set[str]:
    """Services with at least one series beyond ``MADS`` MADs inside the inspected window."""
    scope = bundle.event.scope
    window = scope.window if scope is not None else 7200.0
    split = bundle.event.time - window
    flagged: set[str] = set()
    for series in bundle.series:
        before = series.values[series.timestamps < split]
        inside = series.values[(series.timestamps >= split) & (series.timestamps <= bundle.event.time)]
        if before.size < 3 or inside.size == 0:
            continue
        center = float(np.median(before))
        mad = float(np.median(np.abs(before - center))) or 1e-12
        if float(np.max(np.abs(inside - center))) / mad > MADS:
            flagged.add(series.service or series.metric)
    return flagged
