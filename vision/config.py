"""The config file (DESIGN.md "Config file"): a pydantic model tree loaded from YAML.

Everything a running pipeline needs from the file is checked and parsed here, once: unknown keys
are refused, polygons become numpy arrays, business hours become weekday -> time windows, and
relative paths are resolved against the config file's folder. ``load_config`` turns every
validation error into a line with the YAML line number, the key path, the value and the reason.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from vision.errors import ConfigError
from vision.events import RuleType

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# Limits that keep a hostile or mistaken config from tying up the box (docs/CONTRACT.md)
MAX_CONFIG_BYTES = 1024 * 1024
MAX_CAMERAS = 64
MAX_ZONES = 64
MAX_POLYGON_POINTS = 256
MAX_ALIAS_NODES = 10_000  # YAML nodes that aliases may add on top of the text (billion laughs)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
URL_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


def _resolve_path(value: str | Path | None, info: ValidationInfo, must_exist: bool) -> Path | None:
    if value is None:
        return None
    path = Path(str(value)).expanduser()
    ctx = info.context or {}
    base = ctx.get("base_dir")
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    if must_exist and ctx.get("check_files", True):
        try:
            found = path.exists()
        except OSError as exc:  # a name too long for the file system, say
            raise ValueError(f"cannot use this path: {exc.strerror or exc}") from None
        if not found:
            raise ValueError(f"file not found: {path}")
    return path


# --------------------------------------------------------------------------- site and schedule


def _parse_days(spec: str) -> list[int]:
    spec = spec.strip().lower()
    if spec in ("daily", "everyday", "all", "mon-sun"):
        return list(range(7))
    days: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if "-" in part:
            a, b = (p.strip()[:3] for p in part.split("-", 1))
            if a not in WEEKDAYS or b not in WEEKDAYS:
                raise ValueError(f"unknown weekday range {part!r}; use e.g. mon-fri")
            i, j = WEEKDAYS.index(a), WEEKDAYS.index(b)
            days.extend(range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)])
        else:
            d = part[:3]
            if d not in WEEKDAYS:
                raise ValueError(f"unknown weekday {part!r}; use mon, tue, wed, thu, fri, sat, sun")
            days.append(WEEKDAYS.index(d))
    return days


_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _parse_window(text: str) -> tuple[time, time]:
    m = _WINDOW.match(text)
    if not m:
        raise ValueError(f"time window {text!r} is not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    midnight_end = h2 == 24 and m2 == 0
    if midnight_end:
        h2 = 0  # "-24:00" ends at the next midnight: an end before the start runs past midnight
    for h, mm in ((h1, m1), (h2, m2)):
        if not (0 <= h <= 23 and 0 <= mm <= 59):
            raise ValueError(f"time window {text!r} has an impossible time")
    start, end = time(h1, m1), time(h2, m2)
    if midnight_end and start == end:
        return start, time(23, 59, 59, 999999)  # "00:00-24:00": the whole day
    if start == end:
        raise ValueError(f"time window {text!r} is empty")
    return start, end


class SiteConfig(Strict):
    id: str = Field(pattern=ID_PATTERN, description="site (branch) identifier")
    name: str = ""
    timezone: str = "Asia/Shanghai"
    business_hours: dict[str, list[str]] = Field(
        default_factory=lambda: {"mon-fri": ["08:30-12:00", "13:30-17:00"]},
        description="weekday spec -> list of HH:MM-HH:MM windows; a window may run past midnight",
    )
    holidays: list[date] = Field(default_factory=list)

    _windows: dict[int, list[tuple[time, time]]] = PrivateAttr(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: 'America' is a folder
            raise ValueError(f"unknown time zone {_short_text(v)}; use an IANA name like Asia/Shanghai") from None
        return v

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for spec, windows in v.items():
            _parse_days(spec)
            for w in windows:
                _parse_window(w)
        return v

    def model_post_init(self, __context: Any) -> None:
        table: dict[int, list[tuple[time, time]]] = {d: [] for d in range(7)}
        for spec, windows in self.business_hours.items():
            for d in _parse_days(spec):
                table[d].extend(_parse_window(w) for w in windows)
        for d in table:
            table[d].sort()
        self._windows = table

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def windows(self) -> dict[int, list[tuple[time, time]]]:
        """Weekday (0 = Monday) -> sorted (start, end) windows; end < start runs past midnight."""
        return self._windows


# --------------------------------------------------------------------------- detector


class DetectorType(str, enum.Enum):
    ssd_mobilenet = "ssd-mobilenet"
    yolox_onnx = "yolox-onnx"
    yolo_onnx = "yolo-onnx"
    ultralytics = "ultralytics"


class DetectorConfig(Strict):
    type: DetectorType = DetectorType.ssd_mobilenet
    model: Path | None = Field(None, description="model file for the ONNX / ultralytics types")
    confidence: float = Field(0.2, gt=0, le=1)
    low_confidence: float = Field(
        0.15, gt=0, le=1,
        description="person boxes from this score up to 'confidence' only keep existing tracks alive "
        "(ByteTrack's second association); they never start a track and are not counted",
    )
    nms_iou: float = Field(0.45, gt=0, le=1)
    input_size: int | None = Field(None, ge=32, le=4096, description="square network input; default from the model")
    class_names: list[str] | None = Field(None, description="class id -> name; default COCO 80")
    person_class: str = "person"
    item_classes: list[str] = Field(
        default_factory=list,
        description="detector classes reported as counter items, e.g. ['cell phone', 'book', 'cash']",
    )
    threads: int | None = Field(
        None, ge=1, le=64,
        description="intra-op threads of each detector copy; default: 2 over the copies (at least 1)",
    )
    workers: int = Field(
        1, ge=1, le=16,
        description="copies of the detector that camera threads use at the same time (each with its share of "
        "'threads'); more than one pays on several cameras (see the README's speed tables)",
    )
    roi: Literal["full", "zones"] = Field(
        "full",
        description="zones: run the detector on the zones' bounding region (with a margin) where the zones "
        "cover part of the frame; full: on the whole frame",
    )
    device: Literal["cpu", "cuda"] = "cpu"
    backend: Literal["opencv", "onnxruntime", "openvino"] | None = Field(
        None,
        description="inference engine: opencv (ssd-mobilenet's default), onnxruntime (the ONNX types' default) "
        "or openvino (CPU; pip install 'tellerwatch[openvino]')",
    )
    dynamic_batch: bool = Field(
        False,
        description="ONNX types: make a fixed batch-1 model take several cameras' frames at once "
        "(rewritten in memory, checked against batch 1; falls back to batch 1 with one log line)",
    )

    _carried_classes: list[str] = PrivateAttr(default_factory=list)

    @property
    def carried_classes(self) -> list[str]:
        """Classes the rules watch beside ``item_classes`` (cash_escort's cash boxes)."""
        return self._carried_classes

    @field_validator("model", mode="before")
    @classmethod
    def _model_path(cls, v: Any, info: ValidationInfo) -> Path | None:
        return _resolve_path(v, info, must_exist=True)

    @model_validator(mode="after")
    def _needs_model(self) -> DetectorConfig:
        if self.type != DetectorType.ssd_mobilenet and self.model is None:
            raise ValueError(f"detector type {self.type.value!r} needs 'model: PATH'")
        own = {DetectorType.ssd_mobilenet: "opencv", DetectorType.yolox_onnx: "onnxruntime",
               DetectorType.yolo_onnx: "onnxruntime"}.get(DetectorType(self.type))
        if self.backend is not None and (own is None or self.backend not in (own, "openvino")):
            can = f"{own} or openvino" if own else "none (leave it out)"
            raise ValueError(f"detector.backend {self.backend!r} does not run type {self.type.value!r} "
                             f"(it takes {can})")
        if self.workers > 1 and self.dynamic_batch:
            raise ValueError("detector.workers > 1 and dynamic_batch: true do not go together: a batched "
                             "model runs one batch at a time (choose one)")
        return self

    def worker_threads(self, workers: int) -> int:
        """Intra-op threads of each of ``workers`` detector copies."""
        return self.threads or max(1, min(2, os.cpu_count() or 2) // workers)


def known_class_names(cfg: DetectorConfig) -> list[str] | None:
    """The detector's class map as far as the config tells it; None where only the model knows
    (an ONNX file without ``class_names`` may carry its own names, checked when it loads)."""
    if cfg.class_names is not None and cfg.type != DetectorType.ssd_mobilenet:
        return list(cfg.class_names)
    if cfg.type == DetectorType.ssd_mobilenet:
        from vision.detectors.coco import COCO80

        return list(COCO80)
    return None


# --------------------------------------------------------------------------- sinks


class ApiSinkConfig(Strict):
    url: str = Field(pattern=r"^https?://")
    key_env: str = "TELLERWATCH_API_KEY"
    timeout_s: float = Field(5.0, gt=0, le=120)
    upload_evidence: bool = True


class MqttSinkConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    topic_prefix: str = "tellerwatch"
    username: str | None = None
    password_env: str | None = None
    qos: int = Field(1, ge=0, le=2)


class SinksConfig(Strict):
    api: ApiSinkConfig | None = None
    mqtt: MqttSinkConfig | None = None


# --------------------------------------------------------------------------- zones


class ZoneKind(str, enum.Enum):
    teller_area = "teller_area"
    counter = "counter"
    customer_area = "customer_area"
    door = "door"
    generic = "generic"


class ZoneConfig(Strict):
    name: str = Field(pattern=ID_PATTERN)
    kind: ZoneKind = ZoneKind.generic
    polygon: list[tuple[float, float]] = Field(
        min_length=3, max_length=MAX_POLYGON_POINTS,
        description="points (x, y) in normalised [0, 1] image coordinates",
    )
    anchor: Literal["center", "bottom_center", "top_center", "center_or_bottom"] | None = Field(
        None, description="point of a person's box tested against the polygon; default by kind"
    )

    _points: np.ndarray = PrivateAttr()

    @field_validator("polygon")
    @classmethod
    def _in_unit_square(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        for i, (x, y) in enumerate(v):
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(f"point {i} ({x}, {y}) is outside [0, 1]; polygons use normalised coordinates")
        pts = np.asarray(v, dtype=np.float64)
        # shoelace area: a degenerate polygon can never contain anyone
        area = 0.5 * abs(float(np.dot(pts[:, 0], np.roll(pts[:, 1], 1)) - np.dot(pts[:, 1], np.roll(pts[:, 0], 1))))
        if area < 1e-6:
            raise ValueError("polygon has no area (points are collinear or repeated)")
        return v

    def model_post_init(self, __context: Any) -> None:
        self._points = np.asarray(self.polygon, dtype=np.float32)

    @property
    def points(self) -> np.ndarray:
        """(N, 2) float32 array of normalised points."""
        return self._points


# --------------------------------------------------------------------------- staff identity


class StaffMethod(str, enum.Enum):
    entry = "entry"
    uniform = "uniform"
    reid = "reid"
    everyone = "everyone"
    nobody = "nobody"


class StaffConfig(Strict):
    method: StaffMethod = StaffMethod.entry
    profile: Path | None = Field(None, description="uniform profile written by 'tellerwatch enroll'")
    reid_model: Path | None = Field(None, description="person re-ID ONNX model (method reid)")
    gallery: Path | None = Field(None, description="enrolled staff gallery (method reid)")
    threshold: float | None = Field(None, gt=0, le=1, description="match threshold; default per method")
    min_evidence: int = Field(3, ge=1, le=100, description="observations before a track's identity sticks")

    @field_validator("profile", "reid_model", "gallery", mode="before")
    @classmethod
    def _paths(cls, v: Any, info: ValidationInfo) -> Path | None:
        return _resolve_path(v, info, must_exist=True)

    @model_validator(mode="after")
    def _method_files(self) -> StaffConfig:
        if self.method == StaffMethod.uniform and self.profile is None:
            raise ValueError("staff method 'uniform' needs 'profile: PATH' (make one with 'tellerwatch enroll')")
        if self.method == StaffMethod.reid and (self.reid_model is None or self.gallery is None):
            raise ValueError("staff method 'reid' needs 'reid_model: PATH' and 'gallery: PATH'")
        return self


# --------------------------------------------------------------------------- rules


class When(str, enum.Enum):
    always = "always"
    business_hours = "business_hours"
    after_hours = "after_hours"


class RuleBase(Strict):
    zone: str
    grace_s: float = Field(10.0, ge=0, le=86400, description="how long the condition must hold")
    clear_s: float = Field(
        3.0, ge=0, le=3600, description="how long the condition must be absent before the violation ends"
    )
    when: When = When.business_hours
    severity: Literal["low", "medium", "high"] = "high"


class DualTellerRule(RuleBase):
    type: Literal["dual_teller"]
    min_staff: int = Field(2, ge=1, le=20)
    grace_s: float = Field(30.0, ge=0, le=86400)


class UnattendedItemsRule(RuleBase):
    type: Literal["unattended_items"]
    attended_by: str | None = Field(
        description="zone whose staff guard the counter; null: items may not lie there at all, attended or not",
    )
    min_area: float = Field(
        0.0008, gt=0, le=0.5, description="smallest item, as a fraction of the frame area"
    )
    still_s: float = Field(2.0, ge=0, le=600, description="an item must lie still this long to count")
    reference: Path | None = Field(
        None,
        description="image of the empty counter from this camera; without it the first seconds "
        "of the stream are learned as the counter surface",
    )

    @field_validator("reference", mode="before")
    @classmethod
    def _reference_path(cls, v: Any, info: ValidationInfo) -> Path | None:
        return _resolve_path(v, info, must_exist=True)


class NonStaffRule(RuleBase):
    type: Literal["non_staff_in_area"]
    grace_s: float = Field(2.0, ge=0, le=86400)
    when: When = When.always


class TailgatingRule(RuleBase):
    """More than ``max_persons`` distinct persons enter a ``door`` zone within ``window_s``."""

    type: Literal["tailgating"]
    window_s: float = Field(3.0, gt=0, le=60, description="entries this close together are one passage")
    max_persons: int = Field(1, ge=1, le=20, description="persons one passage may let through")
    grace_s: float = Field(0.0, ge=0, le=86400)
    when: When = When.always


CASH_ESCORT_DEFAULT_CLASSES = ["suitcase", "handbag", "backpack"]


class CashEscortRule(RuleBase):
    """A cash box carried through the zone with fewer than ``min_staff`` staff within ``radius``."""

    type: Literal["cash_escort"]
    item_classes: list[str] = Field(
        default_factory=lambda: list(CASH_ESCORT_DEFAULT_CLASSES),
        min_length=1,
        description="detector classes that stand for a cash box (COCO bags by default, or a model's own cash_box)",
    )
    min_staff: int = Field(2, ge=1, le=20)
    radius: float = Field(0.25, gt=0, le=1, description="escort distance, a fraction of the frame width")
    grace_s: float = Field(1.0, ge=0, le=86400)
    when: When = When.always


class IntrusionRule(RuleBase):
    """Any person in the zone, staff or not (110 alarm zone after closing)."""

    type: Literal["intrusion"]
    grace_s: float = Field(1.0, ge=0, le=86400)
    when: When = When.after_hours


class CameraTamperRule(RuleBase):
    """The view departs from the one at the start of the stream (or ``evidence.reference``):
    lens covered, view moved, picture defocused. Watches the whole picture, no zone."""

    type: Literal["camera_tamper"]
    zone: Literal["camera"] = "camera"
    grace_s: float = Field(3.0, ge=0, le=86400)
    when: When = When.always


class CameraOfflineRule(RuleBase):
    """No frames from a live camera for ``grace_s`` (wall time): a violation from the last frame
    until frames return. A recording (file) whose frame times jump by ``grace_s`` or more has video
    loss: a violation from the last frame before the hole to the first after it (media time); its
    end is not an outage."""

    type: Literal["camera_offline"]
    zone: Literal["camera"] = "camera"
    grace_s: float = Field(30.0, ge=0, le=86400)
    when: When = When.always


RULE_TYPE_TAGS: tuple[str, ...] = tuple(r.value for r in RuleType)
# rules about the camera itself: zone "camera", no zone in the config
CAMERA_RULES = (RuleType.camera_tamper, RuleType.camera_offline)
# rules that watch a zone of one kind only
RULE_ZONE_KIND = {RuleType.unattended_items: ZoneKind.counter, RuleType.tailgating: ZoneKind.door}

RuleConfig = Annotated[
    DualTellerRule | UnattendedItemsRule | NonStaffRule | TailgatingRule | CashEscortRule | IntrusionRule
    | CameraTamperRule | CameraOfflineRule,
    Field(discriminator="type"),
]


@dataclass(frozen=True, slots=True)
class ZoneProblem:
    """A rule whose zone is missing or of the wrong kind (see ``zone_problems``)."""

    rule: int  # index in the camera's rules
    key: str  # the rule's key at fault: zone or attended_by
    message: str
    pinned: bool = False  # the config names the key's own line (tailgating's kind) rather than the camera


def duplicate_zone_names(zones: Sequence[ZoneConfig]) -> list[str]:
    names = [z.name for z in zones]
    return sorted({n for n in names if names.count(n) > 1})


def zone_problems(rules: Sequence[Any], zones: Sequence[ZoneConfig]) -> list[ZoneProblem]:
    """The one zone/rule cross-check: each rule's zone exists and is of the kind the rule watches,
    and ``attended_by`` names a zone. Used by the config file, by a pipeline taking zones edited in
    the web page (``vision.zone_sync``) and by the API before it saves them."""
    kinds = {z.name: z.kind for z in zones}
    listed = ", ".join(kinds) or "none"
    out: list[ZoneProblem] = []
    for i, rule in enumerate(rules):
        if rule.type in CAMERA_RULES:
            continue
        if rule.zone not in kinds:
            out.append(ZoneProblem(i, "zone", f"zone {rule.zone!r} is not among this camera's zones ({listed})"))
            continue
        need = RULE_ZONE_KIND.get(rule.type)
        if need is not None and kinds[rule.zone] != need:
            out.append(ZoneProblem(i, "zone", f"{rule.type} watches a zone of kind {need.value!r}, "
                                              f"but {rule.zone!r} is {kinds[rule.zone].value!r}",
                                   pinned=rule.type == RuleType.tailgating))
        attended = getattr(rule, "attended_by", None)
        if attended is not None and attended not in kinds:
            out.append(ZoneProblem(i, "attended_by", f"attended_by zone {attended!r} is not among "
                                                     f"this camera's zones ({listed})"))
    return out


# --------------------------------------------------------------------------- evidence and motion


class EvidenceConfig(Strict):
    pre_s: float = Field(default=5.0, ge=0, le=60)
    post_s: float = Field(default=5.0, ge=0, le=60)
    max_clip_s: float = Field(
        default=300.0, gt=0, le=3600, description="longer violations keep the first part"
    )
    jpeg_quality: int = Field(default=80, ge=20, le=100)
    buffer_max_width: int = Field(
        default=1920, ge=160, le=7680, description="ring-buffer frames are scaled down to this"
    )
    buffer_max_s: float = Field(
        default=60.0, gt=0, le=600,
        description="the ring buffer looks back pre_s + the camera's longest grace_s, at most this",
    )
    clip_preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"] = Field(
        default="ultrafast", description="libx264 preset: faster presets use less CPU and more disk"
    )
    clip_crf: int = Field(
        default=26, ge=0, le=51, description="libx264 constant quality (lower = better, bigger)"
    )
    retention_days: float | None = Field(
        default=30.0, gt=0,
        description="delete this camera's evidence older than this (not open ones); GA 38-2015 asks >= 30",
    )
    retention_max_mb: float | None = Field(
        default=None, gt=0, description="keep this camera's evidence under this size, oldest deleted first"
    )
    reference: Path | None = Field(
        default=None,
        description="image of this camera's proper view; camera_tamper compares against it "
        "(without it: the view at the start of the stream)",
    )

    @field_validator("reference", mode="before")
    @classmethod
    def _reference_path(cls, v: Any, info: ValidationInfo) -> Path | None:
        return _resolve_path(v, info, must_exist=True)


class MotionConfig(Strict):
    enabled: bool = True
    threshold: float = Field(
        0.002, ge=0, le=1,
        description="changed-pixel fraction of any one zone, or of the area around a person box, that counts as motion",
    )
    max_skip_s: float = Field(2.0, ge=0, le=60, description="detect at least this often even when still")


# --------------------------------------------------------------------------- camera and app


class CameraConfig(Strict):
    id: str = Field(pattern=ID_PATTERN)
    source: str | int = Field(description="file path, image folder, rtsp://, http(s)://, or webcam index")
    replay_start: datetime | None = Field(None, description="files: wall-clock time of frame 0")
    analysis_fps: float = Field(5.0, gt=0, le=60)
    loop: bool = Field(False, description="files: start again at the end (demo, soak)")
    zones: list[ZoneConfig] = Field(default_factory=list, max_length=MAX_ZONES)
    staff: StaffConfig = Field(default_factory=StaffConfig)
    rules: list[RuleConfig] = Field(default_factory=list)
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig)
    motion: MotionConfig = Field(default_factory=MotionConfig)

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, v: Any, info: ValidationInfo) -> str | int:
        if isinstance(v, bool):
            raise ValueError("source must be a path, a URL or a webcam index")
        if isinstance(v, int):
            if v < 0:
                raise ValueError("a webcam index is 0 or more")
            return v
        if not isinstance(v, str) or not v.strip():
            raise ValueError("source must be a path, a URL or a webcam index")
        s = v.strip()
        if s.isdigit():
            return int(s)
        if s.lower().startswith(URL_SCHEMES) or s.startswith("/dev/video"):
            return s
        path = _resolve_path(s, info, must_exist=True)
        return str(path)

    @property
    def is_live(self) -> bool:
        return isinstance(self.source, int) or str(self.source).lower().startswith(URL_SCHEMES) or str(
            self.source
        ).startswith("/dev/video")

    @model_validator(mode="after")
    def _cross_checks(self) -> CameraConfig:
        dup = duplicate_zone_names(self.zones)
        if dup:
            raise ValueError(f"zone names must be unique; repeated: {', '.join(dup)}")
        problems = zone_problems(self.rules, self.zones)
        if problems:
            p = problems[0]
            # a kind mismatch of tailgating names the rule's own key; the others the camera (as always)
            where = f"{AT}rules.{p.rule}.{p.key}" if p.pinned else f"rules -> {p.rule}"
            raise ValueError(f"{where}: {p.message}")
        return self

    def zone(self, name: str) -> ZoneConfig:
        for z in self.zones:
            if z.name == name:
                return z
        raise KeyError(name)


