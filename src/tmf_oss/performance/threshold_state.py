"""Where each threshold stands for each monitored object, read and written in the evaluating transaction.

Evaluations, and the operator's changes to thresholds, take turns (THRESHOLD_LOCK on PostgreSQL, the database's
write lock on SQLite) so that two processes never both see a threshold uncrossed and both raise its alarm.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tmf_oss.db.base import as_utc, utcnow
from tmf_oss.performance.threshold_model import ThresholdRow, ThresholdStateRow

THRESHOLD_LOCK = 628_000_013  # pg_advisory_xact_lock key
LOOKUP_CHUNK = 500  # ids per IN (...) list
STATES = ThresholdStateRow.__table__


@dataclass
class ObjectState:
    threshold_id: str
    object_id: str
    crossed: bool = False
    warned: bool = False
    alarm_problem: str | None = None
    warning_problem: str | None = None
    last_value: float | None = None
    last_at: datetime | None = None
    points: list[list[float]] = field(default_factory=list)  # [epoch seconds, value], oldest first

    @property
    def key(self) -> tuple[str, str]:
        return self.threshold_id, self.object_id

    def row(self) -> dict:
        return {"threshold_id": self.threshold_id, "object_id": self.object_id, "crossed": self.crossed,
                "warned": self.warned, "alarm_problem": self.alarm_problem, "warning_problem": self.warning_problem,
                "last_value": self.last_value, "last_at": self.last_at, "points": self.points,
                "updated_at": utcnow()}


def lock_thresholds(session: Session) -> None:
    """Take the thresholds' turn until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": THRESHOLD_LOCK})
    else:
        # SQLite takes a transaction's write lock at its first write only: write nothing, first.
        session.execute(update(ThresholdRow).where(ThresholdRow.id.is_(None)).values(version=ThresholdRow.version))


def load_states(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], ObjectState]:
    """The stored states of these (threshold id, object id) pairs; pairs without one are left out."""
    wanted = set(keys)
    threshold_ids = sorted({threshold_id for threshold_id, _ in wanted})
    object_ids = sorted({object_id for _, object_id in wanted})
    found: dict[tuple[str, str], ObjectState] = {}
    for start in range(0, len(object_ids), LOOKUP_CHUNK):
        rows = session.execute(select(STATES).where(STATES.c.threshold_id.in_(threshold_ids),
                                                    STATES.c.object_id.in_(object_ids[start:start + LOOKUP_CHUNK])))
        for row in rows:
            if (row.threshold_id, row.object_id) in wanted:
                found[(row.threshold_id, row.object_id)] = _state(row)
    return found


def states_of(session: Session, threshold_id: str) -> list[ObjectState]:
    return [_state(row) for row in session.execute(select(STATES).where(STATES.c.threshold_id == threshold_id))]


def save_states(session: Session, states: list[ObjectState]) -> None:
    """Insert or update these states: one statement per thousand or so."""
    if not states:
        return
    dialect = session.get_bind().dialect.name
    statement = (postgresql.insert(STATES) if dialect == "postgresql" else sqlite.insert(STATES))
    columns = [name for name in states[0].row() if name not in ("threshold_id", "object_id")]
    statement = statement.on_conflict_do_update(index_elements=["threshold_id", "object_id"],
                                                set_={name: statement.excluded[name] for name in columns})
    session.execute(statement, [state.row() for state in states])


def forget_states(session: Session, threshold_id: str) -> None:
    session.execute(delete(ThresholdStateRow).where(ThresholdStateRow.threshold_id == threshold_id))


def _state(row) -> ObjectState:
    return ObjectState(row.threshold_id, row.object_id, bool(row.crossed), bool(row.warned), row.alarm_problem,
                       row.warning_problem, row.last_value, as_utc(row.last_at), list(row.points or ()))
