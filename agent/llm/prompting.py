"""Render the prompt templates in ``agent/llm/prompts/`` (Jinja2), with untrusted text fenced off.

Untrusted text (log templates, alert annotations, change descriptions, knowledge snippets) is only
ever placed inside a data block::

    <<<DATA id=F3
    ...
    DATA>>>

and any run of three or more ``<`` or ``>`` inside the data is neutralised, so the data can neither
close its block early nor open a fake one. The system prompt tells the model that data blocks are
evidence, never instructions.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
OPEN, CLOSE = "<<<DATA", "DATA>>>"
_RUN_LT = re.compile(r"<{3,}")
_RUN_GT = re.compile(r">{3,}")
_BAD_ID = re.compile(r"[^A-Za-z0-9_.:\-]+")


class PromptError(ValueError):
    """A prompt template is missing or failed to render."""


def neutralise(text: str) -> str:
    """``text`` with every ``<<<``/``>>>`` run replaced by look-alike quotes, so it cannot fake a delimiter."""
    text = _RUN_LT.sub(lambda m: "‹" * len(m.group(0)), text)
    return _RUN_GT.sub(lambda m: "›" * len(m.group(0)), text)


def one_line(text: Any, limit: int = 300) -> str:
    """Untrusted text squeezed onto one line (so it cannot fake a new record), neutralised and truncated."""
    flat = " ".join(str(text).split())
    flat = neutralise(flat)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def data_block(block_id: str, text: Any, limit: int = 2000) -> str:
    """Untrusted text inside a delimited data block with a sanitised id."""
    body = neutralise(str(text).strip())
    if len(body) > limit:
        body = body[: limit - 1] + "…"
    safe_id = _BAD_ID.sub("_", str(block_id))[:64] or "data"
    return f"{OPEN} id={safe_id}\n{body}\n{CLOSE}"


def data_filter(text: Any, block_id: str, limit: int = 2000) -> str:
    """Jinja filter form of :func:`data_block` (``{% filter data("F3") %}…{% endfilter %}``), ending a line."""
    return data_block(block_id, text, limit) + "\n"


def clock(ts: float | None, ref: float | None = None) -> str:
    """A UTC time as ``HH:MM:SSZ``, with the offset from ``ref`` (``T-4m``) when given."""
    if ts is None:
        return "-"
    text = datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%SZ")
    if ref is None:
        return text
    delta = ts - ref
    sign = "-" if delta < 0 else "+"
    delta = abs(delta)
    span = f"{delta / 3600:.1f}h" if delta >= 7200 else f"{delta / 60:.0f}m" if delta >= 60 else f"{delta:.0f}s"
    return f"{text} (T{sign}{span})"


def iso(ts: float | None) -> str:
    """A UTC time as ISO 8601."""
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def number(value: float) -> str:
    """A number in at most 4 significant digits."""
    return f"{value:.4g}"


@lru_cache(maxsize=8)
def _environment(directory: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(directory),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(one_line=one_line, clock=clock, iso=iso, number=number, data=data_filter)
    env.globals.update(data_block=data_block, open_delimiter=OPEN, close_delimiter=CLOSE)
    return env


def render_template(directory: Path, name: str, /, **variables: Any) -> str:
    """Render ``<directory>/<name>.j2`` (or ``<name>`` when it has a suffix) with the prompt filters.

    Every prompt directory shares one environment setup (:func:`one_line`, ``data``, :func:`clock`,
    :func:`iso`, :func:`number`, :func:`data_block`); a missing or failing template raises
    :class:`PromptError` naming it.
    """
    filename = name if name.endswith(".j2") else f"{name}.j2"
    try:
        template = _environment(directory).get_template(filename)
    except TemplateNotFound as exc:
        raise PromptError(f"no prompt template {filename!r} in {directory}") from exc
    try:
        return template.render(**variables).strip() + "\n"
    except Exception as exc:  # jinja2 raises many kinds; name the template
        raise PromptError(f"prompt template {filename}: {type(exc).__name__}: {exc}") from exc


def render_prompt(name: str, **variables: Any) -> str:
    """Render ``prompts/<name>.j2`` (or ``<name>`` when it has a suffix) with ``variables``."""
    return render_template(PROMPTS_DIR, name, **variables)
