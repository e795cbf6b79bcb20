"""Table-driven tests of the rules on synthetic observation streams (no pixels, no models).

Streams are written as runs of ``(duration_s, value)`` at 5 fps: ``[(5, 2), (15, 1)]`` is five
seconds with two staff at the counter, then fifteen with one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter

from vision.config import CameraConfig, RuleConfig, SiteConfig, When, ZoneKind
from vision.events import ChangeKind, RuleType, ViolationChange, ViolationState
from vision.observations import ItemObs, Observation, ZoneState
from vision.rules import REGISTRY, STREAM_RULES, Rule, RuleEngine, Schedule, build_rule, build_rules
from vision.rules.base import Phase, TemporalRule

TZ = ZoneInfo("Asia/Shanghai")
FPS = 5
CAMERA = "counter-1"
WED_9 = datetime(2026, 11, 25, 9, 0, tzinfo=TZ)  # a Wednesday morning, branch open

# Mon 2026-11-23 .. Sun 2026-11-29 is an ordinary week; Tue 2026-12-01 and Mon 2026-12-07 are
# holidays (the first one right after a Monday night shift, the second on a Monday itself).
SITE = SiteConfig(
    id="branch-012",
    timezone="Asia/Shanghai",
    business_hours={
        "mon-fri": ["08:30-12:00", "13:30-17:00"],
        "sat": ["09:00-12:00"],
        "mon": ["22:00-02:00"],
    },
    holidays=[date(2026, 12, 1), date(2026, 12, 7)],
)
ALWAYS_OPEN = SiteConfig(id="branch-024", business_hours={"daily": ["00:00-12:00", "12:00-00:00"]})

ZONES = [
    {
        "name": "teller_area",
        "kind": "teller_area",
        "polygon": [[0.0, 0.45], [1.0, 0.45], [1.0, 1.0], [0.0, 1.0]],
    },
    {"name": "counter_top", "kind": "counter", "polygon": [[0.1, 0.4], [0.9, 0.4], [0.9, 0.5], [0.1, 0.5]]},
    {
        "name": "back_office",
        "kind": "teller_area",
        "polygon": [[0.0, 0.0], [0.3, 0.0], [0.3, 0.3], [0.0, 0.3]],
    },
]


# --------------------------------------------------------------------------- helpers


def at(text: str) -> datetime:
    """'2026-11-23 12:00:00.1' in the site's zone."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def rule_config(**fields: Any) -> Any:
    return TypeAdapter(RuleConfig).validate_python(fields)


def make_rule(site: SiteConfig = ALWAYS_OPEN, **fields: Any) -> Rule:
    return build_rule(rule_config(**fields), site_id=site.id, camera_id=CAMERA, schedule=Schedule(site))


def stream(
    runs: Sequence[tuple[float, Any]], to_zones: Callable[[Any], dict[str, ZoneState]], t0: datetime = WED_9
) -> list[Observation]:
    out: list[Observation] = []
    i, edge = 0, 0.0
    for duration, value in runs:
        edge += duration
        while i / FPS < edge - 1e-9:
            t = i / FPS
            out.append(Observation(CAMERA, i, t, t0 + timedelta(seconds=t), to_zones(value)))
            i += 1
    return out


def teller(value: int | tuple[int, ...], zone: str = "teller_area") -> dict[str, ZoneState]:
    """Staff at the counter: a count (tracks 1..n) or the staff track ids themselves."""
    ids = tuple(range(1, value + 1)) if isinstance(value, int) else value
    return {
        zone: ZoneState(zone, ZoneKind.teller_area, persons=len(ids), staff=len(ids), staff_track_ids=ids)
    }


def intruders(ids: tuple[int, ...]) -> dict[str, ZoneState]:
    return {
        "teller_area": ZoneState(
            "teller_area", ZoneKind.teller_area, persons=len(ids), non_staff_track_ids=ids
        )
    }


def item(item_id: int, label: str = "cash", first_seen: datetime = WED_9) -> ItemObs:
    box = (0.2 + 0.1 * item_id, 0.41, 0.25 + 0.1 * item_id, 0.45)
    return ItemObs(item_id, box, label, "counter_top", first_seen)


def counter(value: tuple[int, int] | tuple[int, int, int]) -> dict[str, ZoneState]:
    """(items on the counter, staff at the teller area[, non-staff at the teller area])."""
    n_items, staff, *rest = value
    non_staff = tuple(range(50, 50 + (rest[0] if rest else 0)))
    return {
        "counter_top": ZoneState(
            "counter_top", ZoneKind.counter, items=tuple(item(i) for i in range(1, n_items + 1))
        ),
        "teller_area": ZoneState(
            "teller_area",
            ZoneKind.teller_area,
            persons=staff + len(non_staff),
            staff=staff,
            staff_track_ids=tuple(range(1, staff + 1)),
            non_staff_track_ids=non_staff,
        ),
    }


