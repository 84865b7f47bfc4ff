"""TMF641 Service Ordering v4 against the official TM Forum document (v4.1.0, the newest Production release).

The generic checks come from harness.EntityConformance (serviceOrder CRUD, errors, queries, hub, events); this
module says where the API lives, what orders to send, and adds what is specific to ordering: the order
life-cycle a client sees (acknowledged at creation, hold and release, refused state changes), the semantic
checks of an order at creation (400 for an order the server cannot carry out), and the cancelServiceOrder task
(create, retrieve, list, its errors, what it does to the order) and the events of both. Every payload is
validated against the official request schema before it is sent, so a failing check points at the server.

A service order is only accepted when its items name what the server's catalog and inventories hold, so the
checks need one orderable order:

* on our own server (started by conftest.py) the module loads the shipped service catalog and records two
  ports of managed devices in the server's database, as discovery would, and orders a `vlan-service` on them;
* on another server (``--tmf-base-url``), set ``TMF_CONFORMANCE_TMF641_ORDER`` to a JSON file holding a
  ServiceOrder_Create body that server accepts; without it, the checks that create orders skip (the rest run).

Onto that body the module sets externalId, description, note, externalReference and a requestedStartDate far
in the future, so that no order starts while it is checked (a started order can no longer be held or deleted).
"""

from __future__ import annotations

import copy
import json
import os
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from .harness import (
    ApiDefinition, ApiVersion, Created, EntityConformance, EventListener, TmfClient, assert_carries,
    describe_exchange, header_int, is_loopback, listener_event_problems, parse_instant,
)

TMF641 = ApiDefinition("TMF641", (
    ApiVersion("v4", "tmf641/TMF641-ServiceOrdering-v4.1.0.swagger.json", "/tmf-api/serviceOrdering/v4"),
))

ORDER_FILE_VARIABLE = "TMF_CONFORMANCE_TMF641_ORDER"
NO_ORDER = (f"no orderable service order for this server: set {ORDER_FILE_VARIABLE} to a JSON file with a "
            f"ServiceOrder_Create body it accepts")

# Far enough ahead that no order of the checks starts while it is checked.
START = datetime(2099, 3, 1, 12, tzinfo=timezone.utc)
V4_MEDIA_TYPE = "application/json;charset=utf-8"
CANCEL = "/cancelServiceOrder"
NOT_STARTED = ("acknowledged", "pending", "held")
CANCELLING = ("assessingCancellation", "pendingCancellation", "cancelled")


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


# =========================================================================== an orderable order


def _our_orderable_order(database_url: str, root_url: str) -> dict:
    """On our server: the shipped catalog loaded, two interfaces of managed devices recorded as discovery records
    them, and an order for a vlan-service between them (what tests/ordering/support.py builds in-process)."""
    from tmf_oss.catalog.seed import ensure_catalog
    from tmf_oss.config import Settings
    from tmf_oss.inventory.model import DiscoveredResource
    from tmf_oss.platform import Platform

    platform = Platform(Settings(database_url=database_url, run_dispatcher=False, run_orchestrator=False,
                                 public_base_url=root_url))
    try:
        ensure_catalog(platform)
        resources = platform.collection("tmf639", "resource")
        ports = []
        marker = uuid.uuid4().hex[:8]
        for device in ("192.0.2.41", "192.0.2.42"):
            interface = f"eth-{marker}"
            body, _ = resources.create("v5", {"@type": "LogicalResource", "name": f"{device} {interface}",
                                              "category": "interface"}, base_url=root_url, correlation_id=None)
            with platform.db.transaction() as session:
                session.add(DiscoveredResource(key=f"device:{device}/interface:{interface}",
                                               device_key=f"device:{device}", resource_id=body["id"], present=True))
            ports.append(body["id"])
    finally:
        platform.close()
    return {"category": "conformance", "serviceOrderItem": [{
        "id": "1",
        "action": "add",
        "service": {"serviceSpecification": {"id": "vlan-service"},
                    "serviceCharacteristic": [{"name": "vlanId", "value": 3001}],
                    "supportingResource": [{"id": port} for port in ports]},
    }]}


