"""Reads of one kind, asked for by requests handled within two turns of the event loop, answered by one statement.

A server worker under load takes several requests off its sockets per turn of its event loop. Each retrieve by id
(or each check of a kept page's generation) is one short statement whose cost is mostly the round trip: the
driver's send and receive, the backend waking up, parsing the bind message and answering. Asking for the keys of
all the requests of a turn, and of the next, in one statement pays that once.

Nothing is read earlier than it would be alone: the statement starts after every request in it has arrived, so a
write committed before a request arrived is seen by it (read-your-writes holds across processes as before). A
lone request waits for nothing but the rest of the current turn and the next.
"""
from __future__ import annotations

import asyncio
from typing import Callable, Generic, Hashable, Iterable, TypeVar

Key = TypeVar("Key", bound=Hashable)
Row = TypeVar("Row")


class CoalescedReads(Generic[Key, Row]):
    """`await reads.get(key)` -> the row for `key` (or None), read together with the other keys asked for in this
    turn of the running event loop and the next, by `read_many(keys) -> {key: row}`."""

    def __init__(self, read_many: Callable[[list[Key]], dict[Key, Row]]):
        self._read_many = read_many
        # One batch per event loop (a process normally has one; tests may run several, each in its thread).
        self._pending: dict[asyncio.AbstractEventLoop, dict[Key, list[asyncio.Future]]] = {}
        self.statements = 0  # reads done, and keys read: their ratio is the batch size actually reached
        self.keys = 0

    async def get(self, key: Key) -> Row | None:
        loop = asyncio.get_running_loop()
        waiting = self._pending.get(loop)
        if waiting is None:
            waiting = self._pending[loop] = {}
            # The read waits for the end of the next turn: the other requests taken off the sockets in this turn,
            # and those the next turn takes, reach their handlers first and join the batch. Under 32 concurrent
            # connections on two workers that made batches of 12-16 rather than 5-6 (one turn), and about 7 %
            # more retrieves per second; an idle server's turns take microseconds.
            loop.call_soon(loop.call_soon, self._flush, loop)
        future = loop.create_future()
        waiting.setdefault(key, []).append(future)
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting = self._pending.pop(loop, {})
        if not waiting:
            return
        self.statements += 1
        self.keys += len(waiting)
        try:
            found = self._read_many(list(waiting))
        except BaseException as error:  # every request of the batch gets the failure, as it would alone
            _settle(waiting.values(), error=error)
            if not isinstance(error, Exception):
                raise
            return
        for key, futures in waiting.items():
            _settle([futures], result=found.get(key))


def _settle(groups: Iterable[list[asyncio.Future]], *, result=None, error: BaseException | None = None) -> None:
    for futures in groups:
        for future in futures:
            if future.done():  # the request was cancelled (client gone) meanwhile
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)
