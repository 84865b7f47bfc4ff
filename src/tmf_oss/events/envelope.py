"""The TMF event envelope, shaped for the API version a hub was registered on."""
from __future__ import annotations

from tmf_oss.db.base import rfc3339
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tmf_oss.events.model import OutboxEvent
    from tmf_oss.events.recent import StoredEvent


def envelope(event: "OutboxEvent | StoredEvent", api_version: str, entity: dict) -> dict:
    moment = rfc3339(event.created_at)
    body = {
        "eventId": event.event_id,
        "eventTime": moment,
        "eventType": event.event_type,
        "correlationId": event.correlation_id,
        "domain": event.api,
        "title": event.event_type,
        # v4 spells it 'timeOcurred', v5 'timeOccurred'
        ("timeOccurred" if api_version != "v4" else "timeOcurred"): moment,
        "event": {event.entity_name: entity},
    }
    if api_version != "v4":
        body = {"@type": event.event_type, "@baseType": "Event", "id": event.event_id, **body}
    if body["correlationId"] is None:
        del body["correlationId"]
    return body