def run(rule: Rule | RuleEngine, observations: Sequence[Observation]) -> list[ViolationChange]:
    changes: list[ViolationChange] = []
    for obs in observations:
        changes.extend(rule.step(obs))
    changes.extend(rule.close(observations[-1].ts))
    return changes


def rel(ts: datetime | None, t0: datetime = WED_9) -> float | None:
    return None if ts is None else round((ts - t0).total_seconds(), 3)


def finals(changes: Sequence[ViolationChange]) -> list[ViolationChange]:
    return sorted(
        (c for c in changes if c.kind is ChangeKind.ended),
        key=lambda c: (c.violation.started_at, c.violation.rule),
    )


def episodes(
    changes: Sequence[ViolationChange], t0: datetime = WED_9
) -> list[tuple[float | None, float | None]]:
    """(start_s, end_s) of every violation, after checking each one's change sequence is sane."""
    by_id: dict[str, list[ChangeKind]] = {}
    for c in changes:
        by_id.setdefault(c.violation.id, []).append(c.kind)
    for kinds in by_id.values():
        assert kinds[0] is ChangeKind.started and kinds[-1] is ChangeKind.ended
        assert set(kinds[1:-1]) <= {ChangeKind.updated}
    return [(rel(c.violation.started_at, t0), rel(c.violation.ended_at, t0)) for c in finals(changes)]


# --------------------------------------------------------------------------- temporal core

DUAL: dict[str, Any] = {
    "type": "dual_teller",
    "zone": "teller_area",
    "min_staff": 2,
    "grace_s": 10,
    "clear_s": 3,
    "when": "always",
}


@pytest.mark.parametrize(
    ("overrides", "runs", "expected"),
    [
        pytest.param({}, [(8, 1), (5, 2)], [], id="grace-not-reached"),
        pytest.param({}, [(10, 1), (3, 2)], [], id="grace-missed-by-one-frame"),
        pytest.param({}, [(10.2, 1), (3, 2)], [(0.0, 10.2)], id="grace-reached-on-the-frame"),
        pytest.param({}, [(5, 2), (15, 1), (5, 2)], [(5.0, 20.0)], id="one-violation-starts-at-condition"),
        pytest.param({}, [(5, 2), (12, 0), (5, 2)], [(5.0, 17.0)], id="empty-counter-counts"),
        pytest.param(
            {}, [(5, 2), (15, 1), (1, 2), (10, 1), (5, 2)], [(5.0, 31.0)], id="1s-dropout-one-violation"
        ),
        pytest.param(
            {}, [(5, 2), (15, 1), (2.8, 2), (10, 1), (5, 2)], [(5.0, 32.8)], id="dropout-just-under-clear"
        ),
        pytest.param(
            {},
            [(5, 2), (15, 1), (3, 2), (12, 1), (5, 2)],
            [(5.0, 20.0), (23.0, 35.0)],
            id="absent-clear_s-splits",
        ),
        pytest.param(
            {},
            [(5, 2), (15, 1), (5, 2), (15, 1), (5, 2)],
            [(5.0, 20.0), (25.0, 40.0)],
            id="long-clear-two-violations",
        ),
        pytest.param({}, [(6, 1), (1, 2), (6, 1), (5, 2)], [(0.0, 13.0)], id="pending-dropout-keeps-grace"),
        pytest.param({}, [(6, 1), (4, 2), (8, 1), (5, 2)], [], id="pending-long-dropout-resets-grace"),
        pytest.param({}, [(5, 2), (20, 1)], [(5.0, 24.8)], id="end-of-file-closes-at-last-frame"),
        pytest.param({}, [(5, 2), (15, 1), (2, 2)], [(5.0, 20.0)], id="end-of-file-while-clearing"),
        pytest.param(
            {"grace_s": 0, "clear_s": 0},
            [(1, 1), (0.2, 2), (1, 1)],
            [(0.0, 1.0), (1.2, 2.0)],
            id="no-hysteresis",
        ),
        pytest.param({"min_staff": 1}, [(30, 1)], [], id="min-staff-1-satisfied"),
        pytest.param({"min_staff": 3}, [(30, 2)], [(0.0, 29.8)], id="min-staff-3"),
    ],
)
def test_temporal_core(
    overrides: dict[str, Any], runs: list[tuple[float, int]], expected: list[tuple[float, float]]
):
    rule = make_rule(**{**DUAL, **overrides})
    assert episodes(run(rule, stream(runs, teller))) == expected


