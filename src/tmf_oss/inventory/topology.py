"""Walk the resource graph built from resourceRelationship links (device -> card -> port, port <-> port)."""
from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tmf_oss.inventory.model import ResourceLinkRow, ResourceRow


def relationship_links(canonical: dict) -> list[dict]:
    """The link rows (without their source) that a document's resourceRelationship entries stand for."""
    links = []
    for position, relationship in enumerate(canonical.get("resourceRelationship") or ()):
        if not isinstance(relationship, dict):
            continue
        target = relationship.get("resource") or {}
        target_id = target.get("id") if isinstance(target, dict) else None
        if target_id:
            links.append({"target_id": str(target_id),
                          "relationship_type": str(relationship.get("relationshipType") or ""),
                          "position": position})
    return links


def sync_links(session: Session, row: ResourceRow, canonical: dict, *, created: bool) -> None:
    """Make the link table say exactly what the document's resourceRelationship says."""
    if not created:  # a new row has no links yet
        session.execute(delete(ResourceLinkRow).where(ResourceLinkRow.source_seq == row.seq))
    links = [{"source_seq": row.seq, **link} for link in relationship_links(canonical)]
    if links:
        session.execute(ResourceLinkRow.__table__.insert(), links)


def related(session: Session, resource_id: str, relationship_type: str | None = None) -> list[tuple[str, str]]:
    """(relationship type, resource id) for every link from or to a resource, in both directions."""
    outgoing = (
        select(ResourceLinkRow.relationship_type, ResourceLinkRow.target_id)
        .join(ResourceRow, ResourceRow.seq == ResourceLinkRow.source_seq)
        .where(ResourceRow.id == resource_id)
    )
    incoming = (
        select(ResourceLinkRow.relationship_type, ResourceRow.id)
        .join(ResourceRow, ResourceRow.seq == ResourceLinkRow.source_seq)
        .where(ResourceLinkRow.target_id == resource_id)
    )
    if relationship_type is not None:
        outgoing = outgoing.where(ResourceLinkRow.relationship_type == relationship_type)
        incoming = incoming.where(ResourceLinkRow.relationship_type == relationship_type)
    return [tuple(r) for r in session.execute(outgoing).all()] + [tuple(r) for r in session.execute(incoming).all()]


def descendants(session: Session, resource_id: str, relationship_type: str = "contains",
                max_depth: int = 16) -> list[str]:
    """Everything a resource contains, transitively (a recursive CTE on both databases)."""
    start = select(ResourceRow.seq.label("seq"), ResourceRow.id.label("id"), select(0).scalar_subquery().label("depth"))
    start = start.where(ResourceRow.id == resource_id).cte("walk", recursive=True)
    child = ResourceRow.__table__.alias("child")
    step = (
        select(child.c.seq, child.c.id, (start.c.depth + 1).label("depth"))
        .select_from(ResourceLinkRow)
        .join(start, start.c.seq == ResourceLinkRow.source_seq)
        .join(child, child.c.id == ResourceLinkRow.target_id)
        .where(ResourceLinkRow.relationship_type == relationship_type, start.c.depth < max_depth)
    )
    walk = start.union(step)
    rows = session.execute(select(walk.c.id).where(walk.c.id != resource_id)).all()
    return [r[0] for r in rows]
