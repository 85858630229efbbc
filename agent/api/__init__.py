"""The HTTP service (FastAPI): webhook, investigations, cases, corrections, Skills."""

from agent.api.app import create_app

__all__ = ["create_app"]