@pytest.mark.parametrize(
    ("runs", "kinds", "details", "track_ids", "worst_s"),
    [
        pytest.param(
            [(5, 2), (60, 1), (5, 2)], ["started", "ended"], {"min_staff_seen": 1}, [1], 5.0, id="steady"
        ),
        pytest.param(
            [(5, 2), (15, 1), (5, 0), (5, 1), (5, 2)],
            ["started", "updated", "ended"],
            {"min_staff_seen": 0},
            [1],
            20.0,
            id="fewer-staff-updates-once",
        ),
        pytest.param(
            [(5, (1, 2)), (15, (1,)), (5, (3,)), (5, (1, 3))],
            ["started", "updated", "ended"],
            {"min_staff_seen": 1},
            [1, 3],
            5.0,
            id="new-staff-track-updates",
        ),
        pytest.param(
            [(15, 0), (15, 1)],
            ["started", "updated", "ended"],
            {"min_staff_seen": 0},
            [1],
            0.0,
            id="worst-first",
        ),
    ],
)
def test_dual_teller_changes(runs, kinds, details, track_ids, worst_s):
    changes = run(make_rule(**DUAL), stream(runs, teller))
    assert [c.kind.value for c in changes] == kinds
    last = changes[-1]
    assert last.violation.details == {**details, "min_staff": 2}
    assert last.violation.track_ids == track_ids
    assert rel(last.worst_at) == worst_s


def test_violation_record_fields():
    changes = run(make_rule(**DUAL, severity="medium"), stream([(5, 2), (15, 1), (5, 2), (15, 1)], teller))
    assert [c.kind for c in changes] == [
        ChangeKind.started,
        ChangeKind.ended,
        ChangeKind.started,
        ChangeKind.ended,
    ]
    first, second = changes[0].violation, changes[2].violation
    assert first.id != second.id and len(first.id) == 32 and int(first.id, 16) >= 0
    assert changes[1].violation.id == first.id
    assert (first.site, first.camera, first.rule, first.zone) == (
        "branch-024",
        CAMERA,
        "dual_teller",
        "teller_area",
    )
    assert first.severity.value == "medium"
    # started is sent when the grace runs out, but dated from when the condition began
    assert first.state is ViolationState.open and first.ended_at is None
    assert rel(first.started_at) == 5.0 and first.duration_s == pytest.approx(10.0)
    ended = changes[1].violation
    assert ended.state is ViolationState.ended and rel(ended.ended_at) == 20.0 and ended.duration_s == 15.0
    # the second violation was still open at the end of the file
    assert rel(changes[3].violation.ended_at) == 39.8
    assert changes[1].violation.to_json_dict()["started_at"] == "2026-11-25T09:00:05.000+08:00"


def test_phases_and_clock_stepping_back():
    rule = make_rule(**DUAL)
    assert isinstance(rule, TemporalRule)
    obs = stream([(5, 2), (15, 1)], teller)
    for o in obs[:30]:
        rule.step(o)
    assert rule.phase is Phase.pending
    for o in obs[30:]:
        rule.step(o)
    assert rule.phase is Phase.active
    # an older frame (a live clock stepped back) is ignored rather than reversing the violation
    assert rule.step(obs[0]) == []
    assert rule.phase is Phase.active
    ended = rule.close(obs[-1].ts)
    assert [rel(c.violation.ended_at) for c in ended] == [19.8]
    assert rule.phase is Phase.idle
    # after close the rule starts fresh: a looping file replays from its first frame
    assert episodes(run(rule, stream([(12, 1)], teller))) == [(0.0, 11.8)]


def test_sparse_stream_sample_and_hold():
    """A motion gate may skip still frames: what was last seen holds until the next frame."""
    rule = make_rule(**DUAL)
    frames = [
        Observation(CAMERA, i, t, WED_9 + timedelta(seconds=t), teller(n))
        for i, (t, n) in enumerate(
            [(0, 1), (2, 1), (4, 1), (6, 1), (8, 1), (10, 1), (12, 2), (16, 1), (17, 1), (30, 1)]
        )
    ]
    # absent from 12 s, seen again at 16 s: 4 s >= clear_s, so the first violation ended at 12 s
    assert episodes(run(rule, frames)) == [(0.0, 12.0), (16.0, 30.0)]


