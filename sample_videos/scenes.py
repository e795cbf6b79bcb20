"""The scripted scenarios, their configs (DESIGN.md format) and their ground truth.

Ground truth is not typed in by hand: it is derived from the script, frame by frame, with the
same semantics the pipeline applies (zone anchors by kind, staff by how a person entered, the
rule's schedule, grace and clear times), so that it cannot drift from the pictures. ``start_s``
is when a condition began, ``end_s`` when it cleared (DESIGN.md "Violation record").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

import cv2
import numpy as np

from sample_videos import render as R
from sample_videos.script import DOOR_CX, Actor, Drawn, Placed, Stage

FPS = 10
SITE_ID = "chengguan-01"
TZ = "+08:00"
DAY = "2026-11-25"  # a Wednesday
BUSINESS_HOURS = ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 0)))  # mon-fri, as in the configs
CLEAR_S = 3.0  # the config default (RuleBase.clear_s)
STILL_S = 2.0  # the config default (UnattendedItemsRule.still_s): an item counts once it has lain still this long
TOLERANCE_S = 3


def _nx(px: float) -> float:
    return round(px / (R.W - 1), 3)


def _ny(px: float) -> float:
    return round(px / (R.H - 1), 3)


def _rect(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


TELLER_BOTTOM = _ny(R.DESK_BACK_Y)
M = R.MULLIONS_X
ZONES: list[tuple[str, str, list[tuple[float, float]]]] = [
    ("teller_area", "teller_area", _rect(0.0, 0.0, 1.0, TELLER_BOTTOM)),
    ("seat_1", "teller_area", _rect(_nx(M[0]), 0.0, _nx(M[1]), TELLER_BOTTOM)),
    ("seat_2", "teller_area", _rect(_nx(M[1]), 0.0, _nx(M[2]), TELLER_BOTTOM)),
    ("seat_3", "teller_area", _rect(_nx(M[2]), 0.0, 1.0, TELLER_BOTTOM)),
    ("counter_1", "counter", _rect(_nx(M[0]), _ny(R.DESK_BACK_Y), _nx(M[1]), _ny(R.DESK_FRONT_Y))),
    ("counter_2", "counter", _rect(_nx(M[1]), _ny(R.DESK_BACK_Y), _nx(M[2]), _ny(R.DESK_FRONT_Y))),
    ("counter_3", "counter", _rect(_nx(M[2]), _ny(R.DESK_BACK_Y), 1.0, _ny(R.DESK_FRONT_Y))),
    ("customer_area", "customer_area", _rect(0.0, 0.78, 1.0, 1.0)),
    ("staff_door", "door", _rect(_nx(R.DOOR_X0 - 5), _ny(R.AISLE_Y - 60), _nx(R.DOOR_X1 + 10), _ny(R.AISLE_Y + 40))),
]
# the cash route: the hall floor between the counter and the one-metre line, where a cash box is
# brought in from the street (right) to the staff gate (left); its ends stop short of the picture's
# edges, so that a box (and whoever walks beside it) is in full view while it is on the route
CASH_ROUTE = ("cash_route", "generic", _rect(0.2, _ny(R.COUNTER_FOOT_Y), 0.7, 1.0))
ANCHOR = {"teller_area": "center", "counter": "center", "customer_area": "bottom", "door": "bottom",
          "generic": "bottom"}


@dataclass(frozen=True)
class RuleSpec:
    """One rule of a scene's config; the ground truth applies the same fields."""

    type: str
    zone: str
    grace_s: float
    when: str
    min_staff: int | None = None
    attended_by: str | None = None  # NOBODY: items may not lie there at all
    window_s: float | None = None
    max_persons: int | None = None

    def yaml(self) -> str:
        extra = ""
        if self.min_staff is not None:
            extra += f" min_staff: {self.min_staff},"
        if self.attended_by is not None:
            extra += f" attended_by: {self.attended_by},"
        if self.window_s is not None:
            extra += f" window_s: {self.window_s:g},"
        if self.max_persons is not None:
            extra += f" max_persons: {self.max_persons},"
        grace = f"{self.grace_s:g}"
        if self.type in CAMERA_RULES:  # no zone: the rule watches the picture itself
            return f"- {{type: {self.type}, grace_s: {grace}, when: {self.when}}}"
        return f"- {{type: {self.type}, zone: {self.zone},{extra} grace_s: {grace}, when: {self.when}}}"


NOBODY = "null"  # attended_by: null
CAMERA_RULES = ("camera_tamper", "camera_offline")
TAMPER = RuleSpec("camera_tamper", "camera", 3.0, "always")
OFFLINE = RuleSpec("camera_offline", "camera", 5.0, "always")


def _unattended(k: int, attended_by: str, grace_s: float = 5.0) -> RuleSpec:
    return RuleSpec("unattended_items", f"counter_{k}", grace_s, "business_hours", attended_by=attended_by)


