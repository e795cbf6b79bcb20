"""The further rules of the regulation on synthetic observation streams: tailgating through a
door zone, cash escort, intrusion after hours, and counter items with ``attended_by: null``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.vision.test_rules import ALWAYS_OPEN, CAMERA, FPS, SITE, WED_9, episodes, make_rule, run
from vision.config import ZoneKind
from vision.events import ChangeKind, ViolationChange
from vision.observations import ItemObs, ObjectObs, Observation, TrackObs, ZoneState
from vision.rules import Rule

W, H = 1000, 600


def obs(i: int, tracks: list[TrackObs] = (), objects: list[ObjectObs] = (),  # type: ignore[assignment]
        zones: dict[str, ZoneState] | None = None, t0: datetime = WED_9) -> Observation:
    t = i / FPS
    return Observation(CAMERA, i, t, t0 + timedelta(seconds=t), zones or {}, tuple(tracks), tuple(objects), (W, H))


def person(tid: int, x: float, *, zones: tuple[str, ...] = (), staff: bool | None = None) -> TrackObs:
    return TrackObs(tid, (x - 40, 200, x + 40, 500), 0.9, staff, frozenset(zones))


# --------------------------------------------------------------------------- tailgating

TAIL: dict[str, Any] = {"type": "tailgating", "zone": "door", "window_s": 3, "max_persons": 1}


def door_walk(spans: dict[int, tuple[float, float]], n: int, jump: dict[int, int] | None = None) -> list[Observation]:
    """Tracks in the door zone during their (enter_s, exit_s) span; ``jump`` renames a track from a
    frame on (the tracker lost and re-found the same person)."""
    out = []
    for i in range(n):
        t = i / FPS
        tracks = []
        for tid, (a, b) in spans.items():
            if a <= t < b:
                shown = tid
                if jump and tid in jump and i >= jump[tid]:
                    shown = tid + 100
                tracks.append(person(shown, 300 + 10 * tid, zones=("door",)))
        out.append(obs(i, tracks))
    return out


def test_two_persons_through_the_door_together_are_one_tailgating() -> None:
    changes = run(make_rule(**TAIL), door_walk({1: (1.0, 4.0), 2: (2.0, 6.0)}, 50))
    assert episodes(changes) == [(1.0, 6.0)]  # first entry .. last exit
    last = changes[-1].violation
    assert last.track_ids == [1, 2]
    assert last.details["persons"] == 2 and last.details["max_persons"] == 1
    assert [e["track_id"] for e in last.details["entries"]] == [1, 2]


def test_one_person_or_two_far_apart_is_no_tailgating() -> None:
    assert run(make_rule(**TAIL), door_walk({1: (1.0, 4.0)}, 40)) == []
    assert run(make_rule(**TAIL), door_walk({1: (1.0, 3.0), 2: (6.0, 8.0)}, 50)) == []


def test_a_track_renamed_in_the_door_is_still_one_person() -> None:
    # track 1 vanishes at frame 12 and comes back as 101 at the same place
    assert run(make_rule(**TAIL), door_walk({1: (1.0, 5.0)}, 40, jump={1: 12})) == []


def test_three_persons_allowed_two_per_passage() -> None:
    spans = {1: (1.0, 4.0), 2: (1.4, 4.0), 3: (2.0, 5.0)}
    assert run(make_rule(**{**TAIL, "max_persons": 3}), door_walk(spans, 40)) == []
    changes = run(make_rule(**{**TAIL, "max_persons": 2}), door_walk(spans, 40))
    assert episodes(changes) == [(1.0, 5.0)]
    assert changes[-1].violation.details["persons"] == 3


# --------------------------------------------------------------------------- cash escort

ESCORT: dict[str, Any] = {"type": "cash_escort", "zone": "hall", "min_staff": 2, "radius": 0.25, "grace_s": 1}


def bag(x: float, label: str = "suitcase") -> ObjectObs:
    return ObjectObs(label, (x - 20, 400, x + 20, 460), 0.8, frozenset({"hall"}))


def transfer(staff_xs: list[float], n: int = 30, label: str = "suitcase", carried: bool = True) -> list[Observation]:
    out = []
    for i in range(n):
        x = 200 + 10 * i
        tracks = [person(k + 1, sx + 10 * i, staff=True) for k, sx in enumerate(staff_xs)]
        bag_x = x if carried else 900
        out.append(obs(i, tracks, [bag(bag_x if carried else bag_x, label)]))
    return out


def test_cash_box_with_one_escort_is_a_violation_with_the_item_named() -> None:
    changes = run(make_rule(**ESCORT), transfer([200]))
    assert episodes(changes) == [(0.0, 5.8)]
    d = changes[-1].violation.details
    assert d["item"] == "suitcase" and d["min_staff_seen"] == 1 and d["min_staff"] == 2
    assert changes[-1].violation.track_ids == [1]


def test_cash_box_with_two_staff_near_is_fine_and_far_staff_do_not_count() -> None:
    assert run(make_rule(**ESCORT), transfer([200, 260])) == []
    # the second staff member is 400 px away: beyond 0.25 x 1000 px
    changes = run(make_rule(**ESCORT), transfer([200, 600]))
    assert len(episodes(changes)) == 1 and changes[-1].violation.details["min_staff_seen"] == 1


def test_a_bag_nobody_carries_or_of_another_class_is_not_a_transfer() -> None:
    assert run(make_rule(**ESCORT), transfer([200], carried=False)) == []
    assert run(make_rule(**ESCORT), transfer([200], label="umbrella")) == []
    own = run(make_rule(**{**ESCORT, "item_classes": ["cash_box"]}), transfer([200], label="cash_box"))
    assert own and own[-1].violation.details["item"] == "cash_box"


# --------------------------------------------------------------------------- intrusion

INTRUSION: dict[str, Any] = {"type": "intrusion", "zone": "vault"}


def in_vault(staff: bool | None, t0: datetime, n: int = 40) -> list[Observation]:
    out = []
    for i in range(n):
        inside = 5 <= i < 30
        z = ZoneState("vault", ZoneKind.generic, persons=1, staff=1 if staff else 0,
                      staff_track_ids=(7,) if staff else (), undecided_track_ids=() if staff else (7,)) \
            if inside else ZoneState("vault", ZoneKind.generic)
        out.append(obs(i, zones={"vault": z}, t0=t0))
    return out


def test_intrusion_after_hours_flags_staff_and_strangers_alike() -> None:
    night = WED_9.replace(hour=21)
    for staff in (True, None):
        changes = run(make_rule(SITE, **INTRUSION), in_vault(staff, night))
        assert episodes(changes, night) == [(1.0, 6.0)]
        assert changes[-1].violation.track_ids == [7]
        assert changes[-1].violation.details == {"persons": 1}


def test_intrusion_is_quiet_in_business_hours() -> None:
    assert run(make_rule(SITE, **INTRUSION), in_vault(True, WED_9)) == []


# --------------------------------------------------------------------------- counter items, attended or not


def counter_with_teller(n: int = 60) -> list[Observation]:
    cash = ItemObs(1, (0.3, 0.41, 0.35, 0.45), "cash", "counter_top", WED_9)
    zones = {
        "counter_top": ZoneState("counter_top", ZoneKind.counter, items=(cash,)),
        "teller_area": ZoneState("teller_area", ZoneKind.teller_area, persons=1, staff=1, staff_track_ids=(1,)),
    }
    return [obs(i, zones=zones) for i in range(n)]


def test_items_on_the_counter_are_a_violation_with_a_teller_there_when_attended_by_is_null() -> None:
    fields = {"type": "unattended_items", "zone": "counter_top", "grace_s": 5, "when": "always"}
    assert run(make_rule(**fields, attended_by="teller_area"), counter_with_teller()) == []
    changes: list[ViolationChange] = run(make_rule(**fields, attended_by=None), counter_with_teller())
    assert [c.kind for c in changes][0] is ChangeKind.started
    assert episodes(changes) == [(0.0, 11.8)]
    assert changes[-1].violation.details["items"][0]["label"] == "cash"


def test_rules_are_registered() -> None:
    rule: Rule = make_rule(ALWAYS_OPEN, **TAIL)
    assert rule.type.value == "tailgating"


def test_a_person_stepping_out_from_behind_the_first_is_an_entry() -> None:
    """The second person is hidden in the doorway until clear of the first; the tracker may give
    them an id only once they are beside the door zone, touching the first person's box."""
    out = []
    for i in range(40):
        t = i / FPS
        tracks = []
        if 1.0 <= t < 4.0:
            tracks.append(person(1, 300, zones=("door",)))
        if 2.0 <= t < 6.0:
            tracks.append(person(2, 240 - 20 * (t - 2.0)))  # born half-overlapping track 1, outside the zone
        out.append(obs(i, tracks))
    changes = run(make_rule(**TAIL), out)
    assert episodes(changes) == [(1.0, 4.0)]
    assert changes[-1].violation.track_ids == [1, 2]


def test_a_box_born_inside_the_person_in_the_door_is_not_a_second_person() -> None:
    out = []
    for i in range(40):
        t = i / FPS
        tracks = []
        if 1.0 <= t < 4.0:
            tracks.append(person(1, 300, zones=("door",)))
        if 2.0 <= t < 3.0:  # the detector split off the upper body: a box inside the person's
            tracks.append(TrackObs(2, (270, 210, 330, 330), 0.5, None, frozenset()))
        out.append(obs(i, tracks))
    assert run(make_rule(**TAIL), out) == []
