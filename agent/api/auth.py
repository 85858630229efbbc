"""The bearer token (``BIANQUE_API_TOKEN``): checked in constant time, before anything reads a request's body."""

from __future__ import annotations

import hmac
import json

from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

UNAUTHORIZED = "missing or wrong bearer token (header 'Authorization: Bearer <BIANQUE_API_TOKEN>')"
OPEN_PATHS = frozenset({"/healthz"})  # a liveness probe answers anyone: without the token, only up or down


def authorized(header: str, token: SecretStr) -> bool:
    """Whether an ``Authorization`` header value (as the server decoded it, latin-1) carries ``token`` as a bearer.

    Bytes on both sides, so any token (ASCII or not) compares in constant time: encoding the header back as latin-1
    gives its raw bytes exactly; the token is UTF-8."""
    scheme, _, given = header.partition(" ")
    expected = token.get_secret_value().encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode("latin-1"), expected)


class TokenMiddleware:
    """Answer 401 to any HTTP request but :data:`OPEN_PATHS` without the bearer ``token``, before its body is read
    or parsed (a route's own check runs after FastAPI parsed the body: a body that is no JSON answered 400 first),
    and whatever its path (an unknown one too)."""

    def __init__(self, app: ASGIApp, token: SecretStr) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers", [])).get(b"authorization", b"").decode("latin-1")
        if authorized(header, self.token):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"detail": UNAUTHORIZED}).encode()
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"www-authenticate", b"Bearer")]})
        await send({"type": "http.response.body", "body": body})
