"""The news notifications told, in the database: claimed once across processes, a repeat held back, forgotten."""

from __future__ import annotations

from alembic import command
from sqlalchemy import event, inspect

from agent.memory import Memory
from agent.memory.db import alembic_config, make_engine, upgrade
from tests.at_once import each_at_once

ORIGIN = "scheduled inspection disk-check (schedule skill:disk-check)"


def check_news_claims(memory: Memory) -> None:
    """News is claimed once per interval; other news, the interval gone, or news forgotten is news again; a failed
    post forgets only its own claim. Also run on PostgreSQL."""
    assert memory.claim_news(ORIGIN, "warning: disk", 1000.0, 3600.0) is True
    assert memory.claim_news(ORIGIN, "warning: disk", 1500.0, 3600.0) is False  # a repeat
    assert memory.claim_news("another origin", "warning: disk", 1500.0, 3600.0) is True  # per origin
    assert memory.claim_news(ORIGIN, "critical: disk", 1600.0, 3600.0) is True  # other news
    assert memory.claim_news(ORIGIN, "warning: disk", 1700.0, 3600.0) is True  # and back: news again
    assert memory.claim_news(ORIGIN, "warning: disk", 5299.0, 3600.0) is False
    assert memory.claim_news(ORIGIN, "warning: disk", 5300.0, 3600.0) is True  # an interval later
    assert memory.forget_news(ORIGIN, "warning: disk", 5299.0) is False  # not that claim: the newer one stays
    assert memory.claim_news(ORIGIN, "warning: disk", 5400.0, 3600.0) is False
    assert memory.forget_news(ORIGIN, "warning: disk", 5300.0) is True  # its post failed
    assert memory.claim_news(ORIGIN, "warning: disk", 5400.0, 3600.0) is True
    assert memory.forget_news(ORIGIN) is True  # a healthy run
    assert memory.forget_news(ORIGIN) is False
    assert memory.claim_news(ORIGIN, "warning: disk", 5500.0, 3600.0) is True
    long_origin = "scheduled inspection " + "x" * 2000 + " \ud800"  # a lone surrogate, as untrusted text may hold
    assert memory.claim_news(long_origin, "s", 5500.0, 3600.0) is True
    assert memory.claim_news(long_origin, "s", 5501.0, 3600.0) is False


def test_news_claims(memory) -> None:
    check_news_claims(memory)


def test_expired_holds_are_removed_as_news_is_claimed(memory) -> None:
    memory.claim_news("old origin", "s", 1000.0, 3600.0)
    memory.claim_news(ORIGIN, "s", 1000.0 + 3600.0, 3600.0)
    assert memory.forget_news("old origin") is False  # gone: it held nothing back any more


def check_forgetting_nothing_held_writes_nothing(memory: Memory, replica: Memory) -> None:
    """Every healthy run and every alert needing no attention forgets its origin's news: with none held that is a read,
    not a write transaction (a DELETE, SQLite's write lock); a hold another replica claimed is still forgotten. Also
    run on PostgreSQL."""
    statements: list[str] = []
    event.listen(memory.engine, "before_cursor_execute",
                 lambda _conn, _cursor, statement, *_rest: statements.append(statement.upper()))
    assert memory.forget_news(ORIGIN) is False
    assert memory.forget_news(ORIGIN, "warning: disk", 1000.0) is False
    written = [s for s in statements if s.startswith(("DELETE", "BEGIN IMMEDIATE"))]  # SQLite's write lock
    assert written == [] and sum(s.startswith("SELECT") for s in statements) == 2
    assert replica.claim_news(ORIGIN, "warning: disk", 1000.0, 3600.0) is True
    assert memory.forget_news(ORIGIN, "warning: disk", 999.0) is False  # not that claim
    assert memory.forget_news(ORIGIN) is True  # the other replica's hold, cleared here
    assert any(s.startswith("DELETE") for s in statements)
    assert replica.claim_news(ORIGIN, "warning: disk", 1001.0, 3600.0) is True  # news again, anywhere


def test_forgetting_nothing_held_writes_nothing(memory) -> None:
    with Memory(memory.url) as replica:
        check_forgetting_nothing_held_writes_nothing(memory, replica)


def claim_news_at_once(url: str, claimants: int) -> list[bool]:
    """``claimants`` processes claim the same news at the same moment: what each was told."""
    return each_at_once(url, claimants, lambda store, _: store.claim_news(ORIGIN, "warning: disk", 1000.0, 3600.0))


def test_the_same_news_claimed_at_once_by_several_processes_is_told_once(tmp_path) -> None:
    assert sorted(claim_news_at_once(f"sqlite:///{tmp_path / 'race.db'}", 4)) == [False, False, False, True]


def test_the_notice_holds_migration_comes_and_goes(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = make_engine(url)
    upgrade(engine, "0008")
    assert "notice_holds" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert "notice_holds" in inspect(engine).get_table_names()
    command.downgrade(alembic_config(url), "0008")
    assert "notice_holds" not in inspect(engine).get_table_names()
    engine.dispose()
