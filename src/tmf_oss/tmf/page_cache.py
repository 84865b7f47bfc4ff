"""List pages kept with the write generation they were read at.

A collection's generation (tmf/counts.py) moves in the same transaction as every write to the collection, and a
page is read together with the generation in one statement, so one snapshot gives both. While the generation
stays where it was, the same request would read the very same rows: the kept page is answered after a one-row
read of the generation instead of the page query (a filtered page can cost milliseconds of index and JSON work).
Any write, from this process or another, moves the generation, so a client never sees a page older than the
last committed write, its own included.
"""
from __future__ import annotations

import threading
from collections import OrderedDict


class PageCache:
    """Least recently used pages up to `max_bytes` of page bodies; safe to share between threads."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._pages: OrderedDict = OrderedDict()  # key -> (generation, page)
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def get(self, key):
        """(generation, page) or None."""
        with self._lock:
            found = self._pages.get(key)
            if found is not None:
                self._pages.move_to_end(key)
            return found

    def put(self, key, generation: int, page) -> None:
        size = len(page.body)
        if size > self.max_bytes // 4:
            return  # one huge page would push out everything else
        with self._lock:
            previous = self._pages.pop(key, None)
            if previous is not None:
                self._bytes -= len(previous[1].body)
            self._pages[key] = (generation, page)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._pages.popitem(last=False)
                self._bytes -= len(dropped.body)
