"""Group commit: the orchestrator's short writes, from several threads at once, in one transaction.

Every order the orchestrator runs writes a few short transactions (the order's progress, the journal of its device
changes); under load, several threads write at the same moment. Each transaction costs its BEGIN, the outbox lock
with the collection counts, the events' COPY and the COMMIT (a WAL flush) whatever it holds. Here a thread
that finds a lane free writes every write queued meanwhile, its own included, in one transaction (flat combining:
no thread waits for a timer, and a lone write goes out at once, as before). There are two lanes, so that while one
group's transaction waits for the database the next group forms and goes: one transaction's round trips do not
hold up every order. When the group's
transaction fails, nobody can tell whose write was at fault: each write is then run again alone, so only the
faulty one fails, with its own exception. A write therefore must do nothing but database work in the session it is
given (it may be run twice, the first time rolled back).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy.orm import Session

from tmf_oss.db.engine import Database

MAX_GROUP = 16
LANES = 2  # groups written at the same time: while one waits for the database, the next one forms and goes


@dataclass(eq=False)
class _Write:
    work: Callable[[Session], Any]
    taken: bool = False  # by a thread that writes it (under the guard)
    done: bool = False
    result: Any = None
    error: BaseException | None = None
    finished: threading.Event = field(default_factory=threading.Event)


class GroupCommit:
    def __init__(self, db: Database, max_group: int = MAX_GROUP, lanes: int = LANES):
        self.db = db
        self.max_group = max_group
        self._guard = threading.Lock()
        self._queue: list[_Write] = []
        self._lanes = threading.Semaphore(lanes)

    def run(self, work: Callable[[Session], Any]) -> Any:
        """`work(session)` committed (with whatever other writes were waiting); returns what it returned, or
        raises what it raised."""
        write = _Write(work)
        with self._guard:
            self._queue.append(write)
        while not write.taken:
            with self._lanes:
                with self._guard:
                    group = [] if write.taken else self._queue[:self.max_group]
                    del self._queue[:len(group)]
                    for each in group:
                        each.taken = True
                if group:
                    self._write(group)
        write.finished.wait()
        if write.error is not None:
            raise write.error
        return write.result

    def _write(self, group: list[_Write]) -> None:
        try:
            self._commit(group)
        except BaseException as error:  # not an Exception: ends every write of the group
            for each in group:
                if not each.done:
                    each.error, each.done = error, True
            raise
        finally:
            for each in group:
                each.finished.set()

    def _commit(self, group: list[_Write]) -> None:
        if len(group) > 1:
            try:
                with self.db.transaction() as session:
                    results = [write.work(session) for write in group]
            except Exception:
                pass  # whose fault is unknown: each again on its own, below
            else:
                for write, result in zip(group, results):
                    write.result, write.done = result, True
                return
        for write in group:
            try:
                with self.db.transaction() as session:
                    write.result = write.work(session)
            except Exception as error:
                write.error = error
            write.done = True
