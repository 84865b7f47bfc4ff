"""The TMF638 service collection: what is specific to services, on top of the shared machinery."""
from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from tmf_oss.services.model import ServiceResourceRow, ServiceRow
from tmf_oss.tmf.collection import EntitySpec, now_text
from tmf_oss.tmf.polymorphism import TypeFamily
from tmf_oss.tmf.query import parse_instant

SERVICE_FAMILY = TypeFamily(base="Service", known=frozenset({"Service"}))


def supporting_resource_ids(canonical: dict) -> list[str]:
    """The ids of the resources a service document says it is built on, each once, in document order."""
    found: dict[str, None] = {}
    for item in canonical.get("supportingResource") or ():
        if isinstance(item, dict) and item.get("id") not in (None, ""):
            found[str(item["id"])] = None
    return list(found)


def sync_supporting_resources(session: Session, row, canonical: dict, *, created: bool) -> None:
    """Make the link table say exactly what the document's supportingResource says (every write path)."""
    if not created:  # a new row has no links yet
        session.execute(delete(ServiceResourceRow).where(ServiceResourceRow.service_seq == row.seq))
    links = [{"service_seq": row.seq, "resource_id": ident} for ident in supporting_resource_ids(canonical)]
    if links:
        session.execute(ServiceResourceRow.__table__.insert(), links)


def _start_date(canonical: dict) -> dict:
    """startDate as an instant, and no instant when there is none (a service need not have started)."""
    value = canonical.get("startDate")
    try:
        return {"start_date": parse_instant(value) if isinstance(value, str) else None}
    except ValueError:
        return {"start_date": None}


def _stamp_service_date(canonical: dict) -> None:
    # serviceDate is in the standard's read shape only: the date the service entered the inventory.
    canonical["serviceDate"] = now_text()


SERVICE = EntitySpec(
    name="service",
    api="tmf638",
    model=ServiceRow,
    family=SERVICE_FAMILY,
    event_prefix="Service",
    columns={
        "name": "name",
        "state": "state",
        "operatingStatus": "operating_status",
        "category": "category",
        "serviceType": "service_type",
        # Filled by derived_columns (below), which leaves it empty when the service has no startDate.
        "startDate": "start_date",
    },
    state_fields=frozenset({"state"}),
    member_events={"operatingStatus": "OperatingStatusChangeEvent"},
    server_owned=frozenset({"serviceDate"}),
    on_create=_stamp_service_date,
    on_write=sync_supporting_resources,
    rendered_columns={"v5": "body"},
    derived_columns=_start_date,
)
