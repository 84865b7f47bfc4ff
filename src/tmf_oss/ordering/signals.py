"""Telling the orchestrator that an order needs it: NOTIFY to other processes (PostgreSQL), a wake-up in this one,
both when the writing transaction commits, so the orchestrator never looks before the order is there."""
from __future__ import annotations

from sqlalchemy.orm import Session

from tmf_oss.db.notifications import notify_at_commit
from tmf_oss.events.outbox import WakeUp

ORDERS_CHANNEL = "tmf_oss_orders"
orders_waiting = WakeUp()


def announce(session: Session) -> None:
    """The orchestrator has work once this session's transaction commits."""
    notify_at_commit(session, ORDERS_CHANNEL, orders_waiting.notify)
