"""The held read connection recovers when the database drops it (server restart, idle timeout)."""
from __future__ import annotations

import threading

from tests.api.helpers import V5
from tmf_oss.db.fast_read import _held


def test_retrieve_survives_a_dropped_read_connection(client, app):
    created = client.post(f"{V5}/resource", json={"@type": "LogicalResource", "name": "kept"}).json()
    assert client.get(f"{V5}/resource/{created['id']}").status_code == 200
    db = app.platform.db
    collection = app.platform.collection("tmf639", "resource")
    collection.retrieve("v5", created["id"], base_url="http://x", selection=None)  # this thread holds one now
    held = db.held_connections[threading.get_ident()]
    held.dbapi.close()  # what a server restart looks like from the client side
    body, _ = collection.retrieve("v5", created["id"], base_url="http://x", selection=None)
    assert b'"name":"kept"' in body
    assert db.held_connections[threading.get_ident()] is not held
    _held.drop(db)