DUAL_TELLER = RuleSpec("dual_teller", "teller_area", 5.0, "business_hours", min_staff=2)
# window 3 is closed: nothing may lie on its desk, whoever sits there
UNATTENDED = [_unattended(1, "seat_1"), _unattended(2, "seat_2"), _unattended(3, NOBODY)]
# the further rules of the regulation run on every scene, so that each is seen to stay quiet
# where its breach is not scripted
TAILGATING = RuleSpec("tailgating", "staff_door", 0.0, "always", window_s=3.0, max_persons=1)
INTRUSION = RuleSpec("intrusion", "teller_area", 1.0, "after_hours")
CASH_ESCORT = RuleSpec("cash_escort", "teller_area", 1.0, "always", min_staff=2)
MORE_RULES = [TAILGATING, INTRUSION, CASH_ESCORT]
ESCORT_RADIUS = 0.25  # the config default (CashEscortRule.radius), a fraction of the frame width
DAY_RULES = [DUAL_TELLER, *UNATTENDED, RuleSpec("non_staff_in_area", "teller_area", 2.0, "always"), *MORE_RULES]
# after closing nobody may be in the teller room without a logged two-person entry that a camera
# cannot verify, so every person there is flagged for review: staff method `nobody` plus this rule
NIGHT_RULES = [RuleSpec("non_staff_in_area", "teller_area", 2.0, "after_hours"), DUAL_TELLER, *UNATTENDED,
               *MORE_RULES]
# the regulation's 大额现金不得放在柜面上: at window 1 cash may not lie on the desk even with the
# teller sitting there
CASH_ON_COUNTER_RULES = [DUAL_TELLER, _unattended(1, NOBODY, 10.0), *UNATTENDED[1:],
                         RuleSpec("non_staff_in_area", "teller_area", 2.0, "always"), *MORE_RULES]

# ----------------------------------------------------------------------------- the cast
# teller A (window 1) stays seated; teller B (window 2) is the one who walks to the staff door
TELLER_A = R.Look("collins", (96, 54, 30), shirt=(236, 236, 236))      # navy jacket, white collar
TELLER_B = R.Look("hopper", None)                                      # navy uniform
CUSTOMER_GREEN = R.Look("hopper", (60, 132, 40), trousers=(96, 74, 52))
CUSTOMER_RED = R.Look("hopper", (44, 44, 150), trousers=(120, 100, 80), flip=True)
CUSTOMER_PLUM = R.Look("collins", (96, 40, 112), shirt=(200, 222, 232), flip=True)
CUSTOMER_BLUE = R.Look("hopper", (170, 110, 40), trousers=(60, 50, 40), flip=True)
NIGHT_VISITOR = R.Look("hopper", (60, 60, 64), trousers=(30, 30, 30))

W1, W2, W3 = R.WINDOW_X
LEFT_EDGE, RIGHT_EDGE = -130.0, R.W + 130.0
LANE = R.HALL_LANE_Y
PASSAGE_X = 84.0
INTRUDER_SPOT_X = 100.0  # where the walk-in customer stops: behind the gate, in the teller room
GATE_Y = float(R.COUNTER_FOOT_Y)  # feet row at the walk-round gate


def _item_y() -> int:
    return (R.DESK_BACK_Y + R.DESK_FRONT_Y) // 2 + 2


def teller(name: str, look: R.Look, window_x: float, seed: int) -> Actor:
    return Actor(name, look, "staff", t=0.0, x=window_x, y=R.SEAT_FLOOR_Y, sit=1.0, sway_seed=seed)


WALK_Y = R.WALK_Y
DOOR_APPROACH_X = R.DOOR_X0 - 20


def leave_by_door(a: Actor, t: float) -> Actor:
    """From the seat: stand up, walk along the desk to the staff door, go through it."""
    a.wait_until(t).stand_up().walk((DOOR_APPROACH_X, WALK_Y), (DOOR_CX, R.AISLE_Y))
    a.exit_door()
    return a


def return_by_door(a: Actor, t: float, seat_x: float) -> Actor:
    a.enter_door(t).walk((DOOR_APPROACH_X, WALK_Y), (seat_x, R.SEAT_FLOOR_Y)).sit_down()
    return a


def customer(name: str, look: R.Look, t: float, from_x: float) -> Actor:
    return Actor(name, look, "customer", t=t, x=from_x, y=LANE)


