"""A bounded hand-off that drops the oldest *droppable* item when full, never the others.

Used where a fast producer must never wait on a slow consumer, yet some items must not be lost:
a live source's reader thread hands frames (droppable) and gaps (kept) to its camera thread, and
the pipeline hands frames (droppable) and violation changes (kept) to the evidence worker.

``DropOldest`` itself takes no lock: its owner guards it with its own condition, which usually
guards more than the queue (the evidence worker waits on clip work too).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class DropOldest(Generic[T]):
    def __init__(self, max_droppable: int, droppable: Callable[[T], bool]) -> None:
        if max_droppable < 1:
            raise ValueError(f"max_droppable must be >= 1, got {max_droppable}")
        self.max_droppable = max_droppable
        self._droppable = droppable
        self._items: deque[T] = deque()
        self.droppable_count = 0  # droppable items queued now
        self.dropped = 0  # droppable items dropped so far

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)

    def full(self) -> bool:
        """No room for another droppable item without dropping one."""
        return self.droppable_count >= self.max_droppable

    def append(self, item: T) -> bool:
        """Queues ``item``; a droppable one first drops the oldest droppable where full. True if
        one was dropped."""
        dropped = False
        if self._droppable(item):
            if self.full():
                for i, old in enumerate(self._items):
                    if self._droppable(old):
                        del self._items[i]
                        self.droppable_count -= 1
                        self.dropped += 1
                        dropped = True
                        break
            self.droppable_count += 1
        self._items.append(item)
        return dropped

    def popleft(self) -> T:
        item = self._items.popleft()
        if self._droppable(item):
            self.droppable_count -= 1
        return item
