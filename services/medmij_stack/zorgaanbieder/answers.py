"""Serialised answers kept per request, because records are read far more than written.

docs/architecture.md#performance-budgets: "a resource server may keep serialized answers per
(patient, normalized query, format) and drop them on write". A key here is (endpoint,
patient, path, query string as received, format): the query string stays as it came because
the Bundle's self link repeats it. The cache is bounded (least recently used goes first) and emptied
whenever data is loaded, which is the only write this server knows.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["AnswerCache"]


class AnswerCache:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> bytes | None:
        found = self._items.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self._items.move_to_end(key)
        return found

    def put(self, key: Hashable, body: bytes) -> None:
        if self._limit <= 0:
            return
        self._items[key] = body
        self._items.move_to_end(key)
        while len(self._items) > self._limit:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()
