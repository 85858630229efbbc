"""A real Prometheus scraping ``bianque serve``'s ``/metrics`` on loopback while it takes an alert."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.served import poll, serving
from tests.test_api_support import alert, webhook

pytestmark = pytest.mark.e2e


def query(prometheus: str, expression: str) -> list[dict]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expression}, timeout=10).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def test_prometheus_scrapes_the_queue_and_cases_of_a_served_instance(bianque_home, start_prometheus):
    with serving() as served:
        prometheus = start_prometheus([], scrape=[served.url.removeprefix("http://")])
        poll(lambda: query(prometheus, 'up{job="scraped"} == 1') != [], "Prometheus never scraped /metrics")
        assert httpx.post(f"{served.url}/webhook/alertmanager", json=webhook(alert()), timeout=10).status_code == 200
        poll(lambda: query(prometheus, 'bianque_cases{pattern="rca",status="done"} == 1') != [],
             "the investigated alert's case never reached Prometheus")
        assert query(prometheus, 'bianque_queue_items{status="done"}')[0]["value"][1] == "1"
        assert query(prometheus, "bianque_database_up")[0]["value"][1] == "1"
