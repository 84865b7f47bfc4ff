"""Reads asked for in one turn of the event loop go to the database as one statement."""
from __future__ import annotations

import asyncio

from tmf_oss.db.coalesced_read import CoalescedReads


class Recorder:
    def __init__(self, rows: dict):
        self.rows = rows
        self.calls: list[list] = []

    def __call__(self, keys: list) -> dict:
        self.calls.append(list(keys))
        return {key: self.rows[key] for key in keys if key in self.rows}


def test_keys_asked_for_in_one_turn_share_one_read_and_each_gets_its_own_row():
    recorder = Recorder({"a": 1, "b": 2, "c": 3})
    reads = CoalescedReads(recorder)

    async def scenario():
        return await asyncio.gather(reads.get("a"), reads.get("b"), reads.get("a"), reads.get("missing"))

    assert asyncio.run(scenario()) == [1, 2, 1, None]
    assert recorder.calls == [["a", "b", "missing"]]  # a repeated key is asked for once
    assert (reads.statements, reads.keys) == (1, 3)


def test_a_key_asked_for_after_a_read_started_waits_for_the_next_one():
    recorder = Recorder({"a": 1, "b": 2})
    reads = CoalescedReads(recorder)

    async def scenario():
        first = await reads.get("a")
        second = await reads.get("b")
        return first, second

    assert asyncio.run(scenario()) == (1, 2)
    assert recorder.calls == [["a"], ["b"]]


def test_a_failed_read_fails_every_request_of_its_batch_and_the_next_batch_reads_again():
    attempts = []

    def flaky(keys):
        attempts.append(list(keys))
        if len(attempts) == 1:
            raise RuntimeError("connection lost")
        return {key: key.upper() for key in keys}

    reads = CoalescedReads(flaky)

    async def scenario():
        results = await asyncio.gather(reads.get("x"), reads.get("y"), return_exceptions=True)
        return results, await reads.get("x")

    results, retried = asyncio.run(scenario())
    assert [type(result) for result in results] == [RuntimeError, RuntimeError]
    assert retried == "X"


def test_a_request_cancelled_while_waiting_does_not_disturb_the_others():
    recorder = Recorder({"a": 1, "b": 2})
    reads = CoalescedReads(recorder)

    async def scenario():
        gone = asyncio.ensure_future(reads.get("a"))
        kept = asyncio.ensure_future(reads.get("b"))
        await asyncio.sleep(0)  # both are waiting for the batch now
        gone.cancel()
        return await kept, await asyncio.gather(gone, return_exceptions=True)

    kept, (cancelled,) = asyncio.run(scenario())
    assert kept == 2
    assert isinstance(cancelled, asyncio.CancelledError)


def test_each_event_loop_has_its_own_batches():
    recorder = Recorder({"a": 1})
    reads = CoalescedReads(recorder)
    for _ in range(2):
        assert asyncio.run(reads.get("a")) == 1
    assert recorder.calls == [["a"], ["a"]]


def test_a_key_asked_for_in_the_next_turn_joins_the_batch():
    recorder = Recorder({"a": 1, "b": 2})
    reads = CoalescedReads(recorder)

    async def scenario():
        first = asyncio.ensure_future(reads.get("a"))
        await asyncio.sleep(0)  # this turn: the first request asks
        await asyncio.sleep(0)  # the next turn: a request that arrived meanwhile asks
        return await reads.get("b"), await first

    assert asyncio.run(scenario()) == (2, 1)
    assert recorder.calls == [["a", "b"]]