def _operator_order() -> dict | None:
    path = os.environ.get(ORDER_FILE_VARIABLE)
    if not path:
        return None
    body = json.loads(Path(path).read_text(encoding="utf-8"))
    assert isinstance(body, dict) and body.get("serviceOrderItem"), \
        f"{ORDER_FILE_VARIABLE}={path} does not hold a ServiceOrder_Create body with serviceOrderItem"
    return body


@pytest.fixture(scope="class")
def client(client: TmfClient, tmf_database_url) -> TmfClient:
    """The conftest client, knowing an order the server accepts (None when none is known)."""
    template = _operator_order()
    if template is None and tmf_database_url is not None:
        template = _our_orderable_order(tmf_database_url, client.base_url[:-len(client.api.base_path)])
    if template is not None:
        problems = client.spec.request_errors(client.spec.operation("post", "/serviceOrder"), template)
        assert not problems, "the orderable service order is not a valid ServiceOrder_Create:\n  " + \
            "\n  ".join(problems)
    client.order_template = template
    return client


# =========================================================================== the checks


class TestServiceOrdering(EntityConformance):
    api = TMF641
    collection = "/serviceOrder"
    hub = "/hub"
    text_attribute = "externalId"
    group_attribute = "description"
    date_attribute = "requestedStartDate"
    nested_attribute = "externalReference.name"
    extra_operations = (("post", CANCEL), ("get", CANCEL), ("get", CANCEL + "/{id}"))

    # ------------------------------------------------------------------ create payloads

    def order_body(self, client: TmfClient, **members) -> dict:
        template = getattr(client, "order_template", None)
        if template is None:
            pytest.skip(NO_ORDER)
        return {**copy.deepcopy(template), "requestedStartDate": _iso(START), **members}

    def create_body(self, version: ApiVersion, client: TmfClient, tag: str) -> dict:
        return self.order_body(client, externalId=tag, description="conformance check", priority="4",
                               note=[{"text": "ordered by the conformance check", "author": "tmf-conformance"}],
                               externalReference=[{"name": f"{tag}-ref", "externalReferenceType": "ticket"}])

    def dataset_body(self, version: ApiVersion, client: TmfClient, group: str, index: int, rank: int) -> dict:
        return self.order_body(client, externalId=f"{group}-{index}", description=group,
                               requestedStartDate=_iso(START + timedelta(days=rank)),
                               externalReference=[{"name": f"{group}-ref-{index % 2}"},
                                                  {"name": f"{group}-common"}])

    # ------------------------------------------------------------------ PATCH payloads

    def patch_bodies(self, version: ApiVersion, media_type: str, item: dict) -> dict:
        # v4 declares only application/json (merge semantics); ServiceOrder_Update requires nothing.
        notes = list(item.get("note") or [])
        added = {"text": "customer called", "author": "tmf-conformance", "date": "2024-05-01T08:00:00Z"}
        return {
            "attributes": ({"description": "changed by the conformance check", "priority": "1"},
                           {"description": "changed by the conformance check", "priority": "1"}),
            "note appended": ({"note": notes + [added]}, {"note": notes + [added]}),
        }

    # ------------------------------------------------------------------ invalid payloads

    def invalid_create_bodies(self, version: ApiVersion, client: TmfClient, tag: str) -> dict:
        valid = self.create_body(version, client, tag)
        item = valid["serviceOrderItem"][0]
        return {
            "missing required serviceOrderItem": {k: v for k, v in valid.items() if k != "serviceOrderItem"},
            "serviceOrderItem is empty": {**valid, "serviceOrderItem": []},
            "serviceOrderItem is not an array": {**valid, "serviceOrderItem": item},
            "item without action": {**valid, "serviceOrderItem": [{k: v for k, v in item.items() if k != "action"}]},
            "item without service": {**valid, "serviceOrderItem": [{k: v for k, v in item.items() if k != "service"}]},
            "item action outside its enumeration": {**valid, "serviceOrderItem": [{**item, "action": "upgrade"}]},
            "requestedStartDate is not a date-time": {**valid, "requestedStartDate": "next tuesday"},
        }

    def invalid_patch_bodies(self, version: ApiVersion, item: dict) -> dict:
        return {
            "state outside its enumeration": (V4_MEDIA_TYPE, {"state": "sleepy"}),
            "note is not an array": (V4_MEDIA_TYPE, {"note": {"text": "x"}}),
            "requestedStartDate is not a date-time": (V4_MEDIA_TYPE, {"requestedStartDate": "next tuesday"}),
            "priority is a number": (V4_MEDIA_TYPE, {"priority": 1}),
        }

    # ------------------------------------------------------------------ helpers of the ordering checks

    def new_order(self, client: TmfClient, created: Created, run_tag: str, what: str) -> dict:
        tag = f"{self.tag(client, run_tag, what)}-{uuid.uuid4().hex[:6]}"
        return self.create(client, created, self.create_body(client.api, client, tag))[1]

    def merge_patch(self, client: TmfClient, item: dict, members: dict):
        return client.patch(self.item_path(item), members, V4_MEDIA_TYPE)

    def fetch(self, client: TmfClient, item: dict) -> dict:
        return client.expect(client.get(self.item_path(item)), 200)

    def cancel(self, client: TmfClient, order: dict, reason: str):
        body = {"serviceOrder": {"id": order["id"], "href": order["href"], "@referredType": "ServiceOrder"},
                "cancellationReason": reason, "requestedCancellationDate": "2024-05-01T08:00:00Z"}
        return body, client.post(CANCEL, body)

    # ------------------------------------------------------------------ creation

    def test_created_order_is_acknowledged(self, client, created, run_tag):
        """A new order is `acknowledged`, dated (orderDate) and so is each of its items; what the server sets
        is not taken from the client."""
        tag = self.tag(client, run_tag, "acknowledged")
        body = self.create_body(client.api, client, tag)
        body["state"] = "completed"  # ServiceOrder_Create has no state: a server ignores it (or refuses it)
        response = client.post(self.collection, body, validate_request=False)
        if response.status_code == 400:
            client.expect(response, 400)
            body.pop("state")
            response = client.post(self.collection, body)
        order = client.expect(response, 201)
        created.add(self.item_path(order))
        assert order.get("state") == "acknowledged", \
            f"a new order is acknowledged, the server says {order.get('state')!r}\n{describe_exchange(response)}"
        assert order.get("orderDate"), f"the new order has no orderDate\n{describe_exchange(response)}"
        ordered = parse_instant(order["orderDate"])
        assert abs(ordered - datetime.now(timezone.utc)) < timedelta(hours=1), \
            f"orderDate {order['orderDate']} is not when the order was made"
        sent = {item["id"]: item for item in body["serviceOrderItem"]}
        got = {item.get("id"): item for item in order.get("serviceOrderItem") or ()}
        assert set(got) == set(sent), f"the order's items are {sorted(got)}, {sorted(sent)} were sent"
        for ident, item in got.items():
            assert item.get("state") == "acknowledged", f"item {ident} of a new order is {item.get('state')!r}"
            assert item.get("action") == sent[ident]["action"]
        fetched = self.fetch(client, order)
        assert_carries({"state": "acknowledged", "orderDate": order["orderDate"]}, fetched, "the order read back")

    def test_order_without_items_is_400(self, client, created, run_tag):
        tag = self.tag(client, run_tag, "noitems")
        failures = []
        for label, body in {"no serviceOrderItem": {"externalId": tag, "description": "no items"},
                            "an empty serviceOrderItem": {"externalId": tag, "serviceOrderItem": []}}.items():
            response = client.post(self.collection, body, validate_request=False)
            if response.status_code == 201:
                created.add(self.item_path(response.json()))
            try:
                client.expect(response, 400)
            except AssertionError as problem:
                failures.append(f"[{label}] {problem}")
        assert not failures, "\n\n".join(failures)
        self.expect_selection(client, {"externalId": tag}, [])

    def test_order_with_an_invalid_item_is_400(self, client, created, run_tag):
        """Items valid against the official schema that no server can carry out: a specification its catalog does
        not have, a modification of a service its inventory does not have.  400 with an Error, nothing created."""
        tag = self.tag(client, run_tag, "baditem")
        valid = self.create_body(client.api, client, tag)
        item = valid["serviceOrderItem"][0]
        unknown_spec = {**item, "service": {**item["service"],
                                            "serviceSpecification": {"id": f"no-such-spec-{uuid.uuid4()}"}}}
        unknown_service = {**item, "action": "modify", "service": {**item["service"], "id": str(uuid.uuid4())}}
        failures = []
        for label, bad in {"unknown service specification": unknown_spec,
                           "modify of a service not in the inventory": unknown_service}.items():
            body = {**valid, "serviceOrderItem": [bad]}
            response = client.post(self.collection, body)  # valid against the official schema
            if response.status_code == 201:
                created.add(self.item_path(response.json()))
            try:
                error = client.expect(response, 400)
                assert error.get("message") or error.get("reason"), "the Error does not say what is wrong"
            except AssertionError as problem:
                failures.append(f"[{label}] {problem}")
        assert not failures, "\n\n".join(failures)
        self.expect_selection(client, {"externalId": tag}, [])

    # ------------------------------------------------------------------ queries specific to orders

    def test_filter_by_state_and_external_id(self, client, created, run_tag):
        order = self.new_order(client, created, run_tag, "statefilter")
        tag = order["externalId"]
        self.expect_selection(client, {"state": "acknowledged", "externalId": tag}, [order])
        self.expect_selection(client, {"state": "held", "externalId": tag}, [])
        self.expect_selection(client, {"state": "held,acknowledged", "externalId": tag}, [order])
        client.expect(self.merge_patch(client, order, {"state": "held"}), 200)
        self.expect_selection(client, {"state": "held", "externalId": tag}, [order])
        self.expect_selection(client, {"state": "acknowledged", "externalId": tag}, [])

    def test_fields_with_items(self, client, created, run_tag):
        """`fields=state,serviceOrderItem` (the selection the ordering kits make) on retrieve and list."""
        order = self.new_order(client, created, run_tag, "fields")
        wanted = set(client.api.always_present) | {"state", "serviceOrderItem"}
        response = client.get(self.item_path(order), params={"fields": "state,serviceOrderItem"})
        entity = client.expect(response, 200)
        assert set(entity) == wanted, f"fields=state,serviceOrderItem gave {sorted(entity)}\n" \
                                      f"{describe_exchange(response)}"
        assert [i.get("id") for i in entity["serviceOrderItem"]] == [i["id"] for i in order["serviceOrderItem"]]
        response, listed = self.list_items(client, {"externalId": order["externalId"],
                                                    "fields": "state,serviceOrderItem"})
        assert [set(e) for e in listed] == [wanted], f"the list gave {listed}\n{describe_exchange(response)}"

    def test_fields_nested_in_items(self, client, created, run_tag):
        """`fields=state,serviceOrderItem.id,serviceOrderItem.state` (TMF630: nested selection; the ordering kit
        asks for the order's and its items' states this way) gives the items with exactly those members.  The
        answer is a partial representation, so it is not validated against ServiceOrder (whose items require
        action and service)."""
        order = self.new_order(client, created, run_tag, "nestedfields")
        selection = "state,serviceOrderItem.id,serviceOrderItem.state"
        response = client.get(self.item_path(order), params={"fields": selection})
        assert response.status_code == 200, describe_exchange(response)
        entity = response.json()
        assert set(entity) == set(client.api.always_present) | {"state", "serviceOrderItem"}, \
            f"fields={selection} gave {sorted(entity)}\n{describe_exchange(response)}"
        expected = [{"id": item["id"], "state": item["state"]} for item in order["serviceOrderItem"]]
        assert entity["serviceOrderItem"] == expected, \
            f"fields={selection} should give the items as {expected}\n{describe_exchange(response)}"

    # ------------------------------------------------------------------ life-cycle driven by the client

    def test_hold_and_release(self, client, created, run_tag):
        """A client may hold an order that has not started and release it again (merge PATCH of `state`)."""
        order = self.new_order(client, created, run_tag, "hold")
        held = client.expect(self.merge_patch(client, order, {"state": "held"}), 200)
        assert held.get("state") == "held", f"the order was not held: {held.get('state')!r}"
        assert self.fetch(client, order).get("state") == "held"
        released = client.expect(self.merge_patch(client, order, {"state": "acknowledged"}), 200)
        assert released.get("state") not in (None, "held"), f"the order was not released: {released}"
        assert self.fetch(client, order).get("state") == released["state"]

    def test_refused_state_change_is_409(self, client, created, run_tag):
        """The rest of the life-cycle is the server's: a client setting an order completed, or cancelled (that is
        what cancelServiceOrder is for), gets 409 with an Error, and the order stays as it was."""
        order = self.new_order(client, created, run_tag, "refused")
        failures = []
        for state in ("completed", "inProgress", "cancelled"):
            try:
                error = client.expect(self.merge_patch(client, order, {"state": state}), 409)
                assert error.get("message") or error.get("reason"), "the Error does not say why"
            except AssertionError as problem:
                failures.append(f"[{state}] {problem}")
        assert not failures, "\n\n".join(failures)
        assert self.fetch(client, order).get("state") == "acknowledged", "a refused PATCH changed the order"

    def test_item_state_is_the_servers(self, client, created, run_tag):
        """Item states follow the order; a client rewriting them is refused (409) or ignored, never obeyed."""
        order = self.new_order(client, created, run_tag, "itemstate")
        items = [{**item, "state": "completed"} for item in order["serviceOrderItem"]]
        response = self.merge_patch(client, order, {"serviceOrderItem": items})
        if response.status_code != 409:
            client.expect(response, 200)
        states = [item.get("state") for item in self.fetch(client, order)["serviceOrderItem"]]
        assert "completed" not in states, f"a client set an item completed: {states}"

    # ------------------------------------------------------------------ cancelServiceOrder

    def test_cancel_service_order(self, client, created, run_tag):
        """POST (201), GET by id and GET list of the cancellation task, validated against the official document;
        the order is being cancelled (or is cancelled) afterwards, and ends cancelled with the task done."""
        order = self.new_order(client, created, run_tag, "cancel")
        reason = self.tag(client, run_tag, "cancel-reason")
        body, response = self.cancel(client, order, reason)
        task = client.expect(response, 201)
        assert task.get("id"), f"the task has no id\n{describe_exchange(response)}"
        assert str(task.get("href", "")).endswith(f"{CANCEL}/{task['id']}"), \
            f"href {task.get('href')!r} does not address the task"
        assert (task.get("serviceOrder") or {}).get("id") == order["id"], \
            f"the task does not name the order it cancels\n{describe_exchange(response)}"
        location = response.headers.get("Location")
        assert location and location.endswith(f"{CANCEL}/{task['id']}"), \
            f"201 without a Location addressing the task\n{describe_exchange(response)}"
        assert task.get("state"), f"the task has no state\n{describe_exchange(response)}"
        assert_carries({"cancellationReason": reason}, task, "the created task does not carry what was sent")
        fetched = client.expect(client.get(f"{CANCEL}/{task['id']}"), 200)
        assert fetched["id"] == task["id"] and fetched["serviceOrder"]["id"] == order["id"]
        listed = client.get(CANCEL, params={"serviceOrder.id": order["id"]})
        tasks = client.expect(listed, 200)
        assert [t.get("id") for t in tasks] == [task["id"]], \
            f"serviceOrder.id={order['id']} should list exactly the task\n{describe_exchange(listed)}"
        assert header_int(listed, "X-Total-Count") == 1 and header_int(listed, "X-Result-Count") == 1
        response = client.get(CANCEL, params={"limit": 5})
        page = client.expect(response, 200)
        assert len(page) <= 5 and header_int(response, "X-Result-Count") == len(page)
        assert header_int(response, "X-Total-Count") >= len(page)
        state = self.fetch(client, order).get("state")
        assert state in CANCELLING, f"an order with a cancellation task is {state!r}, not one of {CANCELLING}"
        # A not-started order has nothing to undo: the cancellation ends soon.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            order_state = self.fetch(client, order).get("state")
            task_state = client.expect(client.get(f"{CANCEL}/{task['id']}"), 200).get("state")
            if order_state == "cancelled" and task_state == "done":
                break
            time.sleep(0.5)
        assert (order_state, task_state) == ("cancelled", "done"), \
            f"30s after its cancellation the order is {order_state!r} and the task {task_state!r}"
        assert self.fetch(client, order).get("cancellationReason") == reason, \
            "the cancelled order does not carry the reason"

    def test_cancel_unknown_order_is_400(self, client):
        ident = str(uuid.uuid4())
        body = {"serviceOrder": {"id": ident, "href": client.url(f"{self.collection}/{ident}")},
                "cancellationReason": "no such order"}
        client.expect(client.post(CANCEL, body), 400)

    def test_second_cancellation_is_409(self, client, created, run_tag):
        order = self.new_order(client, created, run_tag, "cancel2")
        _, first = self.cancel(client, order, "first")
        client.expect(first, 201)
        _, second = self.cancel(client, order, "second")
        client.expect(second, 409)
        listed = client.get(CANCEL, params={"serviceOrder.id": order["id"]})
        assert len(client.expect(listed, 200)) == 1, \
            f"a refused cancellation left a task behind\n{describe_exchange(listed)}"

    def test_cancel_errors(self, client):
        """An unknown task id is 404; a task without the serviceOrder the official schema requires is 400."""
        client.expect(client.get(f"{CANCEL}/{uuid.uuid4()}"), 404)
        incomplete = {"cancellationReason": "which order?"}
        assert client.spec.request_errors(client.spec.operation("post", CANCEL), incomplete), \
            "harness bug: a cancelServiceOrder without serviceOrder is valid"
        client.expect(client.post(CANCEL, incomplete, validate_request=False), 400)

    def test_delete_while_cancelling_is_refused(self, client, created, run_tag):
        """An order being cancelled is the server's until the cancellation ends: it is not deleted from under
        it (409), or, when the cancellation already ended, deleted as any ended order (204)."""
        order = self.new_order(client, created, run_tag, "delcancel")
        _, response = self.cancel(client, order, "delete while cancelling")
        client.expect(response, 201)
        deleted = client.delete(self.item_path(order))
        if deleted.status_code == 204:
            client.expect(client.get(self.item_path(order)), 404)
        else:
            client.expect(deleted, 409)

    # ------------------------------------------------------------------ events

    def test_order_events_match_the_official_listener_schemas(self, client, created, run_tag):
        """A listener registered for every event receives ServiceOrderCreateEvent when an order is created,
        ServiceOrderStateChangeEvent when it is held, and CancelServiceOrderCreateEvent when it is cancelled;
        each is the request of the official listener operation for its type, about that order."""
        if not is_loopback(client.base_url):
            pytest.skip("the server under test must reach a callback on this machine (loopback only)")
        wanted = {"ServiceOrderCreateEvent", "ServiceOrderStateChangeEvent", "CancelServiceOrderCreateEvent"}
        with EventListener() as listener:
            subscription = client.expect(client.post(self.hub, {"callback": listener.url}), 201)
            try:
                order = self.new_order(client, created, run_tag, "events")
                client.expect(self.merge_patch(client, order, {"state": "held"}), 200)
                _, response = self.cancel(client, order, "events")
                task = client.expect(response, 201)

                def about(received):  # a busy server may send events about other entities too
                    return [r for r in received if order["id"] in json.dumps(r[2])]

                def types(received):
                    return {body.get("eventType") for _, _, body in about(received) if isinstance(body, dict)}

                listener.wait_for(lambda received: wanted <= types(received), timeout=20)
                events = about(listener.received)
            finally:
                client.delete(f"{self.hub}/{subscription['id']}")
        received = [body.get("eventType") for _, _, body in events if isinstance(body, dict)]
        assert wanted <= set(received), f"expected {sorted(wanted)} within 20s, got {received}"
        problems = listener_event_problems(client, events)
        held_seen = False
        for path, _content_type, event in events:
            event_type = event.get("eventType") if isinstance(event, dict) else None
            payload = (event.get("event") or {}) if isinstance(event, dict) else {}
            where = f"{event_type} posted to {path}"
            if event_type in ("ServiceOrderCreateEvent", "ServiceOrderStateChangeEvent"):
                subject = payload.get("serviceOrder")
                if not isinstance(subject, dict) or subject.get("id") != order["id"]:
                    problems.append(f"{where}: event.serviceOrder is not the order {order['id']}")
                elif event_type == "ServiceOrderCreateEvent" and subject.get("state") != "acknowledged":
                    problems.append(f"{where}: the created order is {subject.get('state')!r}")
                held_seen |= event_type == "ServiceOrderStateChangeEvent" and subject.get("state") == "held"
            if event_type == "CancelServiceOrderCreateEvent":
                subject = payload.get("cancelServiceOrder")
                if not isinstance(subject, dict) or subject.get("id") != task["id"]:
                    problems.append(f"{where}: event.cancelServiceOrder is not the task {task['id']}")
        if not held_seen:
            problems.append("no ServiceOrderStateChangeEvent carries the order held")
        assert not problems, "\n".join(problems)

    def test_cancellation_events_are_official_event_types(self, request, client, created, run_tag,
                                                          tmf_database_url):
        """Everything a listener receives while an order is cancelled, until the task has ended, is an event the
        official document defines, valid against its listener schema."""
        if not is_loopback(client.base_url):
            pytest.skip("the server under test must reach a callback on this machine (loopback only)")
        order = self.new_order(client, created, run_tag, "cancelevents")
        with EventListener() as listener:
            subscription = client.expect(client.post(self.hub, {"callback": listener.url}), 201)
            try:
                _, response = self.cancel(client, order, "events of a cancellation")
                task = client.expect(response, 201)

                def about(received):
                    return [r for r in received if order["id"] in json.dumps(r[2]) or task["id"] in json.dumps(r[2])]

                def task_ended(received):
                    return any(isinstance(body, dict) and body.get("eventType") == "CancelServiceOrderStateChangeEvent"
                               and ((body.get("event") or {}).get("cancelServiceOrder") or {}).get("state")
                               in ("done", "terminatedWithError") for _, _, body in about(received))

                ended = listener.wait_for(task_ended, timeout=30)
                time.sleep(1)  # what the server sends with the last state change
                events = about(listener.received)
            finally:
                client.delete(f"{self.hub}/{subscription['id']}")
        received = [body.get("eventType") for _, _, body in events if isinstance(body, dict)]
        assert ended, f"no CancelServiceOrderStateChangeEvent with the task ended within 30s, got {received}"
        problems = listener_event_problems(client, events)
        assert not problems, "\n".join(problems)

    def test_hub_query_selects_events(self, client, created, run_tag):
        """A subscription with `query=eventType=ServiceOrderStateChangeEvent` receives the state changes and
        nothing else (TMF630: the query restricts which events)."""
        if not is_loopback(client.base_url):
            pytest.skip("the server under test must reach a callback on this machine (loopback only)")
        with EventListener() as listener:
            subscription = client.expect(client.post(self.hub, {
                "callback": listener.url, "query": "eventType=ServiceOrderStateChangeEvent"}), 201)
            try:
                order = self.new_order(client, created, run_tag, "hubquery")
                client.expect(self.merge_patch(client, order, {"description": "not a state change"}), 200)
                client.expect(self.merge_patch(client, order, {"state": "held"}), 200)

                def about(received):
                    return [r for r in received if order["id"] in json.dumps(r[2])]

                listener.wait_for(lambda received: about(received), timeout=20)
                time.sleep(1)  # anything else the server would send by now
                events = about(listener.received)
            finally:
                client.delete(f"{self.hub}/{subscription['id']}")
        received = [body.get("eventType") for _, _, body in events if isinstance(body, dict)]
        assert received == ["ServiceOrderStateChangeEvent"], \
            f"a subscription to ServiceOrderStateChangeEvent received {received}"
        assert not listener_event_problems(client, events)
