"""The orchestrator's own rules, without devices: claiming, leases, rejection at pickup, failures, cancellation."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import update

from tests.ordering.support import ORDERING, add_port, order, seed_catalog, vlan_item
from tmf_oss.db.base import utcnow
from tmf_oss.ordering.model import ServiceOrderRow
from tmf_oss.ordering.orchestrator import Orchestrator


@pytest.fixture
def ports(app):
    seed_catalog(app.platform)
    return [add_port(app.platform, "192.0.2.1", "eth1"), add_port(app.platform, "192.0.2.2", "eth1")]


@pytest.fixture
def orchestrators(app, settings):
    made = []

    def make(**overrides) -> Orchestrator:
        orchestrator = Orchestrator(app.platform, settings.with_overrides(**overrides))
        made.append(orchestrator)
        return orchestrator

    yield make
    for orchestrator in made:
        orchestrator.close()


def _create(client, body) -> dict:
    response = client.post(f"{ORDERING}/serviceOrder", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _run(orchestrator: Orchestrator) -> list[str]:
    """Claim and process what is ready, in this thread."""
    claimed = orchestrator.claim(100)
    for order_id in claimed:
        with orchestrator._lock:
            orchestrator._active.add(order_id)
        orchestrator._process(order_id)
    return claimed


def _get(client, ident: str) -> dict:
    return client.get(f"{ORDERING}/serviceOrder/{ident}").json()


def test_an_order_whose_devices_cannot_be_reached_fails_with_the_reason(client, ports, orchestrators):
    created = _create(client, order(vlan_item("1", ports, 100), vlan_item("2", ports, 101,
                      serviceOrderItemRelationship=[{"relationshipType": "dependsOn", "orderItem": {"id": "1"}}])))
    assert _run(orchestrators(devices_file="")) == [created["id"]]
    done = _get(client, created["id"])
    assert done["state"] == "failed"
    first, second = done["serviceOrderItem"]
    assert first["state"] == "failed" and "no devices file" in first["errorMessage"][0]["message"]
    assert second["state"] == "failed" and "did not complete" in second["errorMessage"][0]["message"]
    assert done["startDate"] and done["completionDate"]
    assert [message["serviceOrderItem"][0]["itemId"] for message in done["errorMessage"]] == ["1", "2"]


def test_an_order_that_no_longer_holds_at_pickup_is_rejected(client, app, ports, orchestrators):
    created = _create(client, order(vlan_item("1", ports, 100)))
    app.platform.collection("tmf639", "resource").delete("v5", ports[1], if_match=None,
                                                         base_url="http://testserver", correlation_id=None)
    _run(orchestrators())
    rejected = _get(client, created["id"])
    assert rejected["state"] == "rejected"
    assert rejected["serviceOrderItem"][0]["state"] == "rejected"
    assert "is not an interface of a managed device" in rejected["errorMessage"][0]["message"]


def test_held_and_future_orders_wait(client, ports, orchestrators):
    held = _create(client, order(vlan_item("1", ports, 100)))
    client.patch(f"{ORDERING}/serviceOrder/{held['id']}", json={"state": "held"})
    later = (utcnow() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    _create(client, order(vlan_item("1", ports, 101), requestedStartDate=later))
    assert _run(orchestrators()) == []
    client.patch(f"{ORDERING}/serviceOrder/{held['id']}", json={"state": "acknowledged"})
    assert _run(orchestrators()) == [held["id"]]


def test_workers_never_claim_the_same_order(client, ports, orchestrators):
    created = {_create(client, order(vlan_item("1", ports, 100 + n)))["id"] for n in range(20)}
    first, second = orchestrators(), orchestrators()
    claims: dict[str, list[str]] = {}
    start = threading.Barrier(2)

    def claim(name: str, worker: Orchestrator) -> None:
        start.wait()
        claims[name] = worker.claim(12)

    threads = [threading.Thread(target=claim, args=(name, worker)) for name, worker in (("a", first), ("b", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not set(claims["a"]) & set(claims["b"])
    assert set(claims["a"]) | set(claims["b"]) == created
    assert first.claim(10) == [] and second.claim(10) == []  # leased


def test_a_dead_workers_orders_are_taken_over_when_its_lease_lapses(client, app, ports, orchestrators):
    created = _create(client, order(vlan_item("1", ports, 100)))
    dead, alive = orchestrators(), orchestrators(devices_file="")
    assert dead.claim(10) == [created["id"]]
    assert alive.claim(10) == []
    with app.platform.db.transaction() as session:
        session.execute(update(ServiceOrderRow).values(lease_until=utcnow() - timedelta(seconds=1)))
    assert _run(alive) == [created["id"]]
    assert _get(client, created["id"])["state"] == "failed"  # no devices file: but it was processed, once


def _claim_then_process(orchestrator: Orchestrator, between) -> list[str]:
    """Claim what is ready, let `between()` change the orders, then process them (as a claimed order waits for a
    thread while a client acts on it)."""
    claimed = orchestrator.claim(100)
    between()
    for order_id in claimed:
        with orchestrator._lock:
            orchestrator._active.add(order_id)
        orchestrator._process(order_id)
    return claimed


def test_an_order_held_after_it_was_claimed_is_not_started(client, ports, orchestrators):
    created = _create(client, order(vlan_item("1", ports, 100)))
    worker = orchestrators(devices_file="")
    assert _claim_then_process(worker, lambda: client.patch(f"{ORDERING}/serviceOrder/{created['id']}",
                                                            json={"state": "held"})) == [created["id"]]
    held = _get(client, created["id"])
    assert held["state"] == "held" and "startDate" not in held
    assert held["serviceOrderItem"][0]["state"] == "acknowledged"
    client.patch(f"{ORDERING}/serviceOrder/{created['id']}", json={"state": "acknowledged"})
    assert _run(worker) == [created["id"]]  # given up, not kept: released, it is claimed again


def test_an_order_whose_items_changed_after_it_was_claimed_runs_the_new_items(client, ports, orchestrators):
    created = _create(client, order(vlan_item("1", ports, 100)))
    replaced = {"serviceOrderItem": [vlan_item("7", ports, 107)]}
    _claim_then_process(orchestrators(devices_file=""),
                        lambda: client.patch(f"{ORDERING}/serviceOrder/{created['id']}", json=replaced))
    done = _get(client, created["id"])
    assert [item["id"] for item in done["serviceOrderItem"]] == ["7"]
    assert done["state"] == "failed"  # no devices file: the new item was the one run
    assert "item 7:" in done["errorMessage"][0]["message"]


def test_a_cancellation_asked_after_the_claim_stops_the_order_before_its_devices(client, ports, orchestrators):
    created = _create(client, order(vlan_item("1", ports, 100)))
    _claim_then_process(orchestrators(devices_file=""), lambda: client.post(
        f"{ORDERING}/cancelServiceOrder", json={"serviceOrder": {"id": created["id"]}}))
    cancelled = _get(client, created["id"])
    assert cancelled["state"] == "cancelled" and "startDate" not in cancelled
    assert "errorMessage" not in cancelled  # its devices were never tried


def test_cancelling_an_order_that_has_not_started(client, ports, orchestrators):
    created = _create(client, order(vlan_item("1", ports, 100)))
    task = client.post(f"{ORDERING}/cancelServiceOrder", json={"serviceOrder": {"id": created["id"]}}).json()
    _run(orchestrators())
    cancelled = _get(client, created["id"])
    assert cancelled["state"] == "cancelled" and cancelled["cancellationDate"]
    assert cancelled["serviceOrderItem"][0]["state"] == "cancelled"
    finished = client.get(f"{ORDERING}/cancelServiceOrder/{task['id']}").json()
    assert finished["state"] == "done" and finished["effectiveCancellationDate"]


def test_no_change_items_complete_without_touching_devices(client, app, ports, orchestrators):
    services = app.platform.collection("tmf638", "service")
    existing, _ = services.create("v5", {
        "@type": "Service", "name": "vlan 7", "state": "active",
        "serviceSpecification": {"id": "vlan-service", "@type": "ServiceSpecificationRef"},
        "serviceCharacteristic": [{"name": "vlanId", "value": 7, "valueType": "integer",
                                   "@type": "IntegerCharacteristic"}],
        "supportingResource": [{"id": port, "@type": "ResourceRef", "@referredType": "LogicalResource"}
                               for port in ports]}, base_url="http://testserver", correlation_id=None)
    created = _create(client, order({"id": "1", "action": "noChange", "service": {"id": existing["id"]}}))
    _run(orchestrators(devices_file=""))
    done = _get(client, created["id"])
    assert done["state"] == "completed", done
    assert done["serviceOrderItem"][0]["service"]["id"] == existing["id"]
    assert done["milestone"][0]["name"] == "itemCompleted"


def test_a_resumed_order_runs_what_is_left_in_dependency_order():
    from tmf_oss.ordering.plan import ItemPlan, OrderPlan

    plan = OrderPlan({ident: ItemPlan(ident, "add", depends) for ident, depends in
                      (("3", ("2",)), ("4", ("3",)), ("5", ()))})  # 1 and 2 ended before the worker died
    assert plan.execution_order() == ["3", "4", "5"]


def test_leases_are_renewed_without_waiting_for_an_order_a_write_holds(client, app, ports, orchestrators):
    from sqlalchemy import select

    from tmf_oss.db.base import as_utc

    first = _create(client, order(vlan_item("1", ports, 100)))["id"]
    second = _create(client, order(vlan_item("1", ports, 101)))["id"]
    orchestrator = orchestrators()
    assert sorted(orchestrator.claim(10)) == sorted([first, second])
    with orchestrator._lock:
        orchestrator._active.update({first, second})
    with app.platform.db.transaction() as session:  # leases about to run out
        session.execute(update(ServiceOrderRow).values(lease_until=utcnow() + timedelta(seconds=1)))

    def lease(ident: str):
        with app.platform.db.reading() as session:
            return as_utc(session.execute(select(ServiceOrderRow.lease_until)
                                          .where(ServiceOrderRow.id == ident)).scalar())

    postgresql = app.platform.db.dialect == "postgresql"
    holder = app.platform.db.engine.connect() if postgresql else None
    try:
        if holder is not None:  # another transaction holds the first order's row, as a write in progress does
            holder.execute(select(ServiceOrderRow.seq).where(ServiceOrderRow.id == first).with_for_update())
        orchestrator._next_renewal = 0
        renewal = threading.Thread(target=orchestrator._renew_leases, daemon=True)
        renewal.start()
        renewal.join(timeout=10)
        assert not renewal.is_alive(), "the renewal waited for the row another transaction holds"
        renewed = utcnow() + orchestrator.lease / 2  # well past the second left before
        assert lease(second) > renewed
        assert (lease(first) > renewed) is not postgresql
    finally:
        if holder is not None:
            holder.rollback()
            holder.close()
