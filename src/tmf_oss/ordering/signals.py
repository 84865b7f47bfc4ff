"""Telling the orchestrator that an order needs it: NOTIFY to other processes (PostgreSQL), a wake-up in this one.

Both fire only when the writing transaction commits, so the orchestrator never looks before the order is there.
"""
from __future__ import annotations

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from tmf_oss.events.outbox import WakeUp

ORDERS_CHANNEL = "tmf_oss_orders"
orders_waiting = WakeUp()
_NOTIFY = text(f"NOTIFY {ORDERS_CHANNEL}")
_ANNOUNCED = "tmf_oss_order_announced"


def announce(session: Session) -> None:
    """The orchestrator has work once this session's transaction commits."""
    if session.info.get(_ANNOUNCED):
        return
    session.info[_ANNOUNCED] = True
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_NOTIFY)  # delivered at commit, never on rollback
    event.listen(session, "after_commit", _wake, once=True)
    event.listen(session, "after_rollback", _forget, once=True)


def _wake(session: Session) -> None:
    session.info.pop(_ANNOUNCED, None)
    orders_waiting.notify()


def _forget(session: Session) -> None:
    session.info.pop(_ANNOUNCED, None)
