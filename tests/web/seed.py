"""Seed data for the page tests: a drawn teller-counter picture, real H.264 clips encoded with
PyAV, violations pushed through ``POST /events`` the way a pipeline pushes them, camera frames,
zones and live zone counts.

The pictures are drawn here (no third-party footage), so screenshots need no attribution.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import av
import cv2
import httpx
import numpy as np

PASSWORD = "correct horse battery"
INGEST_KEY = "web-test-ingest-key-0123456789"
USERS = {
    "op": ("operator", None),
    "head-a": ("branch_head", "site-a"),
    "head-b": ("branch_head", "site-b"),
    "eng": ("engineer", None),
    "adm": ("admin", None),
}
DAY = "2026-11-26"
WEEK_AGO = "2026-11-19"
ZONES_COUNTER_1 = [
    {"name": "teller_area", "kind": "teller_area", "polygon": [[0.03, 0.2], [0.84, 0.2], [0.84, 0.5], [0.03, 0.5]]},
    {"name": "counter_top", "kind": "counter", "polygon": [[0.02, 0.5], [0.98, 0.5], [0.98, 0.58], [0.02, 0.58]]},
    {"name": "customer_area", "kind": "customer_area", "polygon": [[0.0, 0.62], [1.0, 0.62], [1.0, 1.0], [0.0, 1.0]]},
    {"name": "staff_door", "kind": "door", "polygon": [[0.86, 0.14], [0.97, 0.14], [0.97, 0.5], [0.86, 0.5]]},
]


# ------------------------------------------------------------------------------------ pictures
def _person(
    img: np.ndarray, cx: float, head_y: float, scale: float, shirt: tuple[int, int, int], seated: bool = True
) -> tuple[int, int, int, int]:
    """A simple figure (head, neck, shoulders, torso); returns its box in pixels."""
    h, w = img.shape[:2]
    x, y, s = int(cx * w), int(head_y * h), scale * h
    r = int(0.042 * s)
    bottom = y + int(0.26 * s)
    sh = y + int(2.3 * r)
    cv2.ellipse(img, (x, sh + r // 2), (int(2.5 * r), int(1.1 * r)), 0, 180, 360, shirt, -1, cv2.LINE_AA)
    cv2.rectangle(img, (x - int(2.5 * r), sh + r // 2), (x + int(2.5 * r), bottom), shirt, -1, cv2.LINE_AA)
    cv2.rectangle(img, (x - int(0.42 * r), y + r // 2), (x + int(0.42 * r), sh), (128, 150, 190), -1)
    cv2.circle(img, (x, y), r, (140, 165, 205), -1, cv2.LINE_AA)
    cv2.ellipse(img, (x, y - r // 4), (r + 1, int(0.85 * r)), 0, 180, 360, (38, 38, 44), -1, cv2.LINE_AA)
    if seated:  # white collar of the uniform
        pts = np.array([[x - r, sh - r // 3], [x, sh + int(0.9 * r)], [x + r, sh - r // 3]], np.int32)
        cv2.polylines(img, [pts], False, (235, 235, 235), max(1, r // 5), cv2.LINE_AA)
    return x - int(2.7 * r), y - r - 2, x + int(2.7 * r), bottom


def counter_scene(
    width: int,
    height: int,
    t: float = 0.0,
    stamp: str = "2026-11-26 09:00:07",
    camera: str = "counter-1",
    annotate: bool = False,
) -> np.ndarray:
    """A teller counter from a high camera in the customer hall: back wall, staff door, two
    tellers behind the desk, cash on the counter, a glass partition and a customer in the hall."""
    w, h = width, height
    img: np.ndarray = np.full((h, w, 3), (120, 125, 130), np.uint8)
    wall = np.linspace(205, 178, int(0.5 * h)).astype(np.uint8)[:, None]
    img[: int(0.5 * h)] = np.stack([wall * 0.93, wall * 0.97, wall], axis=-1).astype(np.uint8)
    floor = np.linspace(150, 118, h - int(0.58 * h)).astype(np.uint8)[:, None]
    img[int(0.58 * h) :] = np.stack([floor * 0.92, floor * 0.95, floor], axis=-1).astype(np.uint8)
    cv2.rectangle(img, (0, int(0.075 * h)), (w, int(0.115 * h)), (120, 80, 30), -1)  # bank-blue frieze
    for k, label in enumerate(("1", "2", "3")):
        cv2.putText(
            img,
            label,
            (int((0.185 + 0.31 * k) * w), int(0.105 * h)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.0008 * w,
            (235, 235, 235),
            max(1, w // 640),
            cv2.LINE_AA,
        )
    cv2.rectangle(img, (int(0.86 * w), int(0.14 * h)), (int(0.97 * w), int(0.5 * h)), (60, 80, 105), -1)  # staff door
    cv2.rectangle(img, (int(0.86 * w), int(0.14 * h)), (int(0.97 * w), int(0.5 * h)), (40, 55, 75), max(1, w // 400))
    cv2.circle(img, (int(0.955 * w), int(0.33 * h)), max(2, w // 250), (170, 190, 210), -1, cv2.LINE_AA)
    for i, cx in enumerate((0.22, 0.52)):  # tellers, swaying a little
        _person(img, cx + 0.004 * np.sin(t * 2 + i), 0.3, 1.0, (95, 60, 35) if i == 0 else (90, 55, 30))
    cv2.rectangle(img, (int(0.02 * w), int(0.5 * h)), (int(0.98 * w), int(0.58 * h)), (200, 205, 210), -1)  # desk
    cv2.line(img, (int(0.02 * w), int(0.5 * h)), (int(0.98 * w), int(0.5 * h)), (150, 155, 160), max(1, w // 500))
    cv2.rectangle(img, (int(0.63 * w), int(0.515 * h)), (int(0.70 * w), int(0.555 * h)), (80, 140, 60), -1)  # cash
    cv2.rectangle(img, (int(0.635 * w), int(0.52 * h)), (int(0.695 * w), int(0.55 * h)), (110, 170, 90), -1)
    glass = img.copy()  # partition
    cv2.rectangle(glass, (int(0.02 * w), int(0.12 * h)), (int(0.98 * w), int(0.58 * h)), (235, 225, 200), -1)
    img = cv2.addWeighted(glass, 0.12, img, 0.88, 0)
    for mx in (0.02, 0.37, 0.67, 0.98):
        cv2.line(img, (int(mx * w), int(0.12 * h)), (int(mx * w), int(0.58 * h)), (150, 150, 150), max(1, w // 320))
    cv2.rectangle(img, (0, int(0.58 * h)), (w, int(0.8 * h)), (60, 95, 135), -1)  # counter front, wood
    for i in range(0, w, max(8, w // 16)):
        cv2.line(img, (i, int(0.58 * h)), (i, int(0.8 * h)), (50, 82, 118), 1)
    cx = 0.3 + 0.05 * np.sin(t / 1.5)
    box = _person(img, cx, 0.66, 1.25, (70, 70, 150), seated=False)  # customer
    cv2.rectangle(img, (0, int(0.96 * h)), (w, h), (30, 30, 30), -1)
    font, fs, th = cv2.FONT_HERSHEY_SIMPLEX, 0.0008 * w, max(1, w // 640)
    cv2.rectangle(img, (0, 0), (int(0.3 * w), int(0.06 * h)), (25, 25, 25), -1)
    cv2.putText(img, stamp, (int(0.012 * w), int(0.045 * h)), font, fs, (255, 255, 255), th, cv2.LINE_AA)
    cv2.putText(img, camera.upper(), (int(0.015 * w), int(0.988 * h)), font, fs * 0.9, (230, 230, 230), th, cv2.LINE_AA)
    if annotate:
        for z in ZONES_COUNTER_1[:2]:
            pts = (np.array(z["polygon"]) * [w, h]).astype(np.int32)
            cv2.polylines(
                img, [pts], True, (235, 120, 40) if z["kind"] == "teller_area" else (0, 160, 230), 2, cv2.LINE_AA
            )
        cv2.rectangle(img, box[:2], box[2:], (40, 40, 220), 2, cv2.LINE_AA)
        cv2.putText(img, "non-staff #7", (box[0], box[1] - 6), font, fs * 0.8, (40, 40, 220), th, cv2.LINE_AA)
    return img


def jpeg(img: np.ndarray, quality: int = 85) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encode failed")
    return buf.tobytes()


def h264_clip(
    seconds: float = 3.0, fps: int = 10, width: int = 480, height: int = 270, annotate: bool = False
) -> bytes:
    """A real H.264 / yuv420p MP4 with the index at the front, as the evidence recorder writes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        _encode(path, seconds, fps, width, height, annotate)
        return path.read_bytes()