class AppConfig(Strict):
    site: SiteConfig
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    sinks: SinksConfig = Field(default_factory=SinksConfig)
    cameras: list[CameraConfig] = Field(min_length=1, max_length=MAX_CAMERAS)

    _path: Path | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _unique_cameras(self) -> AppConfig:
        ids = [c.id for c in self.cameras]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"camera ids must be unique; repeated: {', '.join(dup)}")
        tz = self.site.tz
        for cam in self.cameras:
            if cam.replay_start is not None and cam.replay_start.tzinfo is None:
                cam.replay_start = cam.replay_start.replace(tzinfo=tz)
        return self

    @model_validator(mode="after")
    def _carried_classes(self) -> AppConfig:
        """cash_escort classes must exist in the detector's class map; the detector then keeps them."""
        names = known_class_names(self.detector)
        carried: list[str] = []
        for c, cam in enumerate(self.cameras):
            for i, rule in enumerate(cam.rules):
                if not isinstance(rule, CashEscortRule):
                    continue
                for k, name in enumerate(rule.item_classes):
                    if names is not None and name not in names:
                        raise ValueError(
                            f"{AT}cameras.{c}.rules.{i}.item_classes.{k}: {name!r} is not a class of the detector "
                            f"({self.detector.type.value}); set detector.class_names to the model's classes "
                            "or use one of them"
                        )
                    if name not in carried:
                        carried.append(name)
        self.detector._carried_classes = carried
        return self

    @property
    def path(self) -> Path | None:
        return self._path

    def camera(self, camera_id: str) -> CameraConfig:
        for c in self.cameras:
            if c.id == camera_id:
                return c
        raise KeyError(camera_id)


