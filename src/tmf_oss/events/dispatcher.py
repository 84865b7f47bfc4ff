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
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
from sqlalchemy import Integer, String, Text, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from tmf_oss.db.base import UtcDateTime, as_utc, utcnow
from tmf_oss.events.delivery import RetryPolicy, Sender, target_url
from tmf_oss.events.envelope import envelope
from tmf_oss.events.model import PARKED, REPLAY, REPLAYED, HubSubscription, OutboxEvent, ParkedDelivery
from tmf_oss.events.recent import COLUMNS as EVENT_COLUMNS
from tmf_oss.events.recent import RecentEvents, StoredEvent
from tmf_oss.events.subscriptions import hub_conditions
from tmf_oss.tmf.lru import BoundedCache
from tmf_oss.tmf.query import matches

log = logging.getLogger("tmf_oss.dispatcher")

BATCH = 200  # events read per query
# Progress is saved after this many deliveries or this long, whichever comes first: what a crash can make us
# post twice, per subscription.
SAVE_EVERY = 100
SAVE_INTERVAL = 0.25
SUBSCRIPTIONS = HubSubscription.__table__
PARKED_TABLE = ParkedDelivery.__table__


def _due_subscriptions():
    """Subscriptions nobody serves that have events after their cursor (or replays asked for) and are not
    waiting out a backoff, least recently served first."""
    candidate = aliased(HubSubscription)
    now = bindparam("now", type_=UtcDateTime)
    latest = (select(func.max(OutboxEvent.seq)).where(OutboxEvent.api == candidate.api)
              .correlate(candidate).scalar_subquery())
    replay_wanted = exists().where(ParkedDelivery.subscription_id == candidate.id,
                                   ParkedDelivery.state == REPLAY).correlate(candidate)
    return (
        select(candidate.seq)
        .where(or_(candidate.lease_until.is_(None), candidate.lease_until < now),
               or_(candidate.next_attempt_at.is_(None), candidate.next_attempt_at <= now),
               or_(candidate.delivered_seq < latest, replay_wanted))
        .order_by(candidate.lease_until.asc().nulls_first(), candidate.seq)
    )


def _claim_statement():
    """Take the lease on due subscriptions in one statement. On PostgreSQL, rows another dispatcher is claiming
    at this moment are skipped rather than waited for (SQLite has one writer at a time anyway)."""
    c = SUBSCRIPTIONS.c
    candidates = _due_subscriptions().limit(bindparam("claim_limit", type_=Integer)).with_for_update(skip_locked=True)
    replay_flag = exists().where(ParkedDelivery.subscription_id == c.id, ParkedDelivery.state == REPLAY)
    return (
        update(SUBSCRIPTIONS)
        .where(c.seq.in_(candidates))
        .values(lease_owner=bindparam("claimer", type_=String), lease_until=bindparam("claimed_until",
                                                                                       type_=UtcDateTime))
        .returning(c.seq, c.id, c.api, c.api_version, c.callback, c.query, c.delivered_seq, c.failures,
                   c.first_failure_at, replay_flag)
    )


def _save_statement():
    """Record a claim's progress, only while the lease is still ours."""
    c = SUBSCRIPTIONS.c
    return (
        update(SUBSCRIPTIONS)
        .where(c.seq == bindparam("b_seq"), c.lease_owner == bindparam("b_owner", type_=String))
        .values(
            delivered_seq=bindparam("b_cursor"), failures=bindparam("b_failures"),
            first_failure_at=bindparam("b_first_failure", type_=UtcDateTime),
            next_attempt_at=bindparam("b_next_attempt", type_=UtcDateTime),
            delivered_count=c.delivered_count + bindparam("b_delivered", type_=Integer),
            failed_count=c.failed_count + bindparam("b_failed", type_=Integer),
            last_error=func.coalesce(bindparam("b_error", type_=Text), c.last_error),
            last_delivered_at=func.coalesce(bindparam("b_last_delivered", type_=UtcDateTime), c.last_delivered_at),
            lease_owner=bindparam("b_new_owner", type_=String),
            lease_until=bindparam("b_lease_until", type_=UtcDateTime),
        )
    )