# --------------------------------------------------------------------------- schedule


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        pytest.param(at("2026-11-23 08:29:59"), False, id="mon-before-opening"),
        pytest.param(at("2026-11-23 08:30:00"), True, id="mon-opening-minute"),
        pytest.param(at("2026-11-23 11:59:59.999"), True, id="mon-before-lunch"),
        pytest.param(at("2026-11-23 12:00:00"), False, id="mon-lunch"),
        pytest.param(at("2026-11-23 13:30:00"), True, id="mon-afternoon"),
        pytest.param(at("2026-11-23 17:00:00"), False, id="mon-closing-minute"),
        pytest.param(at("2026-11-23 21:59:59"), False, id="mon-evening"),
        pytest.param(at("2026-11-23 22:00:00"), True, id="mon-night-shift"),
        pytest.param(at("2026-11-24 00:00:00"), True, id="night-shift-past-midnight"),
        pytest.param(at("2026-11-24 01:59:59"), True, id="night-shift-last-second"),
        pytest.param(at("2026-11-24 02:00:00"), False, id="night-shift-over"),
        pytest.param(at("2026-11-24 22:30:00"), False, id="tue-has-no-night-shift"),
        pytest.param(at("2026-11-28 09:00:00"), True, id="sat-morning"),
        pytest.param(at("2026-11-28 14:00:00"), False, id="sat-afternoon"),
        pytest.param(at("2026-11-29 10:00:00"), False, id="sunday"),
        pytest.param(at("2026-12-01 01:00:00"), True, id="holiday-after-mon-night-keeps-spill"),
        pytest.param(at("2026-12-01 09:00:00"), False, id="holiday-tuesday"),
        pytest.param(at("2026-12-07 09:00:00"), False, id="holiday-monday"),
        pytest.param(at("2026-12-07 23:00:00"), False, id="holiday-monday-night"),
        pytest.param(at("2026-12-08 01:00:00"), False, id="after-holiday-monday-night"),
        pytest.param(at("2026-12-08 09:00:00"), True, id="day-after-holiday"),
        pytest.param(datetime(2026, 11, 23, 1, 0, tzinfo=UTC), True, id="utc-input-0900-local"),
        pytest.param(datetime(2026, 11, 23, 4, 30, tzinfo=UTC), False, id="utc-input-1230-local"),
        pytest.param(datetime(2026, 11, 23, 9, 0), True, id="naive-is-site-local"),
    ],
)
def test_is_open(ts: datetime, expected: bool):
    assert Schedule(SITE).is_open(ts) is expected


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        pytest.param(at("2026-11-23 07:00"), at("2026-11-23 08:30"), id="to-opening"),
        pytest.param(at("2026-11-23 08:30"), at("2026-11-23 12:00"), id="strictly-after"),
        pytest.param(at("2026-11-23 10:00"), at("2026-11-23 12:00"), id="to-lunch"),
        pytest.param(at("2026-11-23 12:00"), at("2026-11-23 13:30"), id="lunch-to-afternoon"),
        pytest.param(at("2026-11-23 17:00"), at("2026-11-23 22:00"), id="to-night-shift"),
        pytest.param(at("2026-11-23 23:00"), at("2026-11-24 02:00"), id="night-shift-ends-next-day"),
        pytest.param(at("2026-11-24 01:00"), at("2026-11-24 02:00"), id="inside-spill"),
        pytest.param(at("2026-11-24 17:00"), at("2026-11-25 08:30"), id="overnight"),
        pytest.param(at("2026-11-27 17:00"), at("2026-11-28 09:00"), id="fri-to-sat"),
        pytest.param(at("2026-11-28 12:00"), at("2026-11-30 08:30"), id="weekend"),
        pytest.param(at("2026-11-30 23:00"), at("2026-12-01 02:00"), id="spill-into-holiday"),
        pytest.param(at("2026-12-01 02:00"), at("2026-12-02 08:30"), id="holiday-skipped"),
        pytest.param(at("2026-12-05 12:00"), at("2026-12-08 08:30"), id="holiday-monday-skipped"),
        pytest.param(
            datetime(2026, 11, 23, 2, 0, tzinfo=UTC), datetime(2026, 11, 23, 4, 0, tzinfo=UTC), id="utc"
        ),
    ],
)
def test_next_change(ts: datetime, expected: datetime):
    got = Schedule(SITE).next_change(ts)
    assert got == expected
    assert got is not None and got.utcoffset() == ts.utcoffset()