def _encode(path: Path, seconds: float, fps: int, width: int, height: int, annotate: bool) -> None:
    # faststart rewrites the file at close, so it needs a real path rather than a buffer
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for i in range(int(seconds * fps)):
            t = i / fps
            stamp = f"2026-11-26 09:00:{7 + int(t):02d}"
            picture = counter_scene(width, height, t, stamp, annotate=annotate)
            frame = av.VideoFrame.from_ndarray(picture, format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def evidence_snapshot(rec: dict[str, Any], width: int = 1280, height: int = 720) -> np.ndarray:
    """The snapshot a pipeline files for ``rec``: the raw scene with the evidence overlay drawn by
    ``vision.evidence.Renderer`` (offending zone in red, bilingual rule label, roles, items)."""
    import supervision as sv

    from vision.evidence.overlay import Focus, Overlay, Renderer, ZoneCount, ZoneOverlay

    stamp = rec["started_at"][:19].replace("T", " ")
    img = counter_scene(width, height, 0.0, stamp, rec["camera"])
    scratch = np.zeros_like(img)
    tellers = [_person(scratch, cx, 0.3, 1.0, (0, 0, 0)) for cx in (0.22, 0.52 + 0.004 * np.sin(1))]
    customer = _person(scratch, 0.3, 0.66, 1.25, (0, 0, 0), seated=False)
    rule = rec["rule"]
    by_rule = {"dual_teller": [True, None, False], "non_staff_in_area": [True, False, False]}
    roles = by_rule.get(rule, [True, True, False])
    persons = sv.Detections(xyxy=np.array([*tellers, customer], float), tracker_id=np.array([3, 5, 7]),
                            data={"is_staff": np.array(roles, dtype=object)})
    zones = tuple(ZoneOverlay(z["name"], z["kind"], np.array(z["polygon"], float) * [width, height])
                  for z in ZONES_COUNTER_1)
    items = sv.Detections.empty()
    if rule == "unattended_items":
        items = sv.Detections(xyxy=np.array([[0.63 * width, 0.515 * height, 0.70 * width, 0.555 * height]]))
    staff = sum(1 for r in roles[:2] if r is True)
    counts = {"teller_area": ZoneCount(2, staff), "counter_top": ZoneCount(0, 0)}
    overlay = Overlay(zones, persons, (), items, ("item",) * len(items), (), counts)
    focus = Focus(rule, rec["zone"], "active", min(8.0, float(rec["duration_s"])), min_staff=2)
    ts = datetime.fromisoformat(rec["started_at"])
    return Renderer(width, height).draw(img, overlay, ts=ts, focus=focus)


# ------------------------------------------------------------------------------------ records
@dataclass
class Seeded:
    """What the tests expect to find: ids by name, and the site-a day's expected numbers."""

    ids: dict[str, str] = field(default_factory=dict)
    site_of: dict[str, str] = field(default_factory=dict)


def violation(
    name: str,
    site: str,
    camera: str,
    rule: str,
    zone: str,
    start: str,
    duration_s: float,
    ended: bool = True,
    **details: Any,
) -> dict[str, Any]:
    from datetime import datetime, timedelta

    started = datetime.fromisoformat(start)
    rec: dict[str, Any] = {
        "id": f"{name}-{started:%Y%m%d%H%M%S}",
        "site": site,
        "camera": camera,
        "rule": rule,
        "zone": zone,
        "severity": "high" if rule != "unattended_items" else "medium",
        "state": "ended" if ended else "open",
        "started_at": started.isoformat(timespec="milliseconds"),
        "ended_at": (started + timedelta(seconds=duration_s)).isoformat(timespec="milliseconds") if ended else None,
        "duration_s": duration_s,
        "track_ids": [3, 7] if rule == "non_staff_in_area" else [3],
        "details": json.loads(json.dumps(details)),
        "snapshot": None,
        "clip": None,
    }
    return rec


# details as the rules in vision/rules write them
Row = tuple[str, str, str, str, str, float, bool, dict[str, Any]]
TELLER: dict[str, Any] = {"min_staff_seen": 1, "min_staff": 2}
INTRUDER: dict[str, Any] = {"max_non_staff": 1}
CASH: dict[str, Any] = {"items": [{"item_id": 1, "label": "cash", "box": [0.63, 0.51, 0.7, 0.56]}], "max_items": 1}
SITE_A_DAY: list[Row] = [
    ("v1", "counter-1", "dual_teller", "teller_area", "09:00:07", 11.6, True, TELLER),
    ("v2", "counter-1", "unattended_items", "counter_top", "10:15:00", 25.0, True, CASH),
    ("v3", "counter-2", "non_staff_in_area", "teller_area", "10:40:00", 4.2, True, INTRUDER),
    ("v4", "counter-2", "dual_teller", "teller_area", "14:05:00", 40.0, True, TELLER),
    ("v5", "counter-1", "non_staff_in_area", "teller_area", "16:30:00", 6.0, False, INTRUDER),
]
SITE_A_WEEK_AGO: list[Row] = [
    ("w1", "counter-1", "dual_teller", "teller_area", "09:30:00", 8.0, True, TELLER),
    ("w2", "counter-1", "non_staff_in_area", "teller_area", "11:10:00", 3.0, True, INTRUDER),
]
SITE_B_DAY: list[Row] = [
    ("b1", "hall-1", "dual_teller", "teller_area", "09:45:00", 15.0, True, TELLER),
    ("b2", "hall-1", "unattended_items", "counter_top", "13:20:00", 12.0, True, CASH),
]


class Seeder:
    """Pushes records with evidence through the API as a pipeline does."""

    def __init__(self, base_url: str, evidence_dir: Path) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.evidence_dir = evidence_dir
        self.key = {"X-API-Key": INGEST_KEY}
        self._clip: bytes | None = None
        self._annotated: bytes | None = None

    def clips(self) -> tuple[bytes, bytes]:
        if self._clip is None or self._annotated is None:
            self._clip = h264_clip()
            self._annotated = h264_clip(annotate=True)
        return self._clip, self._annotated

    def push(self, rec: dict[str, Any], annotated: bool = True) -> str:
        """POST the record with a snapshot and the raw clip; the annotated clip is written where a
        pipeline sharing the API's data dir leaves it, and named in ``details.clip_annotated``."""
        raw, ann = self.clips()
        rec = json.loads(json.dumps(rec))
        if annotated:
            rel = Path(rec["camera"]) / f"{rec['id']}.annotated.mp4"
            (self.evidence_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.evidence_dir / rel).write_bytes(ann)
            rec["details"]["clip_annotated"] = f"evidence/{rel.as_posix()}"
        # as the recorder writes them: the clip starts 1 s before the violation (3 s clips)
        rec["details"].setdefault("clip_pre_s", 1.0)
        rec["details"].setdefault("snapshot_at", rec["started_at"])
        snap = jpeg(evidence_snapshot(rec))
        r = self.http.post(
            "/api/v1/events",
            headers=self.key,
            data={"record": json.dumps(rec)},
            files={"snapshot": ("s.jpg", snap, "image/jpeg"), "clip": ("c.mp4", raw, "video/mp4")},
        )
        r.raise_for_status()
        return str(rec["id"])

    def token(self, username: str) -> str:
        r = self.http.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
        r.raise_for_status()
        return str(r.json()["access_token"])

    def seed_all(self) -> Seeded:
        out = Seeded()
        plan: list[tuple[str, str, list[Row]]] = [
            ("site-a", DAY, SITE_A_DAY),
            ("site-a", WEEK_AGO, SITE_A_WEEK_AGO),
            ("site-b", DAY, SITE_B_DAY),
        ]
        for site, day, rows in plan:
            for name, camera, rule, zone, hhmmss, dur, ended, details in rows:
                rec = violation(name, site, camera, rule, zone, f"{day}T{hhmmss}+08:00", dur, ended, **details)
                out.ids[name] = self.push(rec)
                out.site_of[name] = site
        frame = jpeg(counter_scene(1280, 720, 0.0, f"{DAY} 10:15:00", "counter-1"), quality=88)
        for site, camera in (("site-a", "counter-1"), ("site-a", "counter-2"), ("site-b", "hall-1")):
            r = self.http.post(
                f"/api/v1/cameras/{camera}/frame",
                params={"site": site},
                content=frame,
                headers={**self.key, "Content-Type": "image/jpeg"},
            )
            r.raise_for_status()
        operator = {"Authorization": f"Bearer {self.token('op')}"}
        for name, status, note in (
            ("v1", "true_positive", "only one teller for 12 s"),
            ("v2", "acknowledged", None),
            ("b1", "true_positive", None),
        ):
            body = {"review_status": status, **({"note": note} if note else {})}
            self.http.patch(f"/api/v1/violations/{out.ids[name]}", headers=operator, json=body).raise_for_status()
        admin = {"Authorization": f"Bearer {self.token('adm')}"}
        r = self.http.put(
            "/api/v1/cameras/counter-1/zones", params={"site": "site-a"}, headers=admin, json={"zones": ZONES_COUNTER_1}
        )
        r.raise_for_status()
        self.report_live("site-a", "counter-1", int(r.json()["version"]))
        return out

    def report_live(self, site: str, camera: str, version: int | None) -> None:
        body: dict[str, Any] = {
            "site": site,
            "camera": camera,
            "interval_s": 5,
            "analysed": 25,
            "zones": {
                "teller_area": {"persons": 2, "staff": 2, "items": 0},
                "counter_top": {"persons": 0, "staff": 0, "items": 1},
                "customer_area": {"persons": 1, "staff": 0, "items": 0},
                "staff_door": {"persons": 0, "staff": 0, "items": 0},
            },
        }
        if version is not None:
            body["zones_version"] = version
        self.http.post("/api/v1/metrics/pipeline", headers=self.key, json=body).raise_for_status()