# Built once: constructing these SQLAlchemy statements costs more than running them.
ANY_DUE = _due_subscriptions().limit(1)
CLAIM = _claim_statement()
SAVE = _save_statement()


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
    replay_wanted: bool = False


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

    @property
    def dirty(self) -> bool:
        return bool(self.delivered or self.failed or self.parked or self.replayed)

    def saved(self) -> None:
        self.delivered = self.failed = 0
        self.parked = []
        self.replayed = []


class Arrivals:
    """Tells subscriptions a dispatcher keeps serving that new events may have committed."""

    def __init__(self, linger: float = 1.0):
        self.linger = linger
        self.generation = 0
        self.lingering_allowed = True  # off when other subscriptions wait for a slot
        self._changed = threading.Condition()

    def announce(self) -> None:
        with self._changed:
            self.generation += 1
            self._changed.notify_all()

    def release_all(self) -> None:
        self.lingering_allowed = False
        self.announce()

    def wait_after(self, seen: int) -> bool:
        """Wait (up to `linger`) for news after generation `seen`; False: let the subscription go."""
        if not self.lingering_allowed:
            return False
        with self._changed:
            return self._changed.wait_for(lambda: self.generation != seen or not self.lingering_allowed,
                                          self.linger) and self.lingering_allowed


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
        self.sender = Sender(timeout=settings.delivery_timeout_seconds)
        # The lease outlasts several timeouts, and progress is saved (renewing it) well before it ends.
        self.lease = timedelta(seconds=max(settings.delivery_lease_seconds, 4 * settings.delivery_timeout_seconds))
        self.work_budget = self.lease.total_seconds() / 4
        # One event goes to many subscriptions: read it once, render it once per API version.
        self._recent = RecentEvents(self.db)
        self._rendered = BoundedCache(8192)
        self._conditions = BoundedCache(1024)

    def close(self) -> None:
        self.sender.close()

    # --- claiming ----------------------------------------------------------------------------------------

    def others_waiting(self) -> bool:
        with self.db.read() as connection:
            return connection.execute(ANY_DUE, {"now": utcnow()}).first() is not None

    def claim(self, limit: int) -> list[Claim]:
        """Lease up to `limit` subscriptions that have something to deliver."""
        now = utcnow()
        with self.db.engine.begin() as connection:
            rows = connection.execute(CLAIM, {"now": now, "claim_limit": limit, "claimer": self.owner,
                                              "claimed_until": now + self.lease}).all()
        return [Claim(*row[:8], as_utc(row[8]), bool(row[9])) for row in sorted(rows)]

    # --- serving -----------------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Serve every subscription that has work, one after another; returns the deliveries made."""
        return sum(self.serve(claim) for claim in self.claim(limit=100_000))

    def serve(self, claim: Claim, arrivals: "Arrivals | None" = None) -> int:
        """Deliver what is pending for one claimed subscription. With `arrivals`, keep the subscription a while
        after it runs dry and deliver new events as they commit, saving progress every SAVE_INTERVAL: at a
        steady trickle this costs a few saves per second instead of a claim and a save per event."""
        progress = Progress(cursor=claim.delivered_seq, failures=claim.failures,
                            first_failure_at=claim.first_failure_at)
        started = last_save = time.monotonic()
        try:
            self._replay_requested(claim, progress)
            held = False
            while not held and time.monotonic() - started < self.work_budget:
                seen = arrivals.generation if arrivals else 0
                events = self._events_after(claim.api, progress.cursor)
                if not events:
                    if arrivals is None or not arrivals.wait_after(seen):
                        break
                    continue
                for event in events:
                    if not self._attempt(claim, event, progress):
                        held = True
                        break
                    now = time.monotonic()
                    if progress.delivered >= SAVE_EVERY or (progress.dirty and now - last_save >= SAVE_INTERVAL):
                        self._save(claim, progress, keep_lease=True)
                        last_save = now
                    if now - started >= self.work_budget:
                        break
            self._save(claim, progress, keep_lease=False)
        except LeaseLost:
            log.warning("lost subscription %s to another dispatcher; stopping", claim.id)
        return progress.total_delivered

    def _events_after(self, api: str, cursor: int) -> list[StoredEvent]:
        return self._recent.after(api, cursor, BATCH)

    def _attempt(self, claim: Claim, event: StoredEvent, progress: Progress) -> bool:
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

    def _body(self, claim: Claim, event: StoredEvent) -> bytes | None:
        if claim.api_version not in self.platform.collection(event.api, event.entity_name).versions:
            return None  # an entity the hub's API version does not have (TMF642 v4 `ackAlarms`, v5 `ackAlarm`)
        document, body = self._rendered_event(event, claim.api_version)
        conditions = self._conditions_for(claim.query)
        if conditions and not matches(document, conditions):
            return None
        return body

    def _conditions_for(self, query: str | None):
        if not query:
            return []
        conditions = self._conditions.get(query)
        if conditions is None:
            conditions = hub_conditions(query)
            self._conditions.put(query, conditions)
        return conditions

    def _rendered_event(self, event: StoredEvent, api_version: str) -> tuple[dict, bytes]:
        """The envelope in the hub's version (for its query) and its serialised body."""
        key = (event.seq, api_version)
        rendered = self._rendered.get(key)
        if rendered is None:
            collection = self.platform.collection(event.api, event.entity_name)
            doc = dict(event.entity)
            ident = doc.pop("id")
            entity = collection.render(collection.served(api_version), event.base_url, ident, doc)
            document = envelope(event, api_version, entity)
            rendered = (document, orjson.dumps(document))
            self._rendered.put(key, rendered)
        return rendered

    def _replay_requested(self, claim: Claim, progress: Progress) -> None:
        """Parked events an operator asked to replay go first, each tried once."""
        if not claim.replay_wanted:
            return
        with self.db.read() as connection:
            wanted = connection.execute(
                select(ParkedDelivery.seq, *EVENT_COLUMNS)
                .join(OutboxEvent, OutboxEvent.seq == ParkedDelivery.event_seq, isouter=True)
                .where(ParkedDelivery.subscription_id == claim.id, ParkedDelivery.state == REPLAY)
                .order_by(ParkedDelivery.event_seq).limit(BATCH)
            ).all()
        for parked_seq, *columns in wanted:
            if columns[0] is None:
                progress.replayed.append((parked_seq, "the event is no longer in the outbox"))
                continue
            event = StoredEvent(*columns)
            try:
                body = self._rendered_event(event, claim.api_version)[1]
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
        params = {
            "b_seq": claim.seq, "b_owner": self.owner, "b_cursor": progress.cursor, "b_failures": progress.failures,
            "b_first_failure": progress.first_failure_at, "b_next_attempt": progress.next_attempt_at,
            "b_delivered": progress.delivered, "b_failed": progress.failed,
            "b_error": progress.last_error, "b_last_delivered": progress.last_delivered_at,
            # Released leases keep their time: claims go to the least recently served subscriptions first.
            "b_new_owner": self.owner if keep_lease else None,
            "b_lease_until": now + self.lease if keep_lease else now,
        }
        with self.db.engine.begin() as connection:
            if connection.execute(SAVE, params).rowcount != 1:
                raise LeaseLost(claim.id)
            if progress.parked:
                connection.execute(insert(PARKED_TABLE), progress.parked)
            for parked_seq, error in progress.replayed:
                outcome = ({"state": REPLAYED, "replayed_at": now} if error is None
                           else {"state": PARKED, "last_error": error[:1000]})
                connection.execute(update(PARKED_TABLE).where(PARKED_TABLE.c.seq == parked_seq)
                                   .values(attempts=PARKED_TABLE.c.attempts + 1, **outcome))
        progress.saved()