@pytest.mark.parametrize(
    ("hours", "holidays", "horizon_days", "ts", "is_open", "expected"),
    [
        pytest.param(
            {"daily": ["08:00-12:00", "12:00-17:00"]},
            [],
            14,
            "2026-11-25 10:00",
            True,
            "2026-11-25 17:00",
            id="touching-windows-merge",
        ),
        pytest.param(
            {"daily": ["08:00-12:00", "11:00-13:00"]},
            [],
            14,
            "2026-11-25 10:00",
            True,
            "2026-11-25 13:00",
            id="overlapping-windows-merge",
        ),
        pytest.param(
            {"daily": ["20:00-04:00"]}, [], 14, "2026-11-25 03:00", True, "2026-11-25 04:00", id="night"
        ),
        pytest.param(
            {"daily": ["20:00-04:00"]}, [], 14, "2026-11-25 05:00", False, "2026-11-25 20:00", id="day"
        ),
        pytest.param({}, [], 14, "2026-11-25 10:00", False, None, id="no-hours"),
        pytest.param(
            {"daily": ["00:00-12:00", "12:00-00:00"]},
            [],
            14,
            "2026-11-25 10:00",
            True,
            None,
            id="round-the-clock",
        ),
        pytest.param(
            {"mon-fri": ["09:00-17:00"]},
            [date(2026, 11, 26) + timedelta(days=i) for i in range(20)],
            14,
            "2026-11-25 18:00",
            False,
            None,
            id="holidays-beyond-horizon",
        ),
        pytest.param(
            {"mon-fri": ["09:00-17:00"]},
            [date(2026, 11, 26) + timedelta(days=i) for i in range(20)],
            30,
            "2026-11-25 18:00",
            False,
            "2026-12-16 09:00",
            id="longer-horizon",
        ),
    ],
)
def test_schedule_shapes(hours, holidays, horizon_days, ts, is_open, expected):
    site = SiteConfig(id="b1", business_hours=hours, holidays=holidays)
    sched = Schedule(site, horizon=timedelta(days=horizon_days))
    assert sched.is_open(at(ts)) is is_open
    assert sched.next_change(at(ts)) == (at(expected) if expected else None)


def test_schedule_across_dst():
    """Europe/Berlin springs forward 02:00 -> 03:00 on 2026-03-29; the night window is 2 h long."""
    berlin = ZoneInfo("Europe/Berlin")
    sched = Schedule(SiteConfig(id="b1", timezone="Europe/Berlin", business_hours={"daily": ["01:00-04:00"]}))
    start = datetime(2026, 3, 29, 1, 30, tzinfo=berlin)
    end = sched.next_change(start)
    assert end == datetime(2026, 3, 29, 4, 0, tzinfo=berlin)
    assert sched.is_open(datetime(2026, 3, 29, 3, 30, tzinfo=berlin))
    assert end is not None and end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=1, minutes=30)


@pytest.mark.parametrize(
    ("when", "ts", "expected"),
    [
        (When.always, at("2026-11-23 10:00"), True),
        (When.always, at("2026-11-23 20:00"), True),
        (When.business_hours, at("2026-11-23 10:00"), True),
        (When.business_hours, at("2026-11-23 20:00"), False),
        (When.after_hours, at("2026-11-23 10:00"), False),
        (When.after_hours, at("2026-11-23 20:00"), True),
        ("after_hours", at("2026-11-29 10:00"), True),
    ],
)
def test_applies(when, ts, expected):
    assert Schedule(SITE).applies(when, ts) is expected


def test_schedule_rejects_bad_horizon():
    with pytest.raises(ValueError, match="horizon"):
        Schedule(SITE, horizon=timedelta(0))


# --------------------------------------------------------------------------- business-hours gating

GATED: dict[str, Any] = {**DUAL, "when": "business_hours"}


