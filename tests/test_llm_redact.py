"""Secrets are redacted from model-bound text; ordinary operational values are not."""

from __future__ import annotations

import pytest

from agent.llm.redact import REDACTED, redact, redact_messages

SECRETS = [
    ("Authorization: Bearer abc.def-123_xyz", "abc.def-123_xyz"),
    ('{"Authorization": "Bearer abcdef123456", "x": 1}', "abcdef123456"),
    ('curl -H "authorization: Basic dXNlcjpwYXNz" http://x', "dXNlcjpwYXNz"),
    ("upstream replied 401 to Bearer 7f3c9a1b2d4e5f60", "7f3c9a1b2d4e5f60"),
    ("password=hunter2 user=bob", "hunter2"),
    ("db passwd=s3cr3t&x=1", "s3cr3t"),
    ('{"password": "hunter2", "user": "bob"}', "hunter2"),
    ('{"password":"hunt er2"}', "hunt er2"),
    ("{'api_key': 'abc123'}", "abc123"),
    ('db_password: "p@ss word"', "p@ss word"),
    ("  secret: plainvalue\n  next: 1", "plainvalue"),
    ("api_key: sk-live-1234", "sk-live-1234"),
    ("X-Api-Key: 12345abcdef", "12345abcdef"),
    ("auth_token='tok.en.value'", "tok.en.value"),
    ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG"),
    ("key id AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEA"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk truncated", "b3BlbnNzaC1rZXk"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0",
     "eyJzdWIiOiIxMjM0NTY3ODkwIn0"),
    ("connect postgresql://admin:Sup3rS3cret@db.internal:5432/app failed", "Sup3rS3cret"),
    ("fetch https://deploy-bot:ghs9xK2@git.example.com/repo.git", "ghs9xK2"),
    ("redis://:r3disPass@cache-0:6379/0", "r3disPass"),
    ("client_secret=0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
    ("the api key is 9f86d081884c7d659a2feaa0c55ad015", "9f86d081884c7d659a2feaa0c55ad015"),
    ("using token 3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c now", "3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"),
    ("OPENAI sk-proj-abcdefghijklmnopqrstuvwxyz123456", "abcdefghijklmnopqrstuvwxyz123456"),
    ("push with ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("Cookie: session=abc123; theme=dark", "abc123"),
    # issue 11: missed before
    ("ssh-keygen -N '' passphrase=correct-horse-9", "correct-horse-9"),
    ("running mysql -u root -pS3cretPw orders", "S3cretPw"),
    ("oauth client_secret abc123xyz rotated", "abc123xyz"),
    ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig", "eyJzdWIiOiIxMjM0NTY3ODkwIn0"),
    ("the password is hunter2, do not share", "hunter2"),
]

ORDINARY = [
    "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 latency_p99=480ms",
    '{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"}',
    "request_id: 7f3c9a1b2d4e5f60718293a4b5c6d7e8",
    "max_tokens=1024 prompt_tokens: 120 completion_tokens=33 token_count=5",
    "decision: pass score 0.87 error rate 12.5% p99 480 ms",
    "http://example.com:8080/path redis-0:6379 at 12:03:00",
    "password reset page returned 500",
    "token validation failed for 3 requests",
    "image sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "basic authentication enabled; Bearer token missing",
    "F1 | anomaly | ranking | latency_p99_ms up | 0.87 | 11:55:00Z (T-5m) | before=20 after=180.5",
    "commit 4bf92f3577b34da6a3ce929d0e0e4736f00dfeed rolled out to 10% of pods",
    "the token is valid; latency 250ms token bucket refilled",
    "mysql -p prompts for the password",
]


def test_authorization_redacts_the_credential_not_the_rest_of_the_line() -> None:
    text = "Authorization: Bearer abcdef123456 path=/api/v1/orders status=500"
    assert redact(text) == "Authorization: Bearer [REDACTED] path=/api/v1/orders status=500"


@pytest.mark.parametrize(("text", "secret"), SECRETS)
def test_secret_is_redacted(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert REDACTED in out


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert redact(text) == text


def test_structure_around_the_secret_is_kept() -> None:
    assert redact('{"password": "hunter2", "user": "bob"}') == '{"password": "[REDACTED]", "user": "bob"}'
    assert redact("password=hunter2 user=bob") == "password=[REDACTED] user=bob"
    assert redact("https://u:p@host/x") == "https://[REDACTED]@host/x"
    assert redact("a\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\nb") == f"a\n{REDACTED}\nb"


def test_redaction_is_idempotent() -> None:
    once = redact("password=hunter2 Authorization: Bearer abcdef123456")
    assert redact(once) == once


def test_redact_messages_keeps_roles() -> None:
    messages = redact_messages([{"role": "user", "content": "token=abc123"}])
    assert messages == [{"role": "user", "content": f"token={REDACTED}"}]
