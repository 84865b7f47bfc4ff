"""resourceRelationship entries become real links that can be walked (device -> card -> port, port <-> port)."""
from __future__ import annotations

from tests.api.helpers import V5
from tmf_oss.inventory.topology import descendants, related


def make(client, name, relationships=()):
    body = {"@type": "PhysicalResource", "name": name,
            "resourceRelationship": [{"@type": "ResourceRelationship", "relationshipType": kind,
                                      "resource": {"@type": "ResourceRef", "id": target}}
                                     for kind, target in relationships]}
    response = client.post(f"{V5}/resource", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_containment_and_links_are_walkable(client, app):
    port_a = make(client, "port-a")
    port_b = make(client, "port-b")
    card = make(client, "card", [("contains", port_a), ("contains", port_b)])
    device = make(client, "device", [("contains", card)])
    far_port = make(client, "far-port", [("connectedTo", port_a)])
    with app.platform.db.reading() as session:
        assert sorted(descendants(session, device)) == sorted([card, port_a, port_b])
        assert sorted(descendants(session, card)) == sorted([port_a, port_b])
        assert ("connectedTo", far_port) in related(session, port_a)
        assert ("contains", card) in related(session, port_a)


def test_links_follow_patch_and_delete(client, app):
    port = make(client, "port")
    card = make(client, "card", [("contains", port)])
    client.patch(f"{V5}/resource/{card}", json=[{"op": "remove", "path": "/resourceRelationship/0"}],
                 headers={"content-type": "application/json-patch+json"})
    with app.platform.db.reading() as session:
        assert descendants(session, card) == []
    client.patch(f"{V5}/resource/{card}", json={"@type": "PhysicalResource", "resourceRelationship": [
        {"@type": "ResourceRelationship", "relationshipType": "contains", "resource": {"@type": "ResourceRef", "id": port}}]},
        headers={"content-type": "application/merge-patch+json"})
    with app.platform.db.reading() as session:
        assert descendants(session, card) == [port]
    client.delete(f"{V5}/resource/{card}")
    with app.platform.db.reading() as session:
        assert related(session, port) == []