@pytest.mark.parametrize(
    ("config", "t0", "runs", "to_zones", "expected"),
    [
        pytest.param(
            GATED,
            "2026-11-23 11:59:30.1",
            [(60, 1)],
            teller,
            [("2026-11-23 11:59:30.1", "2026-11-23 12:00:00")],
            id="runs-into-closing-ends-at-closing",
        ),
        pytest.param(
            GATED,
            "2026-11-23 08:29:50.1",
            [(30, 1)],
            teller,
            [("2026-11-23 08:30:00", "2026-11-23 08:30:19.9")],
            id="held-before-opening-starts-at-opening",
        ),
        pytest.param(
            GATED,
            "2026-11-23 08:29:50.1",
            [(15, 2), (30, 1)],
            teller,
            [("2026-11-23 08:30:05.1", "2026-11-23 08:30:34.9")],
            id="begins-after-opening",
        ),
        pytest.param(
            GATED,
            "2026-11-23 11:59:30.1",
            [(28, 1), (10, 2)],
            teller,
            [("2026-11-23 11:59:30.1", "2026-11-23 11:59:58.1")],
            id="clearing-at-closing-ends-when-cleared",
        ),
        pytest.param(GATED, "2026-11-23 11:59:55.1", [(30, 1)], teller, [], id="pending-at-closing-drops"),
        pytest.param(GATED, "2026-11-23 12:30:00", [(60, 1)], teller, [], id="lunch-break"),
        pytest.param(
            GATED,
            "2026-11-24 01:59:00.1",
            [(120, 1)],
            teller,
            [("2026-11-24 01:59:00.1", "2026-11-24 02:00:00")],
            id="night-shift-across-midnight",
        ),
        pytest.param(
            GATED,
            "2026-11-23 21:59:50.1",
            [(30, 1)],
            teller,
            [("2026-11-23 22:00:00", "2026-11-23 22:00:19.9")],
            id="night-shift-opening",
        ),
        pytest.param(
            GATED,
            "2026-12-01 01:59:00.1",
            [(120, 1)],
            teller,
            [("2026-12-01 01:59:00.1", "2026-12-01 02:00:00")],
            id="spill-into-holiday-counts",
        ),
        pytest.param(GATED, "2026-12-07 10:00:00.1", [(60, 1)], teller, [], id="holiday"),
        pytest.param(GATED, "2026-11-29 10:00:00", [(60, 1)], teller, [], id="sunday"),
        pytest.param(
            GATED,
            "2026-11-28 11:59:00.1",
            [(120, 1)],
            teller,
            [("2026-11-28 11:59:00.1", "2026-11-28 12:00:00")],
            id="saturday-window",
        ),
        pytest.param(
            {"type": "non_staff_in_area", "zone": "teller_area", "grace_s": 2, "when": "after_hours"},
            "2026-11-23 16:59:50.1",
            [(30, (7,))],
            intruders,
            [("2026-11-23 17:00:00", "2026-11-23 17:00:19.9")],
            id="after-hours-starts-at-closing",
        ),
        pytest.param(
            {"type": "non_staff_in_area", "zone": "teller_area", "grace_s": 2, "when": "after_hours"},
            "2026-11-23 08:29:50.1",
            [(30, (7,))],
            intruders,
            [("2026-11-23 08:29:50.1", "2026-11-23 08:30:00")],
            id="after-hours-ends-at-opening",
        ),
    ],
)
def test_business_hours_gating(config, t0, runs, to_zones, expected):
    rule = make_rule(SITE, **config)
    changes = run(rule, stream(runs, to_zones, at(t0)))
    got = [(c.violation.started_at, c.violation.ended_at) for c in finals(changes)]
    assert got == [(at(s), at(e)) for s, e in expected]


def test_gap_over_lunch_ends_at_closing_and_restarts_at_opening():
    rule = make_rule(SITE, **GATED)
    morning = stream([(20, 1)], teller, at("2026-11-23 11:59:40.1"))
    afternoon = stream([(20, 1)], teller, at("2026-11-23 13:30:10"))
    changes = run(rule, [*morning, *afternoon])
    got = [(c.violation.started_at, c.violation.ended_at) for c in finals(changes)]
    assert got == [
        (at("2026-11-23 11:59:40.1"), at("2026-11-23 12:00:00")),
        (at("2026-11-23 13:30:00"), at("2026-11-23 13:30:29.8")),
    ]


def test_close_after_closing_time_ends_at_closing():
    rule = make_rule(SITE, **GATED)
    for obs in stream([(20, 1)], teller, at("2026-11-23 11:59:30.1")):
        rule.step(obs)
    [ended] = rule.close(at("2026-11-23 12:00:05"))
    assert ended.violation.ended_at == at("2026-11-23 12:00:00")


# --------------------------------------------------------------------------- non-staff and items

NON_STAFF: dict[str, Any] = {
    "type": "non_staff_in_area",
    "zone": "teller_area",
    "grace_s": 2,
    "clear_s": 3,
    "when": "always",
}


@pytest.mark.parametrize(
    ("runs", "expected", "track_ids", "max_non_staff", "worst_s"),
    [
        pytest.param([(3, (7,)), (2, (7, 9)), (3, (9,)), (5, ())], [(0.0, 8.0)], [7, 9], 2, 3.0, id="union"),
        pytest.param([(1.8, (7,)), (5, ())], [], None, None, None, id="grace-not-reached"),
        pytest.param(
            [(2, ()), (4, (4, 5, 6)), (1, ()), (4, (8,))], [(2.0, 10.8)], [4, 5, 6, 8], 3, 2.0, id="dropout"
        ),
        pytest.param([(10, ())], [], None, None, None, id="nobody"),
    ],
)
def test_non_staff(runs, expected, track_ids, max_non_staff, worst_s):
    changes = run(make_rule(**NON_STAFF), stream(runs, intruders))
    assert episodes(changes) == expected
    if expected:
        last = changes[-1]
        assert last.violation.track_ids == track_ids
        assert last.violation.details == {"max_non_staff": max_non_staff}
        assert rel(last.worst_at) == worst_s


