"""Delivers outbox events to hub callbacks: per subscription, in commit order, retried with backoff.

Each subscription keeps a cursor (the last outbox seq it dealt with), so a failing callback holds back only its
own later events. On PostgreSQL a subscription is claimed with FOR UPDATE SKIP LOCKED, so several dispatchers
(one per worker process) never deliver the same event to the same subscription at once.
"""
from __future__ import annotations

import logging
import random
import threading
from datetime import timedelta

import httpx
import orjson
from sqlalchemy import or_, select

from tmf_oss.db.base import utcnow
from tmf_oss.events.envelope import envelope
from tmf_oss.events.model import HubSubscription, OutboxEvent
from tmf_oss.events.outbox import wake_up
from tmf_oss.events.subscriptions import hub_conditions
from tmf_oss.tmf.lru import BoundedCache
from tmf_oss.tmf.query import matches

log = logging.getLogger("tmf_oss.dispatcher")

BATCH = 200
MAX_BACKOFF_SECONDS = 300.0


def backoff_seconds(failures: int) -> float:
    # Exponential with full jitter: spreads retries of many subscriptions hitting one recovering listener.
    return random.uniform(0, min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** min(failures, 16)))


class Dispatcher:
    def __init__(self, platform, *, timeout: float = 5.0):
        self.platform = platform
        self.db = platform.db
        self.client = httpx.Client(timeout=timeout, headers={"Content-Type": "application/json"})
        # One event goes to many subscriptions: render it once per API version, not once per subscription.
        self._rendered = BoundedCache(4096)

    def close(self) -> None:
        self.client.close()

    def due_subscriptions(self) -> list[int]:
        with self.db.reading() as session:
            return list(session.execute(
                select(HubSubscription.seq)
                .where(or_(HubSubscription.next_attempt_at.is_(None), HubSubscription.next_attempt_at <= utcnow()))
                .order_by(HubSubscription.seq)
            ).scalars())

    def run_once(self) -> int:
        delivered = 0
        for seq in self.due_subscriptions():
            delivered += self._serve_subscription(seq)
        return delivered

    def _serve_subscription(self, seq: int) -> int:
        delivered = 0
        with self.db.transaction() as session:
            statement = select(HubSubscription).where(HubSubscription.seq == seq)
            if self.db.dialect == "postgresql":
                statement = statement.with_for_update(skip_locked=True)
            subscription = session.execute(statement).scalar_one_or_none()
            if subscription is None:
                return 0
            events = session.execute(
                select(OutboxEvent)
                .where(OutboxEvent.api == subscription.api, OutboxEvent.seq > subscription.delivered_seq)
                .order_by(OutboxEvent.seq).limit(BATCH)
            ).scalars().all()
            conditions = hub_conditions(subscription.query)
            for event in events:
                body = envelope(event, subscription.api_version, self._entity(event, subscription.api_version))
                if conditions and not matches(body, conditions):
                    subscription.delivered_seq = event.seq
                    continue
                error = self._post(subscription.callback, body)
                if error is None:
                    subscription.delivered_seq = event.seq
                    subscription.failures = 0
                    subscription.next_attempt_at = None
                    subscription.last_error = None
                    delivered += 1
                    continue
                subscription.failures += 1
                subscription.last_error = error[:1000]
                subscription.next_attempt_at = utcnow() + timedelta(seconds=backoff_seconds(subscription.failures))
                log.warning("delivery failed subscription=%s event=%s error=%s", subscription.id, event.event_id, error)
                break
        return delivered

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

    def _post(self, callback: str, body: dict) -> str | None:
        try:
            response = self.client.post(callback, content=orjson.dumps(body))
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"


def run_in_thread(platform, *, interval: float, timeout: float) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()

    def loop() -> None:
        dispatcher = Dispatcher(platform, timeout=timeout)
        try:
            while not stop.is_set():
                try:
                    dispatcher.run_once()
                except Exception:  # keep delivering after a transient database error
                    log.exception("dispatcher pass failed")
                wake_up.wait(interval)
        finally:
            dispatcher.close()

    thread = threading.Thread(target=loop, name="tmf-oss-dispatcher", daemon=True)
    thread.start()
    return thread, stop