# ----------------------------------------------------------------------------- scenes
@dataclass(frozen=True)
class Scene:
    name: str
    title: str
    description: str
    duration_s: float
    build: Callable[[], Stage]
    replay_time: str = "10:00:00"
    night: bool = False
    staff_method: str = "entry"
    rules: tuple[RuleSpec, ...] = tuple(DAY_RULES)
    expected: str = ""  # what should fire, in words (README)
    notes: list[str] = field(default_factory=list)
    # the camera itself tampered with: (from_s, to_s, kind), kind "covered" or "moved"
    tamper: tuple[tuple[float, float, str], ...] = ()
    # zones beside the ones every scene has (ZONES)
    zones: tuple[tuple[str, str, list[tuple[float, float]]], ...] = ()
    # video loss in the recording: (last frame before, first frame after); no frames in between
    holes: tuple[tuple[float, float], ...] = ()

    def view(self, t: float) -> str | None:
        """How the camera is tampered with at ``t``, None when its view is as it should be."""
        return next((kind for a, b, kind in self.tamper if a - 1e-9 <= t < b - 1e-9), None)

    @property
    def replay_start(self) -> datetime:
        return datetime.fromisoformat(f"{DAY}T{self.replay_time}{TZ}")

    @property
    def n_frames(self) -> int:
        """Frames in the file (the frames of its holes are not recorded)."""
        return len(self.frame_times)

    @property
    def frame_times(self) -> list[float]:
        """The time of every recorded frame: every 1/FPS s, less the holes."""
        times = (i / FPS for i in range(int(round(self.duration_s * FPS))))
        return [t for t in times if not any(a + 1e-9 < t < b - 1e-9 for a, b in self.holes)]


def _two_tellers() -> Stage:
    a = teller("teller_a", TELLER_A, W1, 1)
    b = teller("teller_b", TELLER_B, W2, 2)
    c1 = customer("customer_1", CUSTOMER_GREEN, 2.0, LEFT_EDGE).walk((W1, LANE)).wait_until(17.0)
    c1.walk((LEFT_EDGE, LANE))
    c1.leave_at(c1.last.t)
    c2 = customer("customer_2", CUSTOMER_RED, 9.0, RIGHT_EDGE).walk((W2, LANE)).wait_until(22.0)
    c2.walk((RIGHT_EDGE, LANE))
    c2.leave_at(c2.last.t)
    y = _item_y()
    items = [
        Placed(R.ItemSpec("cards", W1 - 100, y), 8.0, 14.0),
        Placed(R.ItemSpec("seal", W2 - 100, y), 14.0, 19.5),
    ]
    return Stage("two_tellers", R.build_room(), [a, b, c1, c2], items)


def _teller_leaves() -> Stage:
    a = teller("teller_a", TELLER_A, W1, 1)
    b = teller("teller_b", TELLER_B, W2, 2)
    leave_by_door(b, 8.0)
    b2 = Actor("teller_b_back", TELLER_B, "staff", t=27.0, x=DOOR_CX, y=R.AISLE_Y - 10, door=1.0, sway_seed=2)
    return_by_door(b2, 27.0, W2)
    c1 = customer("customer_1", CUSTOMER_GREEN, 14.0, LEFT_EDGE).walk((W1, LANE)).wait_until(26.0)
    c1.walk((LEFT_EDGE, LANE))
    c1.leave_at(c1.last.t)
    return Stage("teller_leaves", R.build_room(), [a, b, b2, c1])


def _cash_left() -> Stage:
    a = teller("teller_a", TELLER_A, W1, 1)
    b = teller("teller_b", TELLER_B, W2, 2)
    leave_by_door(b, 9.0)
    b2 = Actor("teller_b_back", TELLER_B, "staff", t=30.0, x=DOOR_CX, y=R.AISLE_Y - 10, door=1.0, sway_seed=2)
    return_by_door(b2, 30.0, W2)
    c1 = customer("customer_1", CUSTOMER_RED, 16.0, LEFT_EDGE).walk((W1, LANE)).wait_until(28.0)
    c1.walk((LEFT_EDGE, LANE))
    c1.leave_at(c1.last.t)
    y = _item_y()
    items = [
        Placed(R.ItemSpec("cash", W2 - 96, y), 4.0, 39.0),
        Placed(R.ItemSpec("seal", W2 + 2, y), 5.0, 40.0),
    ]
    return Stage("cash_left", R.build_room(), [a, b, b2, c1], items)


def _walk_in() -> Stage:
    a = teller("teller_a", TELLER_A, W1, 1)
    b = teller("teller_b", TELLER_B, W2, 2)
    c = customer("visitor", CUSTOMER_PLUM, 1.0, LEFT_EDGE).walk((W1, LANE)).wait_until(8.0)
    # round the end of the counter, through the open gate, into the teller room
    c.walk((PASSAGE_X, LANE), (PASSAGE_X, GATE_Y), (INTRUDER_SPOT_X, R.AISLE_Y)).wait_until(20.0)
    c.walk((PASSAGE_X, GATE_Y), (PASSAGE_X, LANE), (LEFT_EDGE, LANE))
    c.leave_at(c.last.t)
    c2 = customer("customer_2", CUSTOMER_BLUE, 4.0, RIGHT_EDGE).walk((W2, LANE)).wait_until(16.0)
    c2.walk((RIGHT_EDGE, LANE))
    c2.leave_at(c2.last.t)
    return Stage("walk_in", R.build_room(), [a, b, c, c2])


