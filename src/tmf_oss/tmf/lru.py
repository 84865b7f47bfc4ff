"""A small least-recently-used map."""
from __future__ import annotations

from collections import OrderedDict


class BoundedCache:
    """Keeps the `size` most recently used entries. Not locked: each owner uses its own from one thread."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict = OrderedDict()

    def get(self, key):
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key, value) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
