"""A Chroma server client whose every request has a time bound.

chromadb's HTTP client (``chromadb.api.fastapi.FastAPI``, 1.5) sends with ``httpx.Client(timeout=None)``, and no
setting or argument changes that (its ``chroma_api_impl`` setting accepts only chromadb's own classes), so a Chroma
server that accepts a connection and never answers held a knowledge search's thread for good. So the server is asked
for its heartbeat with a time bound first (the client's own first requests would wait without end), and the client's
HTTP session then gets the bound: through two private attributes, the client's ``_server`` and its ``_session`` (an
``httpx.Client``, whose ``timeout`` is public), since nothing public reaches them.
"""

from __future__ import annotations

import chromadb
import httpx
from chromadb.api import ClientAPI
from chromadb.api.fastapi import FastAPI
from chromadb.config import Settings as ChromaSettings


def bounded_http_client(host: str, port: int, ssl: bool, timeout_s: float, settings: ChromaSettings) -> ClientAPI:
    """``chromadb.HttpClient`` for the server at ``host:port`` whose every request gives up after ``timeout_s``
    (httpx's ``TimeoutException``); a server that does not answer its heartbeat within it is not opened."""
    api = FastAPI.resolve_url(chroma_server_host=host, chroma_server_ssl_enabled=ssl, chroma_server_http_port=port,
                              default_api_path=settings.chroma_server_api_default_path)
    httpx.get(f"{api}/heartbeat", timeout=timeout_s)
    client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=settings)
    session = getattr(getattr(client, "_server", None), "_session", None)
    if not isinstance(session, httpx.Client):
        raise RuntimeError(f"chromadb {chromadb.__version__}: its HTTP client's requests cannot be given a time bound")
    session.timeout = httpx.Timeout(timeout_s)
    return client