def test_non_staff_ignores_undecided_and_staff():
    def zones(_: object) -> dict[str, ZoneState]:
        return {
            "teller_area": ZoneState(
                "teller_area",
                ZoneKind.teller_area,
                persons=2,
                staff=1,
                staff_track_ids=(1,),
                undecided_track_ids=(5,),
            )
        }

    assert run(make_rule(**NON_STAFF), stream([(10, None)], zones)) == []


ITEMS: dict[str, Any] = {
    "type": "unattended_items",
    "zone": "counter_top",
    "attended_by": "teller_area",
    "grace_s": 10,
    "clear_s": 3,
    "when": "always",
}


@pytest.mark.parametrize(
    ("runs", "expected"),
    [
        pytest.param([(5, (1, 2)), (15, (1, 0)), (5, (1, 1))], [(5.0, 20.0)], id="teller-leaves-items-out"),
        pytest.param([(20, (0, 0))], [], id="no-items-nobody"),
        pytest.param([(30, (2, 1))], [], id="attended"),
        pytest.param([(5, (1, 2)), (8, (1, 0)), (10, (0, 0))], [], id="items-put-away-within-grace"),
        pytest.param([(15, (1, 0, 1)), (5, (1, 1))], [(0.0, 15.0)], id="customer-does-not-attend"),
        pytest.param([(5, (1, 0)), (1, (0, 0)), (10, (1, 0))], [(0.0, 15.8)], id="item-occluded-1s"),
        pytest.param([(12, (1, 0)), (1, (1, 1)), (10, (1, 0))], [(0.0, 22.8)], id="teller-passes-briefly"),
    ],
)
def test_unattended_items(runs, expected):
    assert episodes(run(make_rule(**ITEMS), stream(runs, counter))) == expected


def test_unattended_items_details():
    def zones(t: float) -> dict[str, ZoneState]:
        items = (
            (item(1, "cash"),) if t < 8 else (item(1, "cash"), item(2, "seal", WED_9 + timedelta(seconds=8)))
        )
        return {
            "counter_top": ZoneState("counter_top", ZoneKind.counter, items=items),
            "teller_area": ZoneState("teller_area", ZoneKind.teller_area),
        }

    observations = [
        Observation(CAMERA, i, i / FPS, WED_9 + timedelta(seconds=i / FPS), zones(i / FPS)) for i in range(60)
    ]
    changes = run(make_rule(**{**ITEMS, "grace_s": 5}), observations)
    assert [c.kind for c in changes] == [ChangeKind.started, ChangeKind.updated, ChangeKind.ended]
    assert changes[0].violation.details["max_items"] == 1
    last = changes[-1]
    assert last.violation.track_ids == []
    assert rel(last.worst_at) == 8.0
    day = "2026-11-25"
    assert last.violation.details == {
        "items": [
            {
                "item_id": 1,
                "label": "cash",
                "box": [0.3, 0.41, 0.35, 0.45],
                "first_seen": f"{day}T09:00:00.000+08:00",
            },
            {
                "item_id": 2,
                "label": "seal",
                "box": [0.4, 0.41, 0.45, 0.45],
                "first_seen": f"{day}T09:00:08.000+08:00",
            },
        ],
        "max_items": 2,
    }


# --------------------------------------------------------------------------- engine: several zones and rules


def camera(rules: list[dict[str, Any]]) -> CameraConfig:
    return CameraConfig.model_validate({"id": CAMERA, "source": 0, "zones": ZONES, "rules": rules})


ENGINE_RULES = [
    {"type": "dual_teller", "zone": "teller_area", "grace_s": 10, "when": "always"},
    {
        "type": "dual_teller",
        "zone": "back_office",
        "min_staff": 1,
        "grace_s": 5,
        "when": "always",
        "severity": "medium",
    },
    {
        "type": "unattended_items",
        "zone": "counter_top",
        "attended_by": "teller_area",
        "grace_s": 5,
        "when": "always",
        "severity": "low",
    },
    {"type": "non_staff_in_area", "zone": "teller_area", "grace_s": 2},
]


