"""Thresholds kept and changed. A threshold that is changed or deleted takes its alarms with it: the alarms it
raised (crossings and early warnings) are cleared through the fault pipeline and its per-object state is dropped,
in the same transaction — a changed threshold is then evaluated afresh from the next samples on."""
from __future__ import annotations

import uuid
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from tmf_oss.db.base import as_utc, utcnow
from tmf_oss.db.engine import Database
from tmf_oss.performance.threshold import Threshold
from tmf_oss.performance.threshold_alarms import crossing_cleared, prediction_withdrawn
from tmf_oss.performance.threshold_document import threshold_document
from tmf_oss.performance.threshold_model import ThresholdRow
from tmf_oss.performance.threshold_state import forget_states, lock_thresholds, states_of
from tmf_oss.southbound.fault_store import FaultStore


class ThresholdStore:
    def __init__(self, db: Database):
        self.db = db
        self.faults = FaultStore(db)

    def list(self, *, indicator_id: str | None = None) -> list[dict]:
        query = select(ThresholdRow.doc).order_by(ThresholdRow.created_at, ThresholdRow.id)
        if indicator_id is not None:
            query = query.where(ThresholdRow.indicator_id == indicator_id)
        with self.db.read() as connection:
            return list(connection.execute(query).scalars())

    def get(self, ident: str) -> dict | None:
        with self.db.read() as connection:
            return connection.execute(select(ThresholdRow.doc).where(ThresholdRow.id == ident)).scalar()

    def create(self, make: Callable[[str], Threshold]) -> dict:
        """`make(new id)` gives the threshold to keep."""
        threshold = make(str(uuid.uuid4()))
        now = utcnow()
        document = threshold_document(threshold, now, now)
        with self.db.transaction() as session:
            session.add(ThresholdRow(id=threshold.id, version=1, created_at=now, updated_at=now, doc=document,
                                     **threshold.columns()))
        return document

    def change(self, ident: str, make: Callable[[dict], Threshold]) -> dict | None:
        """`make(current document)` gives the threshold it becomes; None when there is no such threshold."""
        with self.db.transaction() as session:
            lock_thresholds(session)
            row = session.get(ThresholdRow, ident)
            if row is None:
                return None
            threshold = make(row.doc)
            document = threshold_document(threshold, as_utc(row.created_at), utcnow())
            if _settable(document) == _settable(row.doc):
                return row.doc
            self._end_alarms(session, Threshold.from_row(row), f"threshold '{row.name}' was changed")
            for name, value in threshold.columns().items():
                setattr(row, name, value)
            row.doc, row.updated_at, row.version = document, utcnow(), row.version + 1
        return document

    def delete(self, ident: str) -> bool:
        with self.db.transaction() as session:
            lock_thresholds(session)
            row = session.get(ThresholdRow, ident)
            if row is None:
                return False
            self._end_alarms(session, Threshold.from_row(row), f"threshold '{row.name}' was deleted")
            session.delete(row)
        return True

    def _end_alarms(self, session: Session, threshold: Threshold, why: str) -> None:
        records = []
        for state in states_of(session, threshold.id):
            if state.crossed and state.alarm_problem:
                records.append(crossing_cleared(threshold, state.object_id, state.alarm_problem, None, why))
            if state.warned and state.warning_problem:
                records.append(prediction_withdrawn(threshold, state.object_id, state.warning_problem, why))
        forget_states(session, threshold.id)
        self.faults.record_in(session, records)


def _settable(document: dict) -> dict:
    return {name: value for name, value in document.items() if name not in ("creationDate", "lastUpdate")}
