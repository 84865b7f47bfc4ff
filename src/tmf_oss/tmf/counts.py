"""The per-collection row count and write generation, kept by every writing transaction."""
from __future__ import annotations

import time

from sqlalchemy import BigInteger, String, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from tmf_oss.db.base import Base


class CollectionCount(Base):
    """Per collection, kept in every writing transaction: the exact row count (unfiltered lists need no
    COUNT(*)) and a generation that changes with every write (a filtered count stays valid while it holds)."""

    __tablename__ = "collection_count"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    generation: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))


_PENDING = "tmf_oss_pending_counts"


def count_change(session: Session, name: str, delta: int) -> None:
    """Move a collection's count by `delta` and its generation by one when the session's transaction commits.

    The row is written at commit (by the outbox's commit hook, events/outbox.py) rather than now: every
    writing transaction of a collection updates its one row, and a transaction holds that row's lock from the
    update to its end. Written last, the lock is held for the commit only, not for all the work of a transaction.
    """
    pending = session.info.setdefault(_PENDING, {})
    pending[name] = pending.get(name, 0) + delta


def take_pending(session: Session) -> dict[str, int]:
    """The session's pending count changes (name -> delta), now the caller's to write (`upsert_statements`)."""
    return session.info.pop(_PENDING, None) or {}


# The generation never takes a value it had before, even after the table was emptied or a backup restored:
# it moves by one per write but never below the clock in microseconds, so a page or count kept for a generation
# (tmf/page_cache.py) cannot be mistaken for one of a later state that happens to bear the same number.
_UPSERT = ("INSERT INTO collection_count (name, total, generation) VALUES (:name_{n}, :start_{n}, :floor_{n}) "
           "ON CONFLICT (name) DO UPDATE SET total = collection_count.total + :delta_{n}, "
           "generation = CASE WHEN collection_count.generation + 1 > :floor_{n} "
           "THEN collection_count.generation + 1 ELSE :floor_{n} END")


def upsert_statements(changes: dict[str, int]) -> list[tuple[str, dict]]:
    """One statement per collection (in name order, so transactions never wait on each other in a cycle) that
    moves its count and generation, creating the row the first time."""
    floor = time.time_ns() // 1000
    return [(_UPSERT.format(n=n), {f"name_{n}": name, f"start_{n}": max(delta, 0), f"delta_{n}": delta,
                                   f"floor_{n}": floor})
            for n, (name, delta) in enumerate(sorted(changes.items()))]


def drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
