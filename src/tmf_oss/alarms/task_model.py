"""TMF642 task tables: one small table per task collection, all of one shape (TaskColumns).

TMF642 v4 names its task collections in the plural (`ackAlarms`), v5 in the singular (`ackAlarm`); their
events, hrefs and payload keys carry those names, so each is a collection of its own, served by its own API
version only. The collection engine works on one table per collection, so each gets a table named after its
path (`ack_alarms`, `ack_alarm`, ...). Tasks are written once and never changed; only `state` has a typed
column, everything else (the pattern, the affected and unaffected alarms) lives in the document.
"""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tmf_oss.db.base import Base, JsonDocument, SurrogateKey, UtcDateTime, utcnow

V4_COLLECTIONS = ("ackAlarms", "unAckAlarms", "clearAlarms", "commentAlarms", "groupAlarms", "unGroupAlarms")
V5_COLLECTIONS = tuple(name[:-1] for name in V4_COLLECTIONS)


class TaskColumns:
    seq: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(128), unique=True)
    type: Mapped[str] = mapped_column("at_type", String(128))
    base_type: Mapped[str | None] = mapped_column("at_base_type", String(128))
    state: Mapped[str | None] = mapped_column(String(32), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    doc: Mapped[dict] = mapped_column(JsonDocument)


def table_name(collection: str) -> str:
    """`unAckAlarms` -> `un_ack_alarms`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", collection).lower()


def _task_table(collection: str) -> type:
    class_name = collection[0].upper() + collection[1:] + "Row"
    return type(class_name, (TaskColumns, Base), {"__tablename__": table_name(collection), "__module__": __name__})


# collection name -> ORM class
TASK_TABLES: dict[str, type] = {name: _task_table(name) for name in V4_COLLECTIONS + V5_COLLECTIONS}
