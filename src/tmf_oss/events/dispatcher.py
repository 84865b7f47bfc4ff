"""Delivers outbox events to hub callbacks: per subscription, in commit order, at least once.

Each subscription keeps a cursor (the last outbox seq it dealt with), so a failing callback holds back only its
own later events. A dispatcher first *claims* subscriptions that have work (a lease: owner + expiry, taken with
one UPDATE, FOR UPDATE SKIP LOCKED on PostgreSQL), then posts outside any transaction and saves the cursor as it
goes. Several dispatchers (in `serve` processes and `tmf-oss worker` processes) therefore never serve one
subscription at the same time, and a dispatcher that dies only delays its subscriptions until the lease lapses.
An event posted but not yet recorded when a dispatcher dies is posted again: its eventId lets the client tell.
"""
from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
from sqlalchemy import exists, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from tmf_oss.db.base import as_utc, utcnow
from tmf_oss.events.delivery import RetryPolicy, Sender, target_url
from tmf_oss.events.envelope import envelope
from tmf_oss.events.model import PARKED, REPLAY, REPLAYED, HubSubscription, OutboxEvent, ParkedDelivery
from tmf_oss.events.subscriptions import hub_conditions
from tmf_oss.tmf.lru import BoundedCache
from tmf_oss.tmf.query import matches

log = logging.getLogger("tmf_oss.dispatcher")

BATCH = 200  # events read per query
SAVE_EVERY = 100  # deliveries between cursor saves: the most a crash can make us post twice per subscription
SUBSCRIPTIONS = HubSubscription.__table__
PARKED_TABLE = ParkedDelivery.__table__


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Claim:
    """A subscription this dispatcher holds the lease on."""

    seq: int
    id: str
    api: str
    api_version: str
    callback: str
    query: str | None
    delivered_seq: int
    failures: int
    first_failure_at: datetime | None


@dataclass
class Progress:
    """What serving one claim changed, saved to the subscription row from time to time."""

    cursor: int
    failures: int
    first_failure_at: datetime | None
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    last_delivered_at: datetime | None = None
    delivered: int = 0  # since the last save
    failed: int = 0  # since the last save
    total_delivered: int = 0
    parked: list[dict] = field(default_factory=list)
    replayed: list[tuple[int, str | None]] = field(default_factory=list)  # (parked seq, error or None)

    def saved(self) -> None:
        self.delivered = self.failed = 0
        self.parked = []
        self.replayed = []


class LeaseLost(Exception):
    """Another dispatcher took the subscription over, or it was deleted: stop serving it."""


