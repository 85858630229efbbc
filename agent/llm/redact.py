"""Redact secrets from any text before it is sent to a model.

Covers bearer tokens and ``Authorization``/``Cookie`` headers, key-value pairs whose key names a
secret (``password``, ``passwd``, ``secret``, ``token``, ``api_key``, …) in JSON, ``k=v`` and YAML
forms, AWS access keys, private key blocks, JWTs, well-known token prefixes (``sk-``, ``ghp_``, …),
credentials in URLs, and long hex/base64 strings right after a secret-like word. Ordinary numbers,
ids in ordinary fields (``trace_id=…``) and latency values are left alone.
"""

from __future__ import annotations

import re

REDACTED = "[REDACTED]"

# A secret word a key name ends with: db_password, AWS_SECRET_ACCESS_KEY, x-api-key, auth_token.
# "pass" alone is left out on purpose: "decision: pass" is not a secret.
_SECRET_WORD = (
    r"(?:password|passwd|passphrase|pwd|secret|token|api[_\- ]?key|apikey|access[_\- ]?key|secret[_\- ]?key"
    r"|private[_\- ]?key|credentials?)"
)
_KEY = rf"(?<![A-Za-z0-9])[A-Za-z0-9_.\-]*?{_SECRET_WORD}"
_OPAQUE = r"(?=[A-Za-z0-9\-._~+/]*[0-9._~+/=\-])[A-Za-z0-9\-._~+/]{8,}=*"

_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    re.DOTALL,
)
_URL_CREDENTIALS = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.\-]*://)[^/\s:@'\"]*:[^/\s@'\"]+@")
_HEADER = re.compile(  # cookies: every pair is a secret, to the end of the header
    r"(?im)\b(cookie|set-cookie)(\"?[ \t]*[:=][ \t]*\"?)[^\"\r\n]+"
)
# Authorization: the scheme stays, the credential goes, and the rest of the line is left alone.
_AUTHORIZATION = re.compile(
    r"(?i)\b((?:proxy-)?authorization|x-auth-token)(\"?[ \t]*[:=][ \t]*\"?)"
    r"((?:bearer|basic|digest|token|negotiate)[ \t]+)?[^\s\",;]+"
)
# mysql -pSECRET / mysqldump -p'SECRET': the password glued to -p
_MYSQL_PASSWORD = re.compile(r"(\bmysql(?:dump|admin|import|show)?\b[^\r\n]*?[ \t]-p)(?![ \t])(\S+)")
_BEARER = re.compile(rf"(?i)\b(bearer|basic)([ \t]+){_OPAQUE}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*")
_AWS_KEY = re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b")
_KNOWN_TOKENS = re.compile(
    r"\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"
    r"|glpat-[A-Za-z0-9_\-]{20,}|xox[abposr]-[A-Za-z0-9\-]{10,}|AIza[0-9A-Za-z_\-]{35})"
)
# "password": "x" (JSON), password: 'x' (YAML), token=x (k=v); the key may be quoted.
_KEY_VALUE = re.compile(
    rf"(?i)([\"']?){_KEY}\1([ \t]*[:=][ \t]*)"
    r"(\"(?:[^\"\\\r\n]|\\.)*\"|'[^'\r\n]*'|[^\s,;&{}\[\]()\"']+)"
)
# "the api key is 9f86d081884c7d65…", "token 3f9a8b7c…": a long secret-looking string after a secret word.
_WORD_THEN_SECRET = re.compile(
    rf"(?i)(?<![A-Za-z0-9])[A-Za-z0-9_\-]*{_SECRET_WORD}(?![A-Za-z0-9])((?:[ \t]+(?:is|was|of))?[ \t]+[\"']?)"
    r"(?=[A-Za-z0-9+/_\-.!@#$%^&*]*\d)[A-Za-z0-9+/_\-.!@#$%^&*]{6,}={0,2}"
)


def _key_value(match: re.Match[str]) -> str:
    text = match.group(0)
    value = match.group(3)
    if value.strip("\"'") in ("", REDACTED):
        return text
    prefix = text[: len(text) - len(value)]
    if value[:1] in "\"'" and len(value) >= 2 and value[-1] == value[0]:
        return f"{prefix}{value[0]}{REDACTED}{value[0]}"
    return f"{prefix}{REDACTED}"


def redact(text: str) -> str:
    """``text`` with every secret it contains replaced by ``[REDACTED]``."""
    if not text:
        return text
    text = _PRIVATE_KEY.sub(REDACTED, text)
    text = _URL_CREDENTIALS.sub(rf"\1{REDACTED}@", text)
    text = _HEADER.sub(rf"\1\2{REDACTED}", text)
    text = _AUTHORIZATION.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) or ''}{REDACTED}", text)
    text = _MYSQL_PASSWORD.sub(rf"\1{REDACTED}", text)
    text = _JWT.sub(REDACTED, text)
    text = _BEARER.sub(rf"\1\2{REDACTED}", text)
    text = _AWS_KEY.sub(REDACTED, text)
    text = _KNOWN_TOKENS.sub(REDACTED, text)
    text = _KEY_VALUE.sub(_key_value, text)
    text = _WORD_THEN_SECRET.sub(lambda m: m.group(0)[: m.end(1) - m.start(0)] + REDACTED, text)
    return text


def redact_messages(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Chat messages with every ``content`` redacted."""
    return [{**m, "content": redact(m.get("content", ""))} for m in messages]
