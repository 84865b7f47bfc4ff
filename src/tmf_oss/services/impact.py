"""Which services a resource carries: the service side of an alarm's impact.

A service names the resources it is built on (`supportingResource`); `service_resource` holds those links, kept
in step with every write. A terminated service no longer depends on anything.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tmf_oss.services.model import ServiceResourceRow, ServiceRow
from tmf_oss.tmf.counts import CollectionCount

LOOKUP_CHUNK = 500  # ids per IN (...) list
ENDED = "terminated"


@dataclass(frozen=True)
class ServiceImpact:
    id: str
    name: str | None
    state: str | None

    def reference(self) -> dict:
        """A TMF ServiceRef to this service, as an alarm's affectedService lists it."""
        ref = {"@type": "ServiceRef", "@referredType": "Service", "id": self.id}
        if self.name:
            ref["name"] = self.name
        return ref


def affected_services(session: Session, resource_ids: Iterable[str]) -> dict[str, list[ServiceImpact]]:
    """For each resource id, the services that are not terminated and list it among their supporting resources
    (an empty list for a resource that carries none), ordered by service id. One query per 500 ids."""
    ordered = sorted(set(resource_ids))
    found: dict[str, list[ServiceImpact]] = {ident: [] for ident in ordered}
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        chunk = ordered[start:start + LOOKUP_CHUNK]
        rows = session.execute(
            select(ServiceResourceRow.resource_id, ServiceRow.id, ServiceRow.name, ServiceRow.state)
            .join(ServiceRow, ServiceRow.seq == ServiceResourceRow.service_seq)
            .where(ServiceResourceRow.resource_id.in_(chunk),
                   or_(ServiceRow.state.is_(None), ServiceRow.state != ENDED))
            .order_by(ServiceResourceRow.resource_id, ServiceRow.id)).all()
        for resource_id, ident, name, state in rows:
            found[resource_id].append(ServiceImpact(ident, name, state))
    return found


class ServiceImpacts:
    """affected_services with memory, for a caller that asks again and again (the fault engine, per batch).
    What it learned is kept while the service collection's write generation stays where it was, and
    forgotten as soon as any service is written."""

    LIMIT = 200_000  # resource ids remembered at most; beyond, start again

    def __init__(self):
        self._known: dict[str, tuple[ServiceImpact, ...]] = {}
        self._generation: int | None = None

    def lookup(self, session: Session, resource_ids: Iterable[str]) -> dict[str, tuple[ServiceImpact, ...]]:
        """The services each resource supports, for the resources that support any (others are left out)."""
        # The generation is read before the links, so what is learned is never older than the generation.
        count = session.execute(select(CollectionCount.generation, CollectionCount.total)
                                .where(CollectionCount.name == "service")).first()
        generation, total = count if count is not None else (None, 0)
        if generation != self._generation or len(self._known) > self.LIMIT:
            self._known.clear()
            self._generation = generation
        if not total:  # no services at all: nothing can be affected
            return {}
        wanted = set(resource_ids)
        missing = [ident for ident in wanted if ident not in self._known]
        if missing:
            for ident, impacts in affected_services(session, missing).items():
                self._known[ident] = tuple(impacts)
        known = self._known
        return {ident: known[ident] for ident in wanted if known[ident]}
