"""The state of delivery, for operators: per-subscription counts, the parked list, replays and retention.

Shared by the CLI (`tmf-oss events ...`) and the admin endpoints, so both say the same thing.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta

from sqlalchemy import and_, delete, func, select, update

from tmf_oss.db.base import as_utc, rfc3339, utcnow
from tmf_oss.db.engine import Database
from tmf_oss.events.model import PARKED, REPLAY, REPLAYED, HubSubscription, OutboxEvent, ParkedDelivery
from tmf_oss.events.outbox import wake_up
from tmf_oss.tmf.errors import bad_request


@dataclass
class SubscriptionDelivery:
    id: str
    api: str
    version: str
    callback: str
    query: str | None
    # Events committed after the cursor, not yet dealt with (the hub's query is applied when they are).
    pending: int
    oldest_pending_age_seconds: float | None
    delivered: int
    failed_attempts: int
    parked: int
    # Failed attempts at the event now at the head of the queue; retried at next_attempt.
    retrying: int
    next_attempt: str | None
    last_error: str | None
    last_delivered: str | None
    served_by: str | None

    def as_dict(self) -> dict:
        """camelCase keys, like every other JSON body we serve."""
        return {_camel(key): value for key, value in asdict(self).items()}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def delivery_state(db: Database, subscription_id: str | None = None) -> list[SubscriptionDelivery]:
    now = utcnow()
    sub = HubSubscription
    after_cursor = and_(OutboxEvent.api == sub.api, OutboxEvent.seq > sub.delivered_seq)
    pending = select(func.count()).where(after_cursor).correlate(sub).scalar_subquery()
    oldest = select(func.min(OutboxEvent.created_at)).where(after_cursor).correlate(sub).scalar_subquery()
    parked = (select(func.count()).where(ParkedDelivery.subscription_id == sub.id,
                                         ParkedDelivery.state.in_((PARKED, REPLAY)))
              .correlate(sub).scalar_subquery())
    statement = select(sub, pending, oldest, parked).order_by(sub.seq)
    if subscription_id is not None:
        statement = statement.where(sub.id == subscription_id)
    with db.reading() as session:
        rows = session.execute(statement).all()
    states = []
    for row, pending_count, oldest_at, parked_count in rows:
        oldest_at = as_utc(oldest_at)
        lease_until = as_utc(row.lease_until)
        states.append(SubscriptionDelivery(
            id=row.id, api=row.api, version=row.api_version, callback=row.callback, query=row.query,
            pending=pending_count, oldest_pending_age_seconds=(
                round((now - oldest_at).total_seconds(), 3) if oldest_at else None),
            delivered=row.delivered_count, failed_attempts=row.failed_count, parked=parked_count,
            retrying=row.failures, next_attempt=rfc3339(row.next_attempt_at), last_error=row.last_error,
            last_delivered=rfc3339(row.last_delivered_at),
            served_by=row.lease_owner if lease_until and lease_until > now else None,
        ))
    return states


def parked_deliveries(db: Database, *, subscription_id: str | None = None, state: str | None = PARKED,
                      limit: int = 1000) -> list[dict]:
    statement = select(ParkedDelivery).order_by(ParkedDelivery.seq).limit(limit)
    if subscription_id is not None:
        statement = statement.where(ParkedDelivery.subscription_id == subscription_id)
    if state is not None:
        statement = statement.where(ParkedDelivery.state == state)
    with db.reading() as session:
        rows = session.execute(statement).scalars().all()
    return [{
        "id": row.seq, "subscription": row.subscription_id, "api": row.api, "eventId": row.event_id,
        "eventType": row.event_type, "state": row.state, "attempts": row.attempts,
        "firstAttempt": rfc3339(row.first_attempt_at), "parked": rfc3339(row.parked_at),
        "replayed": rfc3339(row.replayed_at), "lastError": row.last_error,
    } for row in rows]


def request_replay(db: Database, *, subscription_id: str | None = None, event_ids: list[str] | None = None,
                   everything: bool = False) -> int:
    """Mark parked deliveries for another attempt (the dispatcher makes it); returns how many were marked."""
    if not (subscription_id or event_ids or everything):
        raise bad_request("say which parked deliveries to replay: a subscription, event ids, or all",
                          reason="Nothing selected")
    statement = update(ParkedDelivery).where(ParkedDelivery.state == PARKED)
    if subscription_id:
        statement = statement.where(ParkedDelivery.subscription_id == subscription_id)
    if event_ids:
        statement = statement.where(ParkedDelivery.event_id.in_(event_ids))
    with db.transaction() as session:
        marked = session.execute(statement.values(state=REPLAY)
                                 .execution_options(synchronize_session=False)).rowcount
    wake_up.notify()
    return marked


def prune_outbox(db: Database, retention: timedelta) -> int:
    """Remove events every subscription of their API is past and that are older than the retention; parked
    events stay while they may be replayed."""
    cutoff = utcnow() - retention
    slowest = (select(func.min(HubSubscription.delivered_seq)).where(HubSubscription.api == OutboxEvent.api)
               .correlate(OutboxEvent).scalar_subquery())
    still_parked = select(ParkedDelivery.event_seq).where(ParkedDelivery.state.in_((PARKED, REPLAY)))
    with db.transaction() as session:
        removed = session.execute(
            delete(OutboxEvent)
            .where(OutboxEvent.created_at < cutoff,
                   OutboxEvent.seq <= func.coalesce(slowest, OutboxEvent.seq),
                   OutboxEvent.seq.not_in(still_parked))
            .execution_options(synchronize_session=False)
        ).rowcount
        session.execute(delete(ParkedDelivery).where(ParkedDelivery.state == REPLAYED,
                                                     ParkedDelivery.replayed_at < cutoff)
                        .execution_options(synchronize_session=False))
    return removed


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_text(states: list[SubscriptionDelivery]) -> str:
    """The delivery state in the Prometheus text exposition format (version 0.0.4)."""
    metrics = [
        ("tmf_oss_delivery_pending_events", "gauge", "Events committed and not yet dealt with", "pending"),
        ("tmf_oss_delivery_oldest_pending_age_seconds", "gauge", "Age of the oldest pending event",
         "oldest_pending_age_seconds"),
        ("tmf_oss_delivery_delivered_total", "counter", "Events accepted by the callback", "delivered"),
        ("tmf_oss_delivery_failed_attempts_total", "counter", "Delivery attempts that failed", "failed_attempts"),
        ("tmf_oss_delivery_parked_events", "gauge", "Events given up on, waiting for a replay", "parked"),
        ("tmf_oss_delivery_retrying_attempts", "gauge", "Failed attempts at the event at the head", "retrying"),
    ]
    lines = []
    for name, kind, help_text, attribute in metrics:
        lines.append(f"# HELP {name} {help_text}, per hub subscription.")
        lines.append(f"# TYPE {name} {kind}")
        for state in states:
            value = getattr(state, attribute)
            labels = f'subscription="{_label(state.id)}",api="{_label(state.api)}",version="{state.version}"'
            lines.append(f"{name}{{{labels}}} {0 if value is None else value}")
    lines.append("# HELP tmf_oss_delivery_subscriptions Registered hub subscriptions.")
    lines.append("# TYPE tmf_oss_delivery_subscriptions gauge")
    lines.append(f"tmf_oss_delivery_subscriptions {len(states)}")
    return "\n".join(lines) + "\n"
