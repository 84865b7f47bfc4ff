"""Writing events: always inside the transaction of the change they describe."""
from __future__ import annotations

import threading
import uuid

from sqlalchemy import text
from sqlalchemy.orm import Session

from tmf_oss.events.model import OutboxEvent


class WakeUp:
    """Tells an in-process dispatcher that new events were committed, so it need not wait for its next poll."""

    def __init__(self):
        self._event = threading.Event()

    def notify(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> None:
        self._event.wait(timeout)
        self._event.clear()


wake_up = WakeUp()

# On PostgreSQL every transaction that writes events also sends a NOTIFY on this channel (delivered at commit,
# never for a rolled-back transaction), so dispatchers in other processes start at once.
NOTIFY_CHANNEL = "tmf_oss_outbox"
_NOTIFIED = "tmf_oss_outbox_notified"


def emit(session: Session, *, api: str, event_type: str, entity_name: str, entity: dict, base_url: str,
         correlation_id: str | None) -> OutboxEvent:
    event = OutboxEvent(
        event_id=str(uuid.uuid4()),
        api=api,
        event_type=event_type,
        entity_name=entity_name,
        entity_id=entity["id"],
        correlation_id=correlation_id,
        base_url=base_url,
        entity=entity,
    )
    session.add(event)
    if not session.info.get(_NOTIFIED) and session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))
        session.info[_NOTIFIED] = True
    return event