def _after_hours() -> Stage:
    v = Actor("night_visitor", NIGHT_VISITOR, "staff", t=4.0, x=DOOR_CX, y=R.AISLE_Y - 10, door=1.0)
    v.enter_door(4.0).walk((DOOR_APPROACH_X, WALK_Y), (W2, WALK_Y)).wait_until(11.0)
    v.walk((W1 + 20, WALK_Y)).wait_until(16.0)
    leave_by_door(v, 17.0)
    return Stage("after_hours", R.build_room(), [v], night=True)


def _busy_counter() -> Stage:
    a = teller("teller_a", TELLER_A, W1, 1)
    b = teller("teller_b", TELLER_B, W2, 2)
    leave_by_door(b, 25.0)
    b2 = Actor("teller_b_back", TELLER_B, "staff", t=40.0, x=DOOR_CX, y=R.AISLE_Y - 10, door=1.0, sway_seed=2)
    return_by_door(b2, 40.0, W2)
    c1 = customer("customer_1", CUSTOMER_GREEN, 1.0, LEFT_EDGE).walk((W1, LANE)).wait_until(16.0)
    c1.walk((LEFT_EDGE, LANE))
    c1.leave_at(c1.last.t)
    c2 = customer("customer_2", CUSTOMER_RED, 6.0, RIGHT_EDGE).walk((W2, LANE)).wait_until(20.0)
    c2.walk((RIGHT_EDGE, LANE))
    c2.leave_at(c2.last.t)
    c3 = customer("customer_3", CUSTOMER_PLUM, 27.0, RIGHT_EDGE).walk((W1, LANE)).wait_until(38.0)
    c3.walk((PASSAGE_X, LANE), (PASSAGE_X, GATE_Y), (INTRUDER_SPOT_X, R.AISLE_Y)).wait_until(50.0)
    c3.walk((PASSAGE_X, GATE_Y), (PASSAGE_X, LANE), (LEFT_EDGE, LANE))
    c3.leave_at(c3.last.t)
    c4 = customer("customer_4", CUSTOMER_BLUE, 47.0, RIGHT_EDGE).walk((W2, LANE)).wait_until(60.0)
    y = _item_y()
    items = [
        Placed(R.ItemSpec("cards", W1 - 100, y), 7.0, 13.0),
        Placed(R.ItemSpec("cash", W2 - 96, y), 22.0, 48.0),
        Placed(R.ItemSpec("seal", W2 + 2, y), 23.0, 49.0),
    ]
    return Stage("busy_counter", R.build_room(), [a, b, b2, c1, c2, c3, c4], items)


def _tailgating() -> Stage:
    a = teller("teller_a", TELLER_A, W1, 1)
    b = teller("teller_b", TELLER_B, W2, 2)
    # two staff come in through the staff door on one opening: the second right behind the first
    c = Actor("staff_c", TELLER_A, "staff", t=5.0, x=DOOR_CX, y=R.AISLE_Y - 10, door=1.0, sway_seed=3)
    c.enter_door(5.0).walk((DOOR_APPROACH_X, WALK_Y), (860.0, WALK_Y)).wait_until(24.0)
    # the second comes through 2.4 s after the first, once the first has stepped out of the doorway
    d = Actor("staff_d", TELLER_B, "staff", t=7.4, x=DOOR_CX, y=R.AISLE_Y - 10, door=1.0, sway_seed=4)
    d.enter_door(7.4).walk((DOOR_APPROACH_X, WALK_Y), (1010.0, WALK_Y)).wait_until(24.0)
    return Stage("tailgating", R.build_room(), [a, b, c, d])


def _cash_on_counter() -> Stage:
    a = teller("teller_a", TELLER_A, W1, 1)
    b = teller("teller_b", TELLER_B, W2, 2)
    y = _item_y()
    items = [
        # counted out and left lying for 16 s, on the side of the desk clear of her (a person box hides
        # what lies under it from the counter watcher)
        Placed(R.ItemSpec("cash", W1 + 130, y), 4.0, 20.0),
        Placed(R.ItemSpec("cards", W2 - 100, y), 6.0, 12.0),  # attended by her teller: allowed
    ]
    return Stage("cash_on_counter", R.build_room(), [a, b], items)


def _tampered() -> Stage:
    a = teller("teller_a", TELLER_A, W1, 1)
    b = teller("teller_b", TELLER_B, W2, 2)
    # a customer walks past the windows before anything happens: people are not tampering
    c = customer("customer_1", CUSTOMER_GREEN, 1.0, LEFT_EDGE).walk((RIGHT_EDGE, LANE))
    c.leave_at(c.last.t)
    return Stage("camera_tamper", R.build_room(), [a, b, c])


