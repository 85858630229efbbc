"""PromQL vector selectors built from a metric name (or glob) and label matchers, injection-proof.

Every value lands inside a double-quoted PromQL string and is escaped for it; glob values become
anchored RE2 regexes (``=~``) whose literal characters are regex-escaped. Label names are checked
against the Prometheus grammar, so nothing a caller passes can leave its string literal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GLOB_CHARS = frozenset("*?[")
_RE2_META = frozenset("\\.+*?()|[]{}^$")
_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_string(value: str) -> str:
    """``value`` escaped for the inside of a double-quoted PromQL string literal."""
    out = []
    for ch in value:
        if ch in _STRING_ESCAPES:
            out.append(_STRING_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def quote(value: str) -> str:
    """``value`` as a double-quoted PromQL string literal."""
    return '"' + escape_string(value) + '"'


def escape_re2(text: str) -> str:
    """Escape RE2 metacharacters so ``text`` matches only itself."""
    return "".join("\\" + ch if ch in _RE2_META else ch for ch in text)


def is_glob(text: str) -> bool:
    """True when ``text`` uses glob syntax (``*``, ``?``, ``[...]``)."""
    return any(ch in _GLOB_CHARS for ch in text)


def glob_to_re2(pattern: str) -> str:
    """An RE2 regex (PromQL anchors it) matching what :func:`fnmatch.fnmatchcase` matches."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[" and (end := _class_end(pattern, i)) > 0:
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            members = "".join("\\" + c if c in "\\[]^-" else c for c in _expand_ranges(body[negate:]))
            out.append(("[^" if negate else "[") + members + "]")
            i = end
        else:
            out.append(escape_re2(ch))
        i += 1
    return "".join(out)


def unclosed_class(pattern: str) -> int | None:
    """Index of the first ``[`` of ``pattern`` that no ``]`` closes (glob syntax reads it as a literal ``[``), or
    None; the ``[`` of a class (``[[]``, ``[a-z]``) is not."""
    i = 0
    while i < len(pattern):
        if pattern[i] == "[":
            end = _class_end(pattern, i)
            if end < 0:
                return i
            i = end
        i += 1
    return None


def _class_end(pattern: str, start: int) -> int:
    """Index of the ``]`` closing the glob class opened at ``start``, or -1 (then ``[`` is literal)."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "!":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    return pattern.find("]", i)


def _expand_ranges(body: str) -> str:
    """The members of a glob class body, ranges (``a-z``) expanded, so every member can be escaped."""
    members: list[str] = []
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-" and ord(body[i]) <= ord(body[i + 2]):
            lo, hi = ord(body[i]), ord(body[i + 2])
            members.extend(chr(c) for c in range(lo, min(hi, lo + 255) + 1))
            i += 3
        else:
            members.append(body[i])
            i += 1
    return "".join(dict.fromkeys(members))


def classic_label(name: str) -> bool:
    """Whether ``name`` is a classic Prometheus label name (``[A-Za-z_][A-Za-z0-9_]*``), which any server reads
    unquoted; a UTF-8 name (``service.name``) needs Prometheus 3 and quotes."""
    return _LABEL_NAME.fullmatch(name) is not None


def _checked(label: str) -> str:
    """``label``, or ``ValueError`` when it is no valid Prometheus label name."""
    if not _LABEL_NAME.fullmatch(label):
        raise ValueError(f"not a valid label name: {label!r}")
    return label


def _matcher(label: str, value: str) -> str:
    _checked(label)
    if is_glob(value):
        regex = glob_to_re2(value)
        if label == "__name__" and regex.replace(".*", "") == "":
            regex = ".+"  # Prometheus refuses a selector that could match every series
        return f"{label}=~{quote(regex)}"
    return f"{label}={quote(value)}"


def label_ref(label: str) -> str:
    """``label`` as PromQL names it: as is when it is a classic label name, else quoted (a UTF-8 name such as
    OpenTelemetry's ``service.name``, which Prometheus 3 reads quoted and stores as given); ``ValueError`` for an
    empty name or one with a control character."""
    if classic_label(label):
        return label
    if not label or any(ord(c) < 32 or ord(c) == 127 for c in label):
        raise ValueError(f"not a valid label name: {label!r}")
    return quote(label)


def regex_selector(matchers: Mapping[str, str], *, utf8_names: bool = False) -> str:
    """``{label=~"regex", ...}``: every value a regex (RE2, anchored by PromQL), quoted; raises ``ValueError`` for an
    invalid label name or no matcher. ``utf8_names``: a name that is no classic label name is quoted (``label_ref``)
    instead of refused, for label names a server listed itself."""
    if not matchers:
        raise ValueError("a selector needs at least one matcher")
    name = label_ref if utf8_names else _checked
    return "{" + ", ".join(f"{name(label)}=~{quote(regex)}" for label, regex in matchers.items()) + "}"


def selector(name: str, matchers: Mapping[str, str], exclude: Sequence[str] = ()) -> str:
    """``{__name__="name", label="value", other=~"glob-as-regex"}``.

    ``""`` as a matcher value selects series without that label (as in PromQL itself and
    :func:`agent.sources.base.label_matches`). ``exclude``: metric names or globs left out
    (``__name__!~"a|b.*"``). Raises ``ValueError`` for an empty metric name or an invalid label name.
    """
    if not name:
        raise ValueError("metric name is empty")
    parts = [_matcher("__name__", name)]
    if exclude:
        parts.append(f"__name__!~{quote('|'.join(glob_to_re2(g) for g in exclude))}")
    for label, value in matchers.items():
        if label == "__name__":
            raise ValueError("give the metric name as the name, not as a __name__ matcher")
        parts.append(_matcher(label, value))
    return "{" + ", ".join(parts) + "}"
