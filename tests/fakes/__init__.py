"""Test doubles shared across the suite (e.g. the fake OpenAI-compatible server)."""