CARRIER = R.Look("hopper", (70, 70, 72), trousers=(40, 40, 44))   # security grey
ESCORT = R.Look("collins", (96, 54, 30), shirt=(236, 236, 236))       # navy jacket, white collar
CASE_DX = 120      # the cash box rolls this far behind the carrier (they walk to the left)
ESCORT_DX = 240    # the escort walks this far behind the box
ROUTE_Y = 692.0    # feet row on the hall floor, between the counter and the one-metre line
CARRY_PX_S = 120.0  # pulling a heavy box: slower than a walk


def _cash_escort() -> Stage:
    # a cash box brought in alone: from the street side (right), a stop at window 2, on to the staff
    # gate (left)
    a = Actor("carrier_alone", CARRIER, "staff", t=1.0, x=RIGHT_EDGE, y=ROUTE_Y).carrying(CASE_DX)
    a.walk((W2 - 210, ROUTE_Y), speed=CARRY_PX_S).wait_until(13.0)
    a.walk((LEFT_EDGE - CASE_DX - 130, ROUTE_Y), speed=CARRY_PX_S)
    a.leave_at(a.last.t)
    # the next one as it should be: the escort walks behind the box, within reach of it
    b = Actor("carrier", CARRIER, "staff", t=20.0, x=RIGHT_EDGE, y=ROUTE_Y).carrying(CASE_DX)
    b.walk((LEFT_EDGE - CASE_DX - ESCORT_DX, ROUTE_Y), speed=CARRY_PX_S)
    b.leave_at(b.last.t)
    e = Actor("escort", ESCORT, "staff", t=20.0, x=RIGHT_EDGE + CASE_DX + ESCORT_DX, y=ROUTE_Y)
    e.walk((LEFT_EDGE, ROUTE_Y), speed=CARRY_PX_S)
    e.leave_at(e.last.t)
    return Stage("cash_escort", R.build_room(), [a, b, e])


def _video_loss() -> Stage:
    a = teller("teller_a", TELLER_A, W1, 1)
    b = teller("teller_b", TELLER_B, W2, 2)
    c1 = customer("customer_1", CUSTOMER_GREEN, 1.0, LEFT_EDGE).walk((W1, LANE)).wait_until(7.0)
    c1.walk((LEFT_EDGE, LANE))
    c1.leave_at(c1.last.t)
    # served at window 2 after the recording comes back
    c2 = customer("customer_2", CUSTOMER_RED, 19.0, RIGHT_EDGE).walk((W2, LANE)).wait_until(28.0)
    c2.walk((RIGHT_EDGE, LANE))
    c2.leave_at(c2.last.t)
    return Stage("camera_offline", R.build_room(), [a, b, c1, c2])


