"""Service and metric names are free text from the source system; only control characters are refused. Any text
taken in must be text: no NUL character, no unpaired surrogate."""

from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=4096)  # a data file repeats a few hundred names on every row
def name_problem(name: str) -> str | None:
    """Why a service or metric name is refused, or None: names are any text without control characters."""
    bad = next((ch for ch in name if unicodedata.category(ch) == "Cc"), None)
    if bad is None:
        return None
    return f"contains the control character U+{ord(bad):04X} ({name!r}); names may be any other text"


MAX_NAME_CHARS = 200
"""The longest service or alert name an event taken in may carry: the memory's columns (events, alerts) hold no
more, and PostgreSQL refuses a longer one. Checked where events come in (the webhook, ``POST /investigate``, a
bundle's event.yaml, ``--alert`` and ``--change`` files), not when stored records are read back."""


def text_problem(value: str) -> str | None:
    """What in ``value`` is no text, or None: a NUL character (PostgreSQL refuses it in any text), an unpaired
    surrogate (JSON's ``"\\ud800"``: no UTF-8, so no database, tokenizer or terminal takes it)."""
    if "\x00" in value:
        return "holds a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"holds an unpaired surrogate at character {exc.start}"
    return None


def shown(text: str) -> str:
    """``text`` as a message may quote it: a NUL as ``\\0``, an unpaired surrogate as its escape (``\\ud800``)."""
    return text.replace("\0", "\\0").encode("utf-8", "backslashreplace").decode("utf-8")