# --------------------------------------------------------------------------- loading and errors


def _node_for(root: yaml.Node | None, loc: tuple[Any, ...]) -> yaml.Node | None:
    """Walk the composed YAML tree along a pydantic error location as far as it goes."""
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == part:
                    node = value
                    break
            # parts that are not keys (union tags like 'dual_teller') are skipped
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                node = node.value[part]
            else:
                break
    return node


# A cross-field check that knows the exact key at fault starts its message with AT + a dotted path
# relative to the model that raised it; format_errors moves that path into the location, so
# the error names the rule's own line rather than the camera's.
AT = "@"


def _split_at(loc: tuple[Any, ...], msg: str) -> tuple[tuple[Any, ...], str]:
    if not msg.startswith(AT) or ": " not in msg:
        return loc, msg
    head, rest = msg[len(AT):].split(": ", 1)
    extra = tuple(int(p) if p.isdigit() else p for p in head.split("."))
    return (*loc, *extra), rest


def _short_text(value: str) -> str:
    return repr(value) if len(value) <= 60 else repr(value[:57] + "...")


def _key_text(part: Any) -> str:
    """A key as the user typed it; quoted when it holds spaces or control characters."""
    text = str(part)
    return text if re.fullmatch(r"[\w.@/+-]+", text) else repr(text)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def format_errors(exc: ValidationError, root: yaml.Node | None, filename: str) -> list[str]:
    lines = []
    for err in exc.errors():
        raw_loc = tuple(err.get("loc", ()))
        loc, msg = _split_at(raw_loc, err.get("msg", "invalid").removeprefix("Value error, "))
        shown = [p for p in loc if not (isinstance(p, str) and p in RULE_TYPE_TAGS)]
        path = " -> ".join(_key_text(p) for p in shown) or "(top level)"
        node = _node_for(root, loc)
        line = node.start_mark.line + 1 if node is not None else 1
        value = err.get("input")
        value_text = "(missing)" if err.get("type") == "missing" else _short(value)
        if isinstance(value, dict) and err.get("type") != "missing":
            value_text = "{...}"
        if loc != raw_loc and isinstance(node, yaml.ScalarNode):
            value_text = _short(node.value)  # the key at fault, not the model that checked it
        lines.append(f"{filename}:{line}: {path}: {value_text}: {msg}".replace("\n", "\\n"))  # one line each
    return lines