def tampered_frame(frame: np.ndarray, kind: str | None) -> np.ndarray:
    """The picture a tampered camera sends, in integer arithmetic (reproducible bytes):
    ``covered``, a hand over the lens (a little light leaks round it); ``moved``, the camera knocked
    aside: the view shifted by 15 % of the width and 10 % of the height, edges smeared."""
    if kind is None:
        return frame
    if kind == "covered":
        return (frame // 24).astype(np.uint8)
    if kind == "moved":
        h, w = frame.shape[:2]
        dx, dy = w * 15 // 100, h * 10 // 100
        return np.pad(frame[: h - dy, : w - dx], ((dy, 0), (dx, 0), (0, 0)), mode="edge")
    raise ValueError(f"unknown tampering {kind!r}")


SCENES: list[Scene] = [
    Scene("two_tellers", "Two tellers, customers served", "Two tellers stay at windows 1 and 2 while two "
          "customers are served; cards and a seal lie on the counter only while their teller sits there.",
          25.0, _two_tellers, expected="nothing"),
    Scene("teller_leaves", "One teller leaves", "The teller at window 2 stands up, leaves through the staff door "
          "at the back and comes back 14 s later; the other teller stays.", 40.0, _teller_leaves,
          expected="dual_teller while the second teller is away"),
    Scene("cash_left", "Cash left on the counter", "The teller at window 2 puts two bundles of notes and her "
          "seal on the counter, then leaves through the staff door without locking them away; she comes back "
          "and clears the counter.", 45.0, _cash_left,
          expected="unattended_items on counter_2 from when she leaves her seat until she is back in it; "
          "dual_teller while she is out of the room"),
    Scene("walk_in", "A customer walks into the teller room", "A customer at window 1 walks round the end of "
          "the counter, through the open staff gate, stands in the teller room, then goes back out.", 32.0,
          _walk_in, expected="non_staff_in_area while the customer is inside"),
    Scene("after_hours", "Someone in the teller room at night", "21:00 on a weekday, the branch closed and the "
          "lights dimmed: a person comes in through the staff door, walks along both windows and leaves.",
          28.0, _after_hours, replay_time="21:00:00", night=True, staff_method="nobody",
          rules=tuple(NIGHT_RULES),
          expected="non_staff_in_area (after hours nobody counts as authorised staff) while the person is "
          "inside; no dual_teller, since the counter is closed"),
    Scene("busy_counter", "A busy counter", "Four customers come and go; the window-2 teller leaves cash and "
          "her seal out while she steps out through the staff door, and a customer walks round into the "
          "teller room.", 60.0, _busy_counter,
          expected="dual_teller and unattended_items (counter_2) while the window-2 teller is away; "
          "non_staff_in_area while the customer is inside"),
    Scene("tailgating", "Two through the staff door at once", "Two members of staff come into the teller room "
          "through the staff door on one opening, the second close behind the first, and walk to window 3.",
          20.0, _tailgating, expected="tailgating from the first one's entry until the second has left the "
          "door zone"),
    Scene("night_entry", "A teller back at night", "21:00 on a weekday, the branch closed: a teller comes in "
          "through the staff door, walks along both windows and leaves. She is staff, but the branch is armed.",
          28.0, _after_hours, replay_time="21:00:00", night=True, rules=tuple(NIGHT_RULES),
          expected="intrusion while she is inside (staff or not); no non_staff_in_area, since she came "
          "through the staff door"),
    Scene("cash_on_counter", "Cash left out in front of the teller", "The window-1 teller counts out two bundles "
          "of notes and leaves them on the desk for 16 s while she sits there; window 1's desk must hold no "
          "cash at all (attended_by: null).", 26.0, _cash_on_counter, rules=tuple(CASH_ON_COUNTER_RULES),
          expected="unattended_items on counter_1 while the cash lies there, although the teller is seated"),
    Scene("camera_tamper", "The camera tampered with", "Two tellers at their windows, a customer walks past; "
          "at 8 s a hand covers the lens for ten seconds, and as it comes away the camera is knocked aside and "
          "stays pointing off its view.", 30.0, _tampered, rules=(*DAY_RULES, TAMPER),
          tamper=((8.0, 18.0, "covered"), (18.0, 30.0, "moved")),
          expected="camera_tamper covered while the lens is covered, then camera_tamper moved to the end; "
          "the other rules pause while the view is tampered (no empty counter is reported)"),
    Scene("cash_escort", "A cash box brought in without an escort", "08:10, before opening: a cash box is pulled "
          "across the hall from the street side to the staff gate by one person alone, who stops at window 2 on "
          "the way; later another is brought in the same way with an escort walking right behind it.", 37.0,
          _cash_escort, replay_time="08:10:00", staff_method="everyone",
          rules=(*DAY_RULES, RuleSpec("cash_escort", "cash_route", 1.0, "always", min_staff=2)),
          zones=(CASH_ROUTE,),
          expected="cash_escort on cash_route while the box brought in alone is on the route; nothing while "
          "the escorted one is"),
    Scene("camera_offline", "Video loss in the recording", "An NVR recording of two tellers at their windows "
          "serving customers; the recorder lost the camera's signal for 12 s, so the file has no frames "
          "between 10:00:10 and 10:00:22 (its time stamps jump).", 32.0, _video_loss, rules=(*DAY_RULES, OFFLINE),
          holes=((10.0, 22.0),),
          expected="camera_offline from the last frame before the hole (10.0 s) to the first one after it "
          "(22.0 s), counted in media time; nothing else"),
]
BY_NAME = {s.name: s for s in SCENES}


# ----------------------------------------------------------------------------- config
def config_yaml(scene: Scene, video_name: str) -> str:
    """The scene's camera config, in DESIGN.md's format, with comments for whoever opens it."""
    zone_lines = []
    for name, kind, poly in (*ZONES, *scene.zones):
        pts = ", ".join(f"[{x:.3f}, {y:.3f}]" for x, y in poly)
        zone_lines.append(f"      - {{name: {name + ',':<14} kind: {kind + ',':<14} polygon: [{pts}]}}")
    rules = []
    if scene.staff_method == "nobody":
        rules += [
            "      # after closing nobody may be in the teller room without a logged, two-person entry that",
            "      # a camera cannot verify: every person there is flagged for review (staff method nobody)",
        ]
    rules += [f"      {r.yaml()}" for r in scene.rules]
    staff_comment = {
        "nobody": "# every person counts as non-staff: see the rule comment below",
        "everyone": "# before opening only staff and the cash van's crew are about: everyone counts as staff",
    }.get(scene.staff_method,
          "# staff appear at their seats or come through the staff door; customers come from the hall")
    lines = [
        f"# Sample scene '{scene.name}': {scene.title}.",
        f"# {scene.description}",
        f"# Expected: {scene.expected}.",
        "# Generated by `python -m sample_videos.generate`; edit sample_videos/scenes.py, not this file.",
        "site:",
        f"  id: {SITE_ID}",
        "  name: 城关信用社营业部 (sample scenes)",
        "  timezone: Asia/Shanghai",
        "  business_hours:",
        '    mon-fri: ["08:30-12:00", "13:30-17:00"]',
        "detector:",
        "  type: ssd-mobilenet",
        "  confidence: 0.4",
        "cameras:",
        f"  - id: {scene.name}",
        f"    source: {video_name}",
        f'    replay_start: "{scene.replay_start.isoformat()}"',
        "    analysis_fps: 5",
        "    zones:",
        "      # teller_area: the teller room behind the desk; seat_N: window N's teller position;",
        "      # counter_N: window N's desk top; a seated teller's box centre lies in seat_N",
        *zone_lines,
        "    staff:",
        f"      method: {scene.staff_method}   {staff_comment}",
        "    rules:",
        "      # unattended_items: the regulation binds each teller's own cash, seal and cards to their own",
        "      # position (临时离柜…入箱加锁), so each window's desk is attended by that window's seat only",
        *rules,
    ]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- ground truth
def _zone_px(poly: list[tuple[float, float]]) -> np.ndarray:
    pts = np.round(np.asarray(poly, np.float64) * np.array([R.W - 1, R.H - 1])).astype(np.int32)
    return pts.reshape(-1, 1, 2)


ZONES_PX = {name: (kind, _zone_px(poly)) for name, kind, poly in (*ZONES, CASH_ROUTE)}


def _inside(zone: str, box: tuple[int, int, int, int]) -> bool:
    kind, poly = ZONES_PX[zone]
    x0, y0, x1, y1 = box
    # the pipeline clips boxes to the frame; a box spans pixels x0..x1-1
    px = (x0 + x1 - 1) / 2.0
    py = (y0 + y1 - 1) / 2.0 if ANCHOR[kind] == "center" else float(min(y1, R.H) - 1)
    return cv2.pointPolygonTest(poly, (float(px), float(py)), False) >= 0


def in_business_hours(ts: datetime) -> bool:
    if ts.weekday() >= 5:
        return False
    return any(a <= ts.time() < b for a, b in BUSINESS_HOURS)


@dataclass(frozen=True)
class FrameTruth:
    t: float
    drawn: list[Drawn]
    items: list[tuple[str, tuple[int, int, int, int], float]]  # kind, box, when it was put down
    door: dict[str, float]


def present(d: Drawn, door: float) -> bool:
    """Would a person count as in the picture: mostly out of the doorway, body in the frame."""
    if d.box is None or door >= 0.5:
        return False
    x0, y0, x1, y1 = d.box
    cx = (x0 + x1) / 2
    return 0 <= cx < R.W and (x1 - x0) >= 40


def frame_conditions(scene: Scene, ft: FrameTruth) -> dict[tuple[str, str], bool]:
    ts = scene.replay_start + timedelta(seconds=ft.t)
    open_hours = in_business_hours(ts)
    persons = [d for d in ft.drawn if present(d, ft.door.get(d.name, 0.0))]

    def staff(d: Drawn) -> bool:
        return scene.staff_method == "everyone" or (scene.staff_method != "nobody" and d.role == "staff")

    def count(zone: str, want_staff: bool) -> int:
        return sum(1 for d in persons if d.box and staff(d) == want_staff and _inside(zone, d.box))

    out: dict[tuple[str, str], bool] = {}
    for rule in scene.rules:
        active = {"always": True, "business_hours": open_hours, "after_hours": not open_hours}[rule.when]
        if rule.type == "dual_teller":
            cond = count(rule.zone, True) < (rule.min_staff or 2)
        elif rule.type == "unattended_items":
            items = [box for _, box, since in ft.items if _inside(rule.zone, box) and ft.t - since >= STILL_S - 1e-9]
            cond = bool(items) and (rule.attended_by == NOBODY or count(rule.attended_by or "", True) == 0)
        elif rule.type == "non_staff_in_area":
            cond = count(rule.zone, False) > 0
        elif rule.type == "intrusion":
            cond = count(rule.zone, False) + count(rule.zone, True) > 0
        elif rule.type == "cash_escort":
            cond = any(_unescorted(box, rule, persons, staff) for box in (d.case for d in persons) if box)
        elif rule.type == "tailgating":
            cond = False  # a matter of entries, not of one frame: see tailgating_flags
        elif rule.type in CAMERA_RULES:
            cond = False  # camera_tamper: one violation per kind; camera_offline: the holes (ground_truth)
        else:
            raise ValueError(f"unknown rule type {rule.type!r}")
        out[(rule.type, rule.zone)] = active and cond
    return out


def _centre(box: tuple[int, int, int, int]) -> tuple[float, float]:
    return (box[0] + box[2] - 1) / 2.0, (box[1] + box[3] - 1) / 2.0


def _unescorted(case: tuple[int, int, int, int], rule: RuleSpec, persons: list[Drawn],
                staff: Callable[[Drawn], bool]) -> bool:
    """A carried box on the rule's zone with fewer than ``min_staff`` staff within reach (the rule's
    test: someone's box overlaps it; staff box centres within ``ESCORT_RADIUS`` of the frame width)."""
    if not _inside(rule.zone, case):
        return False
    boxes = [d.box for d in persons if d.box]
    if not any(min(b[2], case[2]) > max(b[0], case[0]) and min(b[3], case[3]) > max(b[1], case[1]) for b in boxes):
        return False
    cx, cy = _centre(case)
    near = sum(1 for d in persons if d.box and staff(d)
               and math.dist(_centre(d.box), (cx, cy)) <= ESCORT_RADIUS * R.W)
    return near < (rule.min_staff or 2)


def episodes(flags: list[bool], times: list[float], grace: float, clear: float) -> list[tuple[float, float]]:
    """Condition runs over the frames at ``times`` -> (start_s, end_s), joining gaps shorter than
    ``clear`` and dropping runs shorter than ``grace``; a run still on at the end closes at the
    last frame."""
    runs: list[list[float]] = []
    start = None
    for i, f in enumerate(flags):
        if f and start is None:
            start = i
        if not f and start is not None:
            runs.append([times[start], times[i]])
            start = None
    if start is not None:
        runs.append([times[start], times[len(flags) - 1]])
    merged: list[list[float]] = []
    for r in runs:
        if merged and r[0] - merged[-1][1] < clear:
            merged[-1][1] = r[1]
        else:
            merged.append(r)
    return [(round(a, 1), round(b, 1)) for a, b in merged if b - a >= grace]


def tailgating_flags(scene: Scene, rule: RuleSpec, truths: list[FrameTruth]) -> list[bool]:
    """The rule's condition per frame: from the first entry of a group of more than
    ``max_persons`` persons entering the door zone within ``window_s`` to the last one's exit."""
    inside: dict[str, list[bool]] = {}
    for i, ft in enumerate(truths):
        for d in ft.drawn:
            here = present(d, ft.door.get(d.name, 0.0)) and d.box is not None and _inside(rule.zone, d.box)
            inside.setdefault(d.name, [False] * len(truths))[i] = here
    entries = sorted((i, name) for name, f in inside.items()
                     for i in range(len(f)) if f[i] and (i == 0 or not f[i - 1]))
    window = int(round((rule.window_s or 3.0) * FPS))
    flags = [False] * len(truths)
    for k, (i, _) in enumerate(entries):
        group = [e for e in entries[: k + 1] if i - e[0] <= window]
        if len({n for _, n in group}) <= (rule.max_persons or 1):
            continue
        first = min(e[0] for e in group)
        last = max(j for _, n in group for j in range(len(truths)) if inside[n][j])
        for j in range(first, last + 1):
            flags[j] = True
    return flags


def _camera_truth(scene: Scene, rule: RuleSpec, times: list[float], tampered: list[str | None]) -> list[dict]:
    """The rules about the camera itself: ``camera_tamper`` one violation per kind of tampering,
    ``camera_offline`` each hole of the recording of at least ``grace_s``, from the last frame
    before it to the first after it."""
    name, zone = rule.type, rule.zone
    if name == "camera_offline":
        return [{"camera": scene.name, "rule": name, "zone": zone, "start_s": a, "end_s": b}
                for a, b in scene.holes if b - a >= rule.grace_s]
    out = []
    for kind in sorted({k for k in tampered if k is not None}):
        flags = [k == kind for k in tampered]
        for a, b in episodes(flags, times, rule.grace_s, CLEAR_S):
            out.append({"camera": scene.name, "rule": name, "zone": zone, "kind": kind, "start_s": a, "end_s": b})
    return out


def ground_truth(scene: Scene, truths: list[FrameTruth]) -> dict:
    per_frame = [frame_conditions(scene, ft) for ft in truths]
    for rule in scene.rules:
        if rule.type == "tailgating":
            for fc, flag in zip(per_frame, tailgating_flags(scene, rule, truths), strict=True):
                fc[(rule.type, rule.zone)] = flag
    keys = sorted({k for fc in per_frame for k in fc})
    by_key = {(r.type, r.zone): r for r in scene.rules}
    times = [ft.t for ft in truths]
    violations = []
    tampered = [scene.view(ft.t) for ft in truths]
    if any(tampered):
        # the other rules pause while the view is tampered: neither hold nor clear (sample and hold)
        for i, kind in enumerate(tampered):
            if kind is not None and i > 0:
                per_frame[i] = dict(per_frame[i - 1])
    for rule, zone in keys:
        if rule in CAMERA_RULES:
            violations += _camera_truth(scene, by_key[(rule, zone)], times, tampered)
            continue
        flags = [fc.get((rule, zone), False) for fc in per_frame]
        for a, b in episodes(flags, times, by_key[(rule, zone)].grace_s, CLEAR_S):
            violations.append({"camera": scene.name, "rule": rule, "zone": zone, "start_s": a, "end_s": b})
    violations.sort(key=lambda v: (v["start_s"], v["rule"], v["zone"]))
    return {
        "tolerance_s": TOLERANCE_S,
        "scene": scene.name,
        "description": scene.description,
        "expected": scene.expected,
        "duration_s": scene.duration_s,
        "fps": FPS,
        "violations": violations,
    }
