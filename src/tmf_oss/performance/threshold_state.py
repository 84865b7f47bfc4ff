"""Where each threshold stands for each monitored object, read and written in the evaluating transaction.

Evaluations, and the operator's changes to thresholds, take turns (THRESHOLD_LOCK on PostgreSQL, the database's
write lock on SQLite) so that two processes never both see a threshold uncrossed and both raise its alarm.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

from sqlalchemy import MetaData, delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tmf_oss.db.base import as_utc, utcnow
from tmf_oss.db.bulk import insert_rows
from tmf_oss.performance.threshold_model import ThresholdRow, ThresholdStateRow

THRESHOLD_LOCK = 628_000_013  # pg_advisory_xact_lock key
LOOKUP_CHUNK = 500  # ids per IN (...) list
STATES = ThresholdStateRow.__table__
STATE_COLUMNS = ("crossed", "warned", "alarm_problem", "warning_problem", "last_value", "last_at", "points",
                 "updated_at")  # what an upsert rewrites
COPY_MIN_ROWS = 32  # fewer go as plain statements: the scratch table costs more than it saves
SCRATCH = STATES.to_metadata(MetaData(), name="pm_threshold_state_scratch")


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

    def row(self, now: datetime) -> dict:
        return {"threshold_id": self.threshold_id, "object_id": self.object_id, "crossed": self.crossed,
                "warned": self.warned, "alarm_problem": self.alarm_problem, "warning_problem": self.warning_problem,
                "last_value": self.last_value, "last_at": self.last_at, "points": self.points,
                "updated_at": now}


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
    """Insert or update these states. Many on PostgreSQL: COPY into a scratch table, then one upsert from it
    (psycopg2 sends an executemany row by row); otherwise one prepared upsert executed for each."""
    if not states:
        return
    now = utcnow()
    rows = [state.row(now) for state in states]
    postgres = session.get_bind().dialect.name == "postgresql"
    if not postgres or len(rows) < COPY_MIN_ROWS:
        statement = (postgresql.insert(STATES) if postgres else sqlite.insert(STATES))
        session.execute(statement.on_conflict_do_update(
            index_elements=["threshold_id", "object_id"],
            set_={name: statement.excluded[name] for name in STATE_COLUMNS}), rows)
        return
    connection = session.connection()
    connection.exec_driver_sql(f'CREATE TEMP TABLE IF NOT EXISTS "{SCRATCH.name}" ON COMMIT DELETE ROWS AS '
                               f'SELECT * FROM "{STATES.name}" WITH NO DATA')
    insert_rows(connection, SCRATCH, rows)
    assignments = ", ".join(f'"{name}" = EXCLUDED."{name}"' for name in STATE_COLUMNS)
    columns = ", ".join(f'"{column.name}"' for column in STATES.columns)
    connection.exec_driver_sql(f'INSERT INTO "{STATES.name}" ({columns}) SELECT {columns} FROM "{SCRATCH.name}" '
                               f'ON CONFLICT (threshold_id, object_id) DO UPDATE SET {assignments}')


def forget_states(session: Session, threshold_id: str) -> None:
    session.execute(delete(ThresholdStateRow).where(ThresholdStateRow.threshold_id == threshold_id))


def _state(row) -> ObjectState:
    return ObjectState(row.threshold_id, row.object_id, bool(row.crossed), bool(row.warned), row.alarm_problem,
                       row.warning_problem, row.last_value, as_utc(row.last_at), list(row.points or ()))