def branch_scene(t: float) -> dict[str, ZoneState]:
    """Two tellers; one leaves at 10 s, the other at 15 s; a customer slips in 18-21 s; both are
    back at 22 s. The back office is staffed only for the first 5 s. Cash lies on the counter."""
    if t < 10:
        staff: tuple[int, ...] = (1, 2)
    elif t < 15:
        staff = (1,)
    elif t < 22:
        staff = ()
    else:
        staff = (1, 2)
    visitors = (8,) if 18 <= t < 21 else ()
    return {
        "teller_area": ZoneState(
            "teller_area",
            ZoneKind.teller_area,
            persons=len(staff) + len(visitors),
            staff=len(staff),
            staff_track_ids=staff,
            non_staff_track_ids=visitors,
        ),
        "counter_top": ZoneState("counter_top", ZoneKind.counter, items=(item(1),)),
        "back_office": ZoneState(
            "back_office",
            ZoneKind.teller_area,
            persons=int(t < 5),
            staff=int(t < 5),
            staff_track_ids=(3,) if t < 5 else (),
        ),
    }


def test_engine_several_zones_and_rules():
    engine = RuleEngine(SITE, camera(ENGINE_RULES))
    observations = [
        Observation(CAMERA, i, i / FPS, WED_9 + timedelta(seconds=i / FPS), branch_scene(i / FPS))
        for i in range(150)
    ]
    changes = run(engine, observations)
    got = sorted(
        (
            c.violation.rule,
            c.violation.zone,
            c.violation.severity.value,
            rel(c.violation.started_at),
            rel(c.violation.ended_at),
            tuple(c.violation.track_ids),
        )
        for c in finals(changes)
    )
    assert got == [
        ("dual_teller", "back_office", "medium", 5.0, 29.8, ()),
        ("dual_teller", "teller_area", "high", 10.0, 22.0, (1,)),
        ("non_staff_in_area", "teller_area", "high", 18.0, 21.0, (8,)),
        ("unattended_items", "counter_top", "low", 15.0, 22.0, ()),
    ]
    assert len({c.violation.id for c in changes}) == 4
    # the engine is fresh after close and can replay the file (loop: true)
    assert len(finals(run(engine, observations))) == 4


def test_engine_refuses_other_camera():
    engine = RuleEngine(SITE, camera(ENGINE_RULES))
    obs = Observation("counter-2", 0, 0.0, WED_9, {})
    with pytest.raises(ValueError, match="counter-2"):
        engine.step(obs)


def test_missing_zone_is_empty():
    """A zone the pipeline did not report had nobody in it: the counter is unstaffed."""
    observations = [
        Observation(CAMERA, i, i / FPS, WED_9 + timedelta(seconds=i / FPS), {}) for i in range(75)
    ]
    assert episodes(run(make_rule(**DUAL), observations)) == [(0.0, 14.8)]


def test_build_rules():
    rules = build_rules(SITE, camera(ENGINE_RULES))
    assert [type(r).__name__ for r in rules] == [
        "DualTellerRule",
        "DualTellerRule",
        "UnattendedItemsRule",
        "NonStaffRule",
    ]
    assert [(r.type, r.zone, r.config.severity) for r in rules] == [
        (RuleType.dual_teller, "teller_area", "high"),
        (RuleType.dual_teller, "back_office", "medium"),
        (RuleType.unattended_items, "counter_top", "low"),
        (RuleType.non_staff_in_area, "teller_area", "high"),
    ]
    assert all(isinstance(r, Rule) for r in rules)
    assert set(REGISTRY) | set(STREAM_RULES) == {t.value for t in RuleType}


def test_rule_refuses_wrong_config():
    cls = REGISTRY["non_staff_in_area"]
    with pytest.raises(ValueError, match="NonStaffRule"):
        cls(rule_config(**DUAL), site_id="b", camera_id=CAMERA, schedule=Schedule(SITE))


def test_active_summary_shows_pending_and_active():
    engine = RuleEngine(SITE, camera(ENGINE_RULES))
    observations = [
        Observation(CAMERA, i, i / FPS, WED_9 + timedelta(seconds=i / FPS), branch_scene(i / FPS))
        for i in range(60)
    ]
    for obs in observations:
        engine.step(obs)
    # at 11.8 s: back office unstaffed since 5 s (open), one teller alone since 10 s (grace running)
    summary = {st.name: st for st in engine.active_summary()}
    assert set(summary) == {"dual_teller/back_office", "dual_teller/teller_area"}
    office, counter_ = summary["dual_teller/back_office"], summary["dual_teller/teller_area"]
    assert office.phase is Phase.active and office.violation_id is not None
    assert counter_.phase is Phase.pending and counter_.violation_id is None
    assert counter_.since == WED_9 + timedelta(seconds=10)
    assert counter_.elapsed_s == pytest.approx(1.8)
    engine.close(observations[-1].ts)
    assert engine.active_summary() == []
