"""Routing free-text questions to a pattern and services."""

from __future__ import annotations

import pytest

from agent.ask import route_question
from agent.events import Pattern

SERVICES = ["gateway", "ranking", "feature-store", "ad-serving", "cache"]


@pytest.mark.parametrize(
    ("question", "pattern", "services"),
    [
        ("why is ranking slow?", Pattern.RCA, ["ranking"]),
        ("is the ranking canary safe to roll out?", Pattern.RELEASE_INTERCEPTION, ["ranking"]),
        ("is anything about to go wrong with feature-store or cache?", Pattern.INSPECTION, ["feature-store", "cache"]),
        ("tell me about the system", Pattern.INSPECTION, []),
    ],
)
def test_route(question, pattern, services):
    route = route_question(question, SERVICES)
    assert route.pattern == pattern
    assert sorted(route.services) == sorted(services)


def test_service_names_match_whole_words_only():
    assert route_question("why is the ad-serving-v2 slow", SERVICES).services == []
