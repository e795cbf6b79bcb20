"""The one drop-oldest hand-off: only droppable items are dropped (oldest first), others stay."""

from __future__ import annotations

import pytest

from vision.dropqueue import DropOldest


def test_drops_the_oldest_droppable_and_keeps_the_rest() -> None:
    q: DropOldest[str] = DropOldest(2, lambda s: s.startswith("f"))
    assert not q.append("f1") and not q.append("gap") and not q.append("f2")
    assert q.full()
    assert q.append("f3")  # f1 goes, the gap stays where it was
    assert list(q) == ["gap", "f2", "f3"] and q.dropped == 1 and q.droppable_count == 2
    q.append("change")  # not droppable: never counted, never dropped
    assert q.append("f4") and list(q) == ["gap", "f3", "change", "f4"]
    assert [q.popleft() for _ in range(len(q))] == ["gap", "f3", "change", "f4"]
    assert q.droppable_count == 0 and not q.full() and q.dropped == 2


def test_limit_can_change_and_must_be_positive() -> None:
    q: DropOldest[int] = DropOldest(1, lambda _: True)
    q.max_droppable = 3
    for i in range(5):
        q.append(i)
    assert list(q) == [2, 3, 4]
    with pytest.raises(ValueError, match="max_droppable"):
        DropOldest(0, lambda _: True)