class _LimitError(yaml.YAMLError):
    """A YAML construct the config refuses before building anything from it (line and key path)."""

    def __init__(self, line: int, path: tuple[Any, ...], value: str, reason: str) -> None:
        super().__init__(reason)
        self.line, self.path, self.value, self.reason = line, path, value, reason

    def format(self, filename: str) -> str:
        where = " -> ".join(_key_text(p) for p in self.path) or "(top level)"
        return f"{filename}:{self.line}: {where}: {self.value}: {self.reason}"


class _Loader(yaml.SafeLoader):
    """SafeLoader whose impossible dates (2026-02-30) are YAML errors with a line, not ValueError,
    and that refuses aliases expanding too far (billion laughs) or into the node that holds them.

    Aliases share nodes, so composing and constructing stay cheap; what explodes is everything
    that walks the result (validation, duplicate-key checks). Each alias is charged the expanded
    size of what it names (memoised per node), and the total may not pass ``MAX_ALIAS_NODES``.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._path: list[Any] = []
        self._open_anchors: set[str] = set()
        self._sizes: dict[int, int] = {}
        self.alias_nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        part = index.value if isinstance(index, yaml.ScalarNode) else index
        self._path.append("?" if isinstance(index, yaml.Node) and part is index else part)
        try:
            if isinstance(parent, yaml.SequenceNode) and isinstance(index, int):
                self._check_count(parent, index)
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                anchor = str(event.anchor)
                here = tuple(p for p in self._path if p is not None)
                line = event.start_mark.line + 1 if event.start_mark is not None else 1
                if anchor in self._open_anchors:
                    raise _LimitError(line, here, f"*{anchor}", "the alias refers to the node that contains it")
                target = self.anchors.get(anchor)
                if target is not None:
                    self.alias_nodes += self._expanded(target)
                    if self.alias_nodes > MAX_ALIAS_NODES:
                        raise _LimitError(line, here, f"*{anchor}",
                                          f"aliases expand the config by more than {MAX_ALIAS_NODES} YAML nodes")
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._path.pop()

    def _check_count(self, parent: yaml.SequenceNode, index: int) -> None:
        """Refuse the 65th camera (zone, 257th point) as it is read: a file of many thousands
        would otherwise be composed in full before validation said so."""
        path = tuple(p for p in self._path[:-1] if p is not None)
        limit = None
        if path == ("cameras",):
            limit, what = MAX_CAMERAS, "cameras per config"
        elif len(path) == 3 and path[0] == "cameras" and path[2] == "zones":
            limit, what = MAX_ZONES, "zones per camera"
        elif len(path) == 5 and path[0] == "cameras" and path[2] == "zones" and path[4] == "polygon":
            limit, what = MAX_POLYGON_POINTS, "points per polygon"
        if limit is not None and index >= limit:
            raise _LimitError(parent.start_mark.line + 1, path, "[...]",
                              f"List should have at most {limit} items ({what})")

    def compose_sequence_node(self, anchor: Any) -> yaml.SequenceNode:
        self._opening(anchor, True)
        try:
            return super().compose_sequence_node(anchor)
        finally:
            self._opening(anchor, False)

    def compose_mapping_node(self, anchor: Any) -> yaml.MappingNode:
        self._opening(anchor, True)
        try:
            return super().compose_mapping_node(anchor)
        finally:
            self._opening(anchor, False)

    def _opening(self, anchor: Any, is_open: bool) -> None:
        if isinstance(anchor, str):
            (self._open_anchors.add if is_open else self._open_anchors.discard)(anchor)

    def _expanded(self, node: yaml.Node) -> int:
        """Nodes ``node`` stands for once every alias inside it is expanded (no cycles: see above)."""
        stack: list[tuple[yaml.Node, bool]] = [(node, False)]
        while stack:
            n, children_done = stack.pop()
            if id(n) in self._sizes:
                continue
            if isinstance(n, yaml.SequenceNode):
                kids: list[yaml.Node] = list(n.value)
            elif isinstance(n, yaml.MappingNode):
                kids = [x for pair in n.value for x in pair]
            else:
                kids = []
            if children_done or not kids:
                self._sizes[id(n)] = min(1 + sum(self._sizes.get(id(k), 1) for k in kids), 1 << 62)
            else:
                stack.append((n, True))
                stack.extend((k, False) for k in kids if id(k) not in self._sizes)
        return self._sizes[id(node)]

    def construct_yaml_timestamp(self, node: yaml.Node) -> Any:
        try:
            return super().construct_yaml_timestamp(node)  # type: ignore[arg-type]
        except (ValueError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a valid date or time ({exc})", node.start_mark
            ) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _yaml_line(exc: yaml.YAMLError, text: str) -> int:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    position = getattr(exc, "position", None)  # ReaderError: a character YAML does not allow
    return text[:position].count("\n") + 1 if isinstance(position, int) else 1


def _duplicate_keys(root: yaml.Node | None, filename: str) -> list[str]:
    """YAML lets a later key silently replace an earlier one; in a config that hides a mistake."""
    problems: list[tuple[int, str]] = []
    stack: list[tuple[yaml.Node | None, tuple[str, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in node.value:
                name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    line = key.start_mark.line + 1
                    if name in seen:
                        where = " -> ".join(_key_text(p) for p in (*path, name))
                        problems.append((line, f"{filename}:{line}: {where}: {_short_text(name)}: the key appears "
                                               f"twice in one mapping (first at line {seen[name]}); YAML would keep "
                                               "only the last"))
                    seen.setdefault(name, line)
                stack.append((value, (*path, name)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*path, str(i))) for i, item in enumerate(node.value))
    return [text for _, text in sorted(problems)]


def _too_big(filename: str, size: int) -> ConfigError:
    msg = (f"{filename}:1: (top level): {size} bytes: a config file may be at most {MAX_CONFIG_BYTES} bytes "
           "(1 MB)")
    return ConfigError(msg, [msg])


def parse_config(text: str, *, base_dir: Path, filename: str = "<config>", check_files: bool = True) -> AppConfig:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_CONFIG_BYTES:
        raise _too_big(filename, size)
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except _LimitError as exc:
        msg = exc.format(filename)
        raise ConfigError(msg, [msg]) from None
    except yaml.YAMLError as exc:
        where = f"{filename}:{_yaml_line(exc, text)}"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML: {problem}", [f"{where}: not valid YAML: {problem}"]) from None
    except RecursionError:
        msg = f"{filename}:1: not valid YAML: nested too deeply"
        raise ConfigError(msg, [msg]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(data, dict):
        msg = f"{filename}:1: the config must be a mapping with 'site' and 'cameras'"
        raise ConfigError(msg, [msg])
    duplicates = _duplicate_keys(root, filename)
    if duplicates:
        raise ConfigError(f"{filename}: {len(duplicates)} error(s) in config", duplicates)
    try:
        cfg = AppConfig.model_validate(data, context={"base_dir": base_dir, "check_files": check_files})
    except ValidationError as exc:
        problems = format_errors(exc, root, filename)
        raise ConfigError(f"{filename}: {len(problems)} error(s) in config", problems) from None
    except RecursionError:
        msg = f"{filename}:1: not valid YAML: nested too deeply"
        raise ConfigError(msg, [msg]) from None
    return cfg


def load_config(path: str | Path, *, check_files: bool = True) -> AppConfig:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}", [f"config file not found: {p}"])
    try:
        size = p.stat().st_size
        if size > MAX_CONFIG_BYTES:  # refused before reading: the file may be any size
            raise _too_big(str(p), size)
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {p}: {exc}", [f"cannot read config {p}: {exc}"]) from None
    cfg = parse_config(text, base_dir=p.resolve().parent, filename=str(p), check_files=check_files)
    cfg._path = p.resolve()
    return cfg