class Dispatcher:
    def __init__(self, platform, *, owner: str | None = None, settings=None):
        settings = settings or platform.settings
        self.platform = platform
        self.db = platform.db
        self.owner = owner or default_owner()
        self.style = settings.callback_style
        self.policy = RetryPolicy.from_settings(settings)
        self.sender = Sender(timeout=settings.delivery_timeout_seconds,
                             pool_size=max(4, settings.delivery_concurrency))
        # The lease outlasts several timeouts, and progress is saved (renewing it) well before it ends.
        self.lease = timedelta(seconds=max(settings.delivery_lease_seconds, 4 * settings.delivery_timeout_seconds))
        self.work_budget = self.lease.total_seconds() / 4
        # One event goes to many subscriptions: render it once per API version, not once per subscription.
        self._rendered = BoundedCache(4096)
        self._conditions = BoundedCache(1024)

    def close(self) -> None:
        self.sender.close()

    # --- claiming ----------------------------------------------------------------------------------------

    def claim(self, limit: int) -> list[Claim]:
        """Lease up to `limit` subscriptions that have something to deliver, least recently served first."""
        now = utcnow()
        candidate = aliased(HubSubscription)
        latest = (select(func.max(OutboxEvent.seq)).where(OutboxEvent.api == candidate.api)
                  .correlate(candidate).scalar_subquery())
        replay_wanted = exists().where(ParkedDelivery.subscription_id == candidate.id,
                                       ParkedDelivery.state == REPLAY).correlate(candidate)
        candidates = (
            select(candidate.seq)
            .where(or_(candidate.lease_until.is_(None), candidate.lease_until < now),
                   or_(candidate.next_attempt_at.is_(None), candidate.next_attempt_at <= now),
                   or_(candidate.delivered_seq < latest, replay_wanted))
            .order_by(candidate.lease_until.asc().nulls_first(), candidate.seq)
            .limit(limit)
        )
        if self.db.dialect == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        c = SUBSCRIPTIONS.c
        statement = (
            update(SUBSCRIPTIONS)
            .where(c.seq.in_(candidates))
            .values(lease_owner=self.owner, lease_until=now + self.lease)
            .returning(c.seq, c.id, c.api, c.api_version, c.callback, c.query, c.delivered_seq, c.failures,
                       c.first_failure_at)
        )
        with self.db.transaction() as session:
            rows = session.execute(statement).all()
        return [Claim(*row[:8], as_utc(row[8])) for row in sorted(rows)]

    # --- serving -----------------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Serve every subscription that has work, one after another; returns the deliveries made."""
        return sum(self.serve(claim) for claim in self.claim(limit=100_000))

    def serve(self, claim: Claim) -> int:
        progress = Progress(cursor=claim.delivered_seq, failures=claim.failures,
                            first_failure_at=claim.first_failure_at)
        started = time.monotonic()
        try:
            self._replay_requested(claim, progress)
            held = False
            while not held and time.monotonic() - started < self.work_budget:
                events = self._events_after(claim.api, progress.cursor)
                if not events:
                    break
                for event in events:
                    if not self._attempt(claim, event, progress):
                        held = True
                        break
                    if progress.delivered >= SAVE_EVERY:
                        self._save(claim, progress, keep_lease=True)
                    if time.monotonic() - started >= self.work_budget:
                        break
            self._save(claim, progress, keep_lease=False)
        except LeaseLost:
            log.warning("lost subscription %s to another dispatcher; stopping", claim.id)
        return progress.total_delivered

    def _events_after(self, api: str, cursor: int) -> list[OutboxEvent]:
        with self.db.reading() as session:
            return list(session.execute(
                select(OutboxEvent).where(OutboxEvent.api == api, OutboxEvent.seq > cursor)
                .order_by(OutboxEvent.seq).limit(BATCH)
            ).scalars())

    def _attempt(self, claim: Claim, event: OutboxEvent, progress: Progress) -> bool:
        """Deal with the event after the cursor; False when the subscription must wait before trying again."""
        try:
            body = self._body(claim, event)
        except Exception as exc:  # a broken event must not spin the dispatcher: it follows the retry policy
            log.exception("cannot render event %s", event.event_id)
            error = f"cannot render the event: {type(exc).__name__}: {exc}"
        else:
            if body is None:  # the hub's query does not select it
                progress.cursor = event.seq
                return True
            error = self.sender.post(target_url(claim.callback, event.event_type, self.style), body)
        now = utcnow()
        if error is None:
            progress.cursor = event.seq
            progress.failures = 0
            progress.first_failure_at = None
            progress.next_attempt_at = None
            progress.last_delivered_at = now
            progress.delivered += 1
            progress.total_delivered += 1
            return True
        progress.failed += 1
        progress.failures += 1
        progress.first_failure_at = progress.first_failure_at or now
        progress.last_error = error[:1000]
        if self.policy.gives_up(progress.failures, progress.first_failure_at, now):
            log.error("parking event %s for subscription %s after %d attempts: %s", event.event_id, claim.id,
                      progress.failures, error)
            progress.parked.append({
                "subscription_id": claim.id, "api": claim.api, "event_seq": event.seq, "event_id": event.event_id,
                "event_type": event.event_type, "state": PARKED, "attempts": progress.failures,
                "first_attempt_at": progress.first_failure_at, "parked_at": now, "last_error": progress.last_error,
            })
            progress.cursor = event.seq
            progress.failures = 0
            progress.first_failure_at = None
            progress.next_attempt_at = None
            return True
        progress.next_attempt_at = now + self.policy.delay(progress.failures)
        log.warning("delivery failed subscription=%s event=%s attempt=%d error=%s", claim.id, event.event_id,
                    progress.failures, error)
        return False

    def _body(self, claim: Claim, event: OutboxEvent) -> bytes | None:
        body = envelope(event, claim.api_version, self._entity(event, claim.api_version))
        conditions = self._conditions_for(claim.query)
        if conditions and not matches(body, conditions):
            return None
        return orjson.dumps(body)

    def _conditions_for(self, query: str | None):
        if not query:
            return []
        conditions = self._conditions.get(query)
        if conditions is None:
            conditions = hub_conditions(query)
            self._conditions.put(query, conditions)
        return conditions

    def _entity(self, event: OutboxEvent, api_version: str) -> dict:
        key = (event.seq, api_version)
        rendered = self._rendered.get(key)
        if rendered is None:
            collection = self.platform.collection(event.api, event.entity_name)
            doc = dict(event.entity)
            ident = doc.pop("id")
            rendered = collection.render(collection.served(api_version), event.base_url, ident, doc)
            self._rendered.put(key, rendered)
        return rendered

    def _replay_requested(self, claim: Claim, progress: Progress) -> None:
        """Parked events an operator asked to replay go first, each tried once."""
        with self.db.reading() as session:
            wanted = session.execute(
                select(ParkedDelivery.seq, OutboxEvent)
                .join(OutboxEvent, OutboxEvent.seq == ParkedDelivery.event_seq, isouter=True)
                .where(ParkedDelivery.subscription_id == claim.id, ParkedDelivery.state == REPLAY)
                .order_by(ParkedDelivery.event_seq).limit(BATCH)
            ).all()
        for parked_seq, event in wanted:
            if event is None:
                progress.replayed.append((parked_seq, "the event is no longer in the outbox"))
                continue
            try:
                body = orjson.dumps(envelope(event, claim.api_version, self._entity(event, claim.api_version)))
            except Exception as exc:
                progress.replayed.append((parked_seq, f"cannot render the event: {exc}"))
                continue
            error = self.sender.post(target_url(claim.callback, event.event_type, self.style), body)
            progress.replayed.append((parked_seq, error))
            if error is None:
                progress.delivered += 1
                progress.total_delivered += 1
                progress.last_delivered_at = utcnow()
            else:
                progress.failed += 1

    def _save(self, claim: Claim, progress: Progress, *, keep_lease: bool) -> None:
        now = utcnow()
        c = SUBSCRIPTIONS.c
        values = {
            "delivered_seq": progress.cursor, "failures": progress.failures,
            "first_failure_at": progress.first_failure_at, "next_attempt_at": progress.next_attempt_at,
            "delivered_count": c.delivered_count + progress.delivered,
            "failed_count": c.failed_count + progress.failed,
            # Released leases keep their time: claims go to the least recently served subscriptions first.
            "lease_owner": self.owner if keep_lease else None,
            "lease_until": now + self.lease if keep_lease else now,
        }
        if progress.last_error is not None:
            values["last_error"] = progress.last_error
        if progress.last_delivered_at is not None:
            values["last_delivered_at"] = progress.last_delivered_at
        with self.db.transaction() as session:
            saved = session.execute(
                update(SUBSCRIPTIONS).where(c.seq == claim.seq, c.lease_owner == self.owner).values(**values)
            ).rowcount
            if saved != 1:
                raise LeaseLost(claim.id)
            if progress.parked:
                session.execute(insert(PARKED_TABLE), progress.parked)
            for parked_seq, error in progress.replayed:
                outcome = ({"state": REPLAYED, "replayed_at": now} if error is None
                           else {"state": PARKED, "last_error": error[:1000]})
                session.execute(update(PARKED_TABLE).where(PARKED_TABLE.c.seq == parked_seq)
                                .values(attempts=PARKED_TABLE.c.attempts + 1, **outcome))
        progress.saved()
