"""Hub registration (TMF630 notifications): validate, store, list and remove subscriptions."""
from __future__ import annotations

import ipaddress
import socket
import uuid
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import delete, func, select

from tmf_oss.db.engine import Database
from tmf_oss.events.model import HubSubscription, OutboxEvent, ParkedDelivery
from tmf_oss.tmf.errors import bad_request, not_found
from tmf_oss.tmf.query import Condition, parse_conditions, validate_regex


def normalise_query(query: str | None) -> str | None:
    """Hub queries come as 'eventType=X&event.resource.name=y', often with a leading '?' or spaces."""
    if query is None:
        return None
    text = query.strip().lstrip("?").strip()
    parts = [part.strip() for part in text.split("&") if part.strip()]
    cleaned = []
    for part in parts:
        key, sep, value = part.partition("=")
        cleaned.append(key.strip() + sep + value.strip())
    return "&".join(cleaned) or None


def hub_conditions(query: str | None) -> list[Condition]:
    if not query:
        return []
    conditions = parse_conditions(parse_qsl(query, keep_blank_values=True), reserved=frozenset())
    for condition in conditions:
        if condition.op == "regex":
            for pattern in condition.values:
                validate_regex(pattern)
    return conditions


def check_callback(callback: str, *, allow_private: bool) -> None:
    parts = urlsplit(callback)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_request(f"callback '{callback}' must be an absolute http or https URL", reason="Invalid callback")
    if allow_private:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 80)}
    except socket.gaierror:
        raise bad_request(f"callback host '{parts.hostname}' does not resolve", reason="Invalid callback") from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast:
            raise bad_request(f"callback address {ip} is not allowed by this server's policy",
                              reason="Invalid callback")


class Subscriptions:
    def __init__(self, db: Database, *, allow_private: bool):
        self.db = db
        self.allow_private = allow_private

    def register(self, api: str, api_version: str, callback: str, query: str | None) -> HubSubscription:
        check_callback(callback, allow_private=self.allow_private)
        query = normalise_query(query)
        hub_conditions(query)  # refuse a malformed query now rather than at delivery time
        with self.db.transaction() as session:
            # Only events committed after registration are delivered.
            latest = session.execute(select(func.max(OutboxEvent.seq))).scalar() or 0
            subscription = HubSubscription(id=str(uuid.uuid4()), api=api, api_version=api_version,
                                           callback=callback, query=query, delivered_seq=latest, failures=0)
            session.add(subscription)
        return subscription

    def get(self, api: str, ident: str) -> HubSubscription:
        with self.db.reading() as session:
            return _find(session, api, ident)

    def list(self, api: str) -> list[HubSubscription]:
        with self.db.reading() as session:
            return list(session.execute(
                select(HubSubscription).where(HubSubscription.api == api).order_by(HubSubscription.seq)
            ).scalars())

    def remove(self, api: str, ident: str) -> None:
        with self.db.transaction() as session:
            session.delete(_find(session, api, ident))
            # Its parked events have nowhere left to go.
            session.execute(delete(ParkedDelivery).where(ParkedDelivery.subscription_id == ident))


def _find(session, api: str, ident: str) -> HubSubscription:
    found = session.execute(
        select(HubSubscription).where(HubSubscription.api == api, HubSubscription.id == ident)
    ).scalar_one_or_none()
    if found is None:
        raise not_found("hub subscription", ident)
    return found
