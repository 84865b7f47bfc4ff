"""The TMF633 service specification collection: what is specific to the catalog, on top of the shared machinery."""
from __future__ import annotations

from tmf_oss.catalog.model import ServiceSpecificationRow
from tmf_oss.catalog.orderable import CatalogError, parse_spec
from tmf_oss.tmf.collection import EntitySpec, now_text
from tmf_oss.tmf.errors import bad_request
from tmf_oss.tmf.polymorphism import TypeFamily

# TMF633 v4 defines no standard subclasses; tmf-oss's NetworkServiceSpecification is a client-style subtype
# (@baseType ServiceSpecification), so its members are recorded as extensions like any client's.
SERVICE_SPECIFICATION_FAMILY = TypeFamily(base="ServiceSpecification", known=frozenset({"ServiceSpecification"}))

NETWORK_TYPE = "NetworkServiceSpecification"


def check(canonical: dict) -> None:
    """Refuse a specification whose rules or activation templates cannot be used (a TMF 400)."""
    try:
        parse_spec(canonical.get("name") or "(new)", canonical)
    except CatalogError as exc:
        raise bad_request(str(exc), reason="Invalid service specification") from None


def on_create(canonical: dict) -> None:
    check(canonical)
    canonical["lastUpdate"] = now_text()


def on_update(previous: dict, canonical: dict) -> None:
    check(canonical)
    before = {k: v for k, v in previous.items() if k != "lastUpdate"}
    after = {k: v for k, v in canonical.items() if k != "lastUpdate"}
    if before != after:
        canonical["lastUpdate"] = now_text()


SERVICE_SPECIFICATION = EntitySpec(
    name="serviceSpecification",
    api="tmf633",
    model=ServiceSpecificationRow,
    family=SERVICE_SPECIFICATION_FAMILY,
    event_prefix="ServiceSpecification",
    # TMF633 v4 has one change event for any change.
    event_names={"AttributeValueChangeEvent": "ServiceSpecificationChangeEvent",
                 "StateChangeEvent": "ServiceSpecificationChangeEvent"},
    columns={
        "name": "name",
        "lifecycleStatus": "lifecycle_status",
        "version": "spec_version",
        "isBundle": "is_bundle",
    },
    server_owned=frozenset({"lastUpdate"}),
    on_create=on_create,
    on_update=on_update,
    rendered_columns={"v4": "body"},
)
