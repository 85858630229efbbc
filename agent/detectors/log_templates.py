"""Log templates with drain3: mine a baseline and a current window, count each template in both."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

from agent.series import LogRecord, level_name

_EDGE_L, _EDGE_R = r"(?<![A-Za-z0-9])", r"(?![A-Za-z0-9])"  # a token's edges: no letter or digit beside it
# Order matters: the more specific masks run before plain numbers eat their digits.
MASKS: tuple[tuple[str, str], ...] = (
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "UUID"),
    (_EDGE_L + r"\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?" + _EDGE_R, "IP"),
    (_EDGE_L + r"(0x[0-9a-fA-F]+|(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{8,}"
     r"|(?=[0-9A-F]*[0-9])(?=[0-9A-F]*[A-F])[0-9A-F]{8,})" + _EDGE_R, "HEX"),  # lower or upper case, not mixed
    (_EDGE_L + r"\d+(\.\d+)?(ns|us|µs|ms|s|m|h)" + _EDGE_R, "DUR"),
    (_EDGE_L + r"[-+]?\d+(\.\d+)?%?" + _EDGE_R, "NUM"),
)
_COMPILED_MASKS = tuple((re.compile(pattern), f"<{name}>") for pattern, name in MASKS)


@dataclass
class TemplateCount:
    """One template of one service at one level, counted in the baseline and the current window."""

    service: str
    level: str
    template: str
    baseline: int = 0
    current: int = 0
    current_times: list[float] = field(default_factory=list)
    example: str = ""

    @property
    def first_current(self) -> float | None:
        return min(self.current_times) if self.current_times else None


MASK_CACHE = 20_000  # distinct tokens held: ids are unique, but most tokens of a service's lines repeat


def mask(message: str) -> str:
    """``message`` with ids, addresses, durations and numbers replaced by ``<UUID>``, ``<IP>``, ``<HEX>``,
    ``<DUR>``, ``<NUM>`` (``MASKS`` in order).

    Masked a space-separated token at a time, each token cached: no mask matches a space and a space is a
    token edge, so this is the same as masking the whole line, and about ten times faster on real logs,
    whose lines share most of their tokens."""
    return " ".join(map(_mask_token, message.split(" ")))


def masked_line(message: str) -> str:
    """``message`` with its whitespace runs made single spaces, masked (``mask``); ``<empty>`` when blank."""
    return " ".join(map(_mask_token, message.split())) or "<empty>"


@lru_cache(maxsize=MASK_CACHE)
def _mask_token(token: str) -> str:
    for pattern, replacement in _COMPILED_MASKS:
        token = pattern.sub(replacement, token)
    return token


def new_miner() -> TemplateMiner:
    """A drain3 miner with an in-memory config (no ini file, no persistence); lines are masked before they
    reach it (``mask``)."""
    config = TemplateMinerConfig()
    config.masking_instructions = []
    config.drain_sim_th = 0.4
    config.drain_depth = 4
    config.parametrize_numeric_tokens = True
    return TemplateMiner(persistence_handler=None, config=config)


def normal_level(level: str) -> str:
    """The level as one of ``LOG_LEVELS`` (``level_name``); an unknown one upper-cased, an empty one INFO."""
    return level_name(level) or "INFO"


class ServiceMiners:
    """One drain3 miner per service; ``key`` mines a line and names its template ``(service, cluster id)``."""

    def __init__(self) -> None:
        self._miners: dict[str, TemplateMiner] = {}
        self._mined: dict[tuple[str, str], int] = {}  # (service, masked line) -> its cluster id

    def key(self, record: LogRecord) -> tuple[str, int]:
        """Mine one line (level first, so levels never share a template) and return its template key.

        A masked line mined before keeps the cluster it was given: on real logs a few thousand masked lines
        stand for a hundred thousand, and the same line always names the same template."""
        line = f"{normal_level(record.level)} {masked_line(record.message)}"
        cluster = self._mined.get((record.service, line))
        if cluster is None:
            miner = self._miners.get(record.service)
            if miner is None:  # one miner per service, built once (setdefault would build one per line)
                miner = self._miners[record.service] = new_miner()
            cluster = self._mined[record.service, line] = int(miner.add_log_message(line)["cluster_id"])
        return record.service, cluster

    def template(self, key: tuple[str, int]) -> str:
        """The template's current text without its level token."""
        template = self._miners[key[0]].drain.id_to_cluster[key[1]].get_template()
        return template.split(" ", 1)[1] if " " in template else template


@dataclass
class MinedLines:
    """Lines of the two windows mined once, baseline first: (record, window name, template key) each."""

    miners: ServiceMiners
    lines: list[tuple[LogRecord, str, tuple[str, int]]]


def mine_windows(records: Sequence[LogRecord], baseline: tuple[float, float], current: tuple[float, float]
                 ) -> MinedLines:
    """Mine the lines in ``[baseline)`` and ``[current)`` (other lines ignored), baseline lines first and each
    window in time order, so that a current-window line matches its baseline cluster."""
    tagged = sorted(((r, w) for r in records if (w := _window_of(r.ts, baseline, current)) is not None),
                    key=lambda rw: (rw[1] != "baseline", rw[0].ts))
    miners = ServiceMiners()
    return MinedLines(miners, [(record, window, miners.key(record)) for record, window in tagged])


def count_templates(
    records: Sequence[LogRecord], baseline: tuple[float, float], current: tuple[float, float]
) -> list[TemplateCount]:
    """Templates per service and level, counted in ``[baseline)`` and ``[current)``; other lines ignored.

    One miner per service; the level is the first token mined, so levels never share a template.
    Baseline lines are mined first, so a current-window template matches its baseline cluster.
    """
    mined = mine_windows(records, baseline, current)
    counts: dict[tuple[str, int], TemplateCount] = {}
    for record, window, key in mined.lines:
        message = " ".join(record.message.split()) or "<empty>"
        entry = counts.setdefault(key, TemplateCount(record.service, normal_level(record.level), "", example=message))
        if window == "baseline":
            entry.baseline += 1
        else:
            entry.current += 1
            entry.current_times.append(record.ts)
    for key, entry in counts.items():
        entry.template = mined.miners.template(key)
    return list(counts.values())


def _window_of(ts: float, baseline: tuple[float, float], current: tuple[float, float]) -> str | None:
    if current[0] <= ts < current[1]:
        return "current"
    if baseline[0] <= ts < baseline[1]:
        return "baseline"
    return None
