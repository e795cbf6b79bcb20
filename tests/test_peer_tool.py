"""benchmarks/peer.py: the peer's grace timer and the violation comparison it reports."""

from __future__ import annotations

from datetime import datetime, timedelta

from benchmarks.peer import Timer, same


def _run(samples: list[tuple[float, bool]], grace: float = 2.0, clear: float = 1.0) -> list[tuple[float, float]]:
    timer = Timer("non_staff_in_area", "z", grace, clear)
    for t, holds in samples:
        timer.update(t, holds)
    timer.close(samples[-1][0])
    return timer.found


def test_condition_shorter_than_grace_is_no_violation():
    assert _run([(0.0, True), (1.0, True), (1.9, True), (2.0, False), (3.5, False)]) == []


def test_violation_starts_when_the_condition_began_and_ends_when_it_first_cleared():
    samples = [(t / 2, 1.0 <= t / 2 < 5.0) for t in range(20)]
    assert _run(samples) == [(1.0, 5.0)]


def test_dropout_shorter_than_clear_does_not_split_and_open_one_is_closed_at_the_end():
    samples = [(0.0, True), (2.0, True), (2.5, False), (3.0, True), (6.0, True)]
    assert _run(samples) == [(0.0, 6.0)]


def test_same_compares_rule_zone_and_times_within_tolerance():
    t0 = datetime(2026, 11, 26, 9)
    a = [("dual_teller", "z", t0, t0 + timedelta(seconds=10))]
    assert same(a, [("dual_teller", "z", t0 + timedelta(seconds=2), t0 + timedelta(seconds=9))], 3.0)
    assert not same(a, [("dual_teller", "z", t0 + timedelta(seconds=4), t0 + timedelta(seconds=10))], 3.0)
    assert not same(a, [("non_staff_in_area", "z", t0, t0 + timedelta(seconds=10))], 3.0)
    assert not same(a, a + a, 3.0)
