"""Group commit (ordering/group_commit.py): writes that wait together share one transaction; a faulty one fails
alone."""
from __future__ import annotations

import threading
import time

from sqlalchemy import insert, select

from tmf_oss.ordering.group_commit import GroupCommit
from tmf_oss.ordering.model import OrderDeviceChange

JOURNAL = OrderDeviceChange.__table__


def _entry(name: str, sessions: list, fail: bool = False):
    def work(session):
        sessions.append(session)
        session.execute(insert(JOURNAL).values(order_id=name, item_id="1", device="d1", status="sent", undo=[]))
        if fail:
            raise ValueError(f"{name} is faulty")
        return name
    return work


def _together(writes: GroupCommit, works: dict) -> dict:
    """Run every write from a thread of its own while a group is being written, so that they all wait for it."""
    outcomes = {}

    def run(name, work):
        try:
            outcomes[name] = writes.run(work)
        except ValueError as error:
            outcomes[name] = error

    threads = [threading.Thread(target=run, args=item) for item in works.items()]
    with writes._lanes, writes._lanes:  # groups under way in every lane
        for thread in threads:
            thread.start()
        while len(writes._queue) < len(works):
            time.sleep(0.001)
    for thread in threads:
        thread.join(10)
    return outcomes


def _written(app) -> list[str]:
    with app.platform.db.read() as connection:
        return sorted(connection.execute(select(JOURNAL.c.order_id)).scalars())


def test_writes_that_wait_together_share_one_transaction(app):
    sessions = []
    outcomes = _together(GroupCommit(app.platform.db), {name: _entry(name, sessions) for name in "abc"})
    assert outcomes == {"a": "a", "b": "b", "c": "c"}
    assert len(sessions) == 3 and len(set(map(id, sessions))) == 1
    assert _written(app) == ["a", "b", "c"]


def test_a_faulty_write_in_a_group_fails_alone(app):
    sessions = []
    outcomes = _together(GroupCommit(app.platform.db), {
        "a": _entry("a", sessions), "b": _entry("b", sessions, fail=True), "c": _entry("c", sessions)})
    assert outcomes["a"] == "a" and outcomes["c"] == "c"
    assert isinstance(outcomes["b"], ValueError) and "b is faulty" in str(outcomes["b"])
    assert _written(app) == ["a", "c"]  # the group was rolled back, then each went alone
    assert len(sessions) == 2 + 3  # a and b in the group (b ended it), then each of the three alone


def test_a_lone_write_goes_at_once(app):
    sessions = []
    assert GroupCommit(app.platform.db).run(_entry("a", sessions)) == "a"
    assert _written(app) == ["a"]
