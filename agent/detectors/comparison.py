"""Two-sample comparison used by canary and before/after analysis (Kayenta-style, Mann-Whitney U)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import mannwhitneyu

from agent.detectors.direction import bad_signs, check_direction, mwu_alternative
from agent.detectors.robust import finite, relative_change
from agent.detectors.scoring import combine, p_confidence, saturate

MIN_SAMPLES = 5


@dataclass(frozen=True)
class Comparison:
    """How an experiment sample (canary / after) differs from a control sample (baseline / before)."""

    classification: str  # "high" | "low" | "pass" (Kayenta's labels)
    experiment_median: float
    control_median: float
    rel_change: float
    abs_change: float
    p_value: float
    u_stat: float
    n_experiment: int
    n_control: int
    score: float

    @property
    def direction(self) -> str:
        return "up" if self.abs_change >= 0 else "down"

    def numbers(self, prefix_experiment: str, prefix_control: str) -> dict[str, float]:
        return {
            f"{prefix_experiment}_median": self.experiment_median,
            f"{prefix_control}_median": self.control_median,
            "rel_change": finite(self.rel_change),
            "abs_change": self.abs_change,
            "p_value": self.p_value,
            "u_stat": self.u_stat,
            f"n_{prefix_experiment}": float(self.n_experiment),
            f"n_{prefix_control}": float(self.n_control),
        }


def compare_samples(
    experiment: np.ndarray,
    control: np.ndarray,
    *,
    direction: str = "up",
    min_effect: float = 0.2,
    min_abs_effect: float = 0.0,
    alpha: float = 0.01,
) -> Comparison | None:
    """Compare two samples; ``None`` when either has fewer than 5 points.

    ``classification`` is ``pass`` unless the Mann-Whitney test (one-sided in the bad direction,
    two-sided for ``both``) is below ``alpha`` AND the median moved by at least ``min_effect``
    (relative) and ``min_abs_effect`` (absolute) the bad way. ``score`` is 0 for ``pass``.
    """
    check_direction(direction)
    exp = np.asarray(experiment, dtype=float)
    ctl = np.asarray(control, dtype=float)
    exp, ctl = exp[np.isfinite(exp)], ctl[np.isfinite(ctl)]
    if exp.size < MIN_SAMPLES or ctl.size < MIN_SAMPLES:
        return None
    med_e, med_c = float(np.median(exp)), float(np.median(ctl))
    rel = relative_change(med_e, med_c)
    delta = med_e - med_c
    p_value, u_stat = mann_whitney(exp, ctl, mwu_alternative(direction))
    bad = any(delta * s > 0 for s in bad_signs(direction))
    big_enough = abs(rel) >= min_effect and abs(delta) >= min_abs_effect and delta != 0
    significant = p_value < alpha
    if bad and big_enough and significant:
        classification = "high" if delta > 0 else "low"
        effect_ratio = abs(rel) / min_effect if min_effect > 0 else np.inf
        score = combine(saturate(effect_ratio), p_confidence(p_value, alpha))
    else:
        classification, score = "pass", 0.0
    return Comparison(
        classification=classification,
        experiment_median=med_e,
        control_median=med_c,
        rel_change=rel,
        abs_change=delta,
        p_value=p_value,
        u_stat=u_stat,
        n_experiment=int(exp.size),
        n_control=int(ctl.size),
        score=score,
    )


def mann_whitney(exp: np.ndarray, ctl: np.ndarray, alternative: str) -> tuple[float, float]:
    """Mann-Whitney U as (p, U); identical constant samples give p = 1 instead of a warning and NaN."""
    if np.ptp(np.concatenate([exp, ctl])) == 0:
        return 1.0, float(exp.size * ctl.size) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = mannwhitneyu(exp, ctl, alternative=alternative, method="asymptotic")
    p_value = float(result.pvalue)
    return (1.0 if np.isnan(p_value) else p_value), float(result.statistic)
