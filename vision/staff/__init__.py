"""Staff identity: which tracked people count as staff for the teller-area rules.

Every rule about the teller area hinges on this answer, and a wrong "non-staff" is the costliest
mistake: it raises an alarm against a teller doing their job, and operators stop trusting alerts.
So every method here leans towards "staff" when the evidence is thin, says "undecided" (None)
until it has ``min_evidence`` observations, and never changes its mind once it has decided
(``entry`` also reports False for a person still in a customer area; that is a report for the
zone counts, not yet a decision).

Methods (``staff.method`` in the config):

* ``entry``: where a track came from. Appearing inside a teller area (present when the camera
  started, or standing up from behind the counter) or arriving through a ``door`` zone means staff;
  walking in from a customer area, over a counter or from outside every zone means not staff.
  ByteTrack gives a new id after an occlusion, so a new id that appears where a teller-area track
  has just vanished takes over that track's identity.
* ``uniform``: torso colour histogram against a profile enrolled from example crops.
* ``reid``: a person re-identification ONNX model against an enrolled gallery of staff crops.
* ``everyone`` / ``nobody``: constant answers, so any footage can exercise the rules.

Both appearance methods turn a crop into a score in [0, 1] (higher: more like staff) and compare
it with ``staff.threshold``: for ``uniform`` the score is 1 - Bhattacharyya distance between
histograms, for ``reid`` the best cosine similarity against the gallery.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import supervision as sv

from vision.config import StaffConfig, StaffMethod, ZoneConfig, ZoneKind
from vision.errors import ModelLoadError

Verdict = bool | None

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

# Defaults chosen so that an unsure match still counts as staff (see the module docstring).
DEFAULT_UNIFORM_THRESHOLD = 0.5  # 1 - Bhattacharyya distance
# cosine similarity with person-reid-0288: the same person across poses scores 0.89-0.98, different
# people in similar dark clothes up to ~0.88, different clothes under 0.5
DEFAULT_REID_THRESHOLD = 0.8

PROFILE_KIND = "tellerwatch-uniform-profile"
GALLERY_KIND = "tellerwatch-reid-gallery"

REID_HEIGHT, REID_WIDTH = 256, 128
EXPECTED_REID_LAYOUT = "[1, 256, 128, 3] (NHWC) or [1, 3, 256, 128] (NCHW), BGR 0-255, output [1, D]"


# --------------------------------------------------------------------------- shared helpers


def _box_crop(image: np.ndarray, box: np.ndarray, min_w: int = 8, min_h: int = 16) -> np.ndarray | None:
    """The part of ``image`` under ``box``, or None when too little of the person is visible."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = (int(round(float(v))) for v in box[:4])
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(w, x1), min(h, y1)
    if x1 - x0 < min_w or y1 - y0 < min_h:
        return None
    return image[y0:y1, x0:x1]


def _as_bgr(image: np.ndarray, what: str) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"{what} must be an (H, W, 3) BGR image, got shape {image.shape}")
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def _read_images(images_dir: Path) -> list[np.ndarray]:
    if not images_dir.is_dir():
        raise ValueError(f"enrol folder not found: {images_dir}")
    paths = sorted(p for p in images_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ValueError(f"no staff crops (.jpg, .jpeg, .png) in {images_dir}")
    images = []
    for p in paths:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"cannot read image {p}")
        images.append(img)
    return images


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- uniform profile

H_BINS, S_BINS, V_BINS = 16, 6, 3
MAX_PROFILE_SAMPLES = 64


def torso_region(crop: np.ndarray) -> np.ndarray | None:
    """The upper-middle part of a person crop, where a uniform shows.

    A standing person's box is about three times as tall as wide and the torso sits in its upper
    middle; a teller seated behind a desk shows only head and chest, so the torso moves down.
    Arms and background at the sides are cut off in both cases.
    """
    h, w = crop.shape[:2]
    if h < 8 or w < 4:
        return None
    y0, y1 = (0.35, 0.80) if h / w < 1.8 else (0.20, 0.50)
    region = crop[int(h * y0) : max(int(h * y1), int(h * y0) + 1), int(w * 0.25) : max(int(w * 0.75), 1)]
    return region if region.size else None


def _smooth(hist: np.ndarray) -> np.ndarray:
    """Spread each bin a little into its neighbours (hue wraps around).

    A plain uniform fills only a bin or two, and a slight change of light then moves it into the
    next bin, where Bhattacharyya sees no overlap at all; smoothing makes near colours near.
    """
    out = 0.25 * np.roll(hist, 1, axis=0) + 0.5 * hist + 0.25 * np.roll(hist, -1, axis=0)
    for axis in (1, 2):
        pad = [(0, 0)] * 3
        pad[axis] = (1, 1)
        p = np.pad(out, pad, mode="edge")
        n = p.shape[axis]
        out = (
            0.25 * np.take(p, range(0, n - 2), axis=axis)
            + 0.5 * np.take(p, range(1, n - 1), axis=axis)
            + 0.25 * np.take(p, range(2, n), axis=axis)
        )
    return out


def torso_histogram(crop: np.ndarray) -> np.ndarray | None:
    """Smoothed HSV histogram of the torso, normalised to sum 1; None for a crop too small to judge.

    Coarse value bins keep dark, grey and white uniforms apart while tolerating lighting changes.
    """
    region = torso_region(_as_bgr(crop, "crop"))
    if region is None:
        return None
    hsv = cv2.cvtColor(region, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [H_BINS, S_BINS, V_BINS], [0, 180, 0, 256, 0, 256])
    hist = _smooth(hist)
    total = float(hist.sum())
    if total <= 0:
        return None
    return (hist / total).astype(np.float32)


def _hist_similarity(a: np.ndarray, b: np.ndarray) -> float:
    return 1.0 - float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


@dataclass(frozen=True)
class UniformProfile:
    """Torso histograms of enrolled staff crops: their mean plus the samples themselves.

    Keeping samples lets one profile cover two uniform variants (e.g. shirt and jacket), which a
    mean alone would blur into a colour nobody wears.
    """

    mean: np.ndarray
    samples: np.ndarray  # (K, H, S, V)
    suggested_threshold: float

    def score(self, crop: np.ndarray) -> float | None:
        hist = torso_histogram(crop)
        if hist is None:
            return None
        best = _hist_similarity(hist, self.mean)
        for s in self.samples:
            best = max(best, _hist_similarity(hist, s))
        return best

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": PROFILE_KIND,
            "version": 1,
            "bins": [H_BINS, S_BINS, V_BINS],
            "suggested_threshold": round(self.suggested_threshold, 4),
            "mean": [round(float(v), 6) for v in self.mean.ravel()],
            "samples": [[round(float(v), 6) for v in s.ravel()] for s in self.samples],
        }

    @classmethod
    def load(cls, path: Path) -> UniformProfile:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelLoadError(f"cannot read uniform profile {path}: {exc}") from None
        if not isinstance(data, dict) or data.get("kind") != PROFILE_KIND:
            raise ModelLoadError(f"{path} is not a uniform profile (make one with 'tellerwatch enroll')")
        shape = (H_BINS, S_BINS, V_BINS)
        if data.get("bins") != list(shape):
            raise ModelLoadError(
                f"uniform profile {path} has bins {data.get('bins')}, expected {list(shape)}"
            )
        try:
            mean = np.asarray(data["mean"], dtype=np.float32).reshape(shape)
            samples = np.asarray(data.get("samples", []), dtype=np.float32).reshape((-1, *shape))
            suggested = float(data.get("suggested_threshold", DEFAULT_UNIFORM_THRESHOLD))
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelLoadError(f"uniform profile {path} is damaged: {exc}") from None
        return cls(mean=mean, samples=samples, suggested_threshold=suggested)


def enroll_uniform(images: Sequence[np.ndarray], out: Path) -> Path:
    """Write a uniform profile (JSON) from crops of staff in uniform.

    The suggested threshold sits below the worst enrolled crop's own score, so that every crop the
    profile was made from would count as staff.
    """
    hists = [h for h in (torso_histogram(img) for img in images) if h is not None]
    if not hists:
        raise ValueError("no usable staff crops: each must be at least 4x8 pixels")
    stack = np.stack(hists)
    mean = stack.mean(axis=0).astype(np.float32)
    mean /= float(mean.sum())
    step = max(1, math.ceil(len(stack) / MAX_PROFILE_SAMPLES))
    samples = stack[::step][:MAX_PROFILE_SAMPLES]
    # leave-one-out: how well does each crop match the others' profile?
    worst = 1.0
    if len(stack) > 1:
        for i in range(len(stack)):
            others = np.delete(stack, i, axis=0)
            rest = others.mean(axis=0).astype(np.float32)
            best = max([_hist_similarity(stack[i], rest)] + [_hist_similarity(stack[i], o) for o in others])
            worst = min(worst, best)
    suggested = float(np.clip(worst - 0.1, 0.3, 0.6)) if len(stack) > 1 else DEFAULT_UNIFORM_THRESHOLD
    profile = UniformProfile(mean=mean, samples=samples, suggested_threshold=suggested)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(profile.to_json()), encoding="utf-8")
    return out


# --------------------------------------------------------------------------- re-identification model


def _fits(dim: Any, want: int) -> bool:
    """A fixed dimension must equal ``want``; a symbolic (dynamic) one fits anything."""
    return not isinstance(dim, int) or dim == want


class ReidModel:
    """A person re-ID ONNX network: crop -> unit-length embedding.

    The layout is checked when the file is opened, because a detector passed here by mistake would
    otherwise run happily and produce meaningless similarities.
    """

    def __init__(self, path: Path, *, threads: int = 1) -> None:
        """``threads``: onnxruntime intra-op threads; 0 lets it choose. One is the default because
        the network is tiny (a few ms a crop) and shares the CPU with the detector, where a thread
        pool's hand-offs cost more than they save (measured: 5 ms a crop on one thread against
        16 ms with the default pool on a busy 2-core machine)."""
        path = Path(path)
        if not path.is_file():
            raise ModelLoadError(f"re-ID model not found: {path}")
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads > 0:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own non-hierarchical exception types
            raise ModelLoadError(f"cannot load re-ID model {path}: {str(exc).splitlines()[0]}") from None
        self.path = path
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ModelLoadError(
                f"re-ID model {path} has {len(inputs)} inputs; "
                f"expected one image input {EXPECTED_REID_LAYOUT}"
            )
        self.input_name = inputs[0].name
        shape = list(inputs[0].shape)
        layout = self._layout(shape)
        if layout is None:
            raise ModelLoadError(f"re-ID model {path} takes input {shape}; expected {EXPECTED_REID_LAYOUT}")
        self.layout = layout
        self.batch_fixed = isinstance(shape[0], int)
        try:
            probe = self._run(np.zeros((1, REID_HEIGHT, REID_WIDTH, 3), dtype=np.float32))
        except ModelLoadError:
            raise
        except Exception as exc:  # any failure on a blank crop means the file is unusable
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelLoadError(f"re-ID model {path} failed on a test crop: {first}") from None
        self.dim = int(probe.shape[1])

    @staticmethod
    def _layout(shape: list[Any]) -> str | None:
        if len(shape) != 4 or not _fits(shape[0], 1):
            return None
        _, a, b, c = shape
        if c == 3 and _fits(a, REID_HEIGHT) and _fits(b, REID_WIDTH):
            return "NHWC"
        if a == 3 and _fits(b, REID_HEIGHT) and _fits(c, REID_WIDTH):
            return "NCHW"
        return None

    def _run(self, batch_nhwc: np.ndarray) -> np.ndarray:
        x = batch_nhwc if self.layout == "NHWC" else np.ascontiguousarray(batch_nhwc.transpose(0, 3, 1, 2))
        out = np.asarray(self.session.run(None, {self.input_name: x})[0])
        n = batch_nhwc.shape[0]
        if out.ndim < 2 or out.shape[0] != n or any(d != 1 for d in out.shape[2:]):
            raise ModelLoadError(
                f"re-ID model {self.path} returned shape {list(out.shape)}; expected an embedding [N, D] "
                f"({EXPECTED_REID_LAYOUT})"
            )
        return out.reshape(n, -1).astype(np.float32)

    def embed(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(N, D) unit-length embeddings of BGR person crops."""
        if not crops:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)
        size = (REID_WIDTH, REID_HEIGHT)
        batch = np.stack(
            [cv2.resize(_as_bgr(c, "crop"), size, interpolation=cv2.INTER_LINEAR) for c in crops]
        ).astype(np.float32)
        if self.batch_fixed:
            emb = np.concatenate([self._run(batch[i : i + 1]) for i in range(len(batch))])
        else:
            emb = self._run(batch)
        norms = np.linalg.norm(emb, axis=1, keepdims=True)
        return emb / np.maximum(norms, 1e-12)


@dataclass(frozen=True)
class ReidGallery:
    embeddings: np.ndarray  # (N, D), unit length
    model_sha256: str

    @classmethod
    def load(cls, path: Path) -> ReidGallery:
        not_gallery = f"{path} is not a re-ID gallery (make one with 'tellerwatch enroll')"
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise ModelLoadError(f"cannot read re-ID gallery {path}: {exc}") from None
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ModelLoadError(not_gallery)
        with data:
            try:
                if str(data["kind"]) != GALLERY_KIND:
                    raise ModelLoadError(not_gallery)
                emb = np.asarray(data["embeddings"], dtype=np.float32)
                sha = str(data["model_sha256"])
            except (KeyError, ValueError, zipfile.BadZipFile) as exc:
                raise ModelLoadError(f"cannot read re-ID gallery {path}: {exc}") from None
        if emb.ndim != 2 or len(emb) == 0:
            raise ModelLoadError(f"re-ID gallery {path} holds no embeddings (shape {emb.shape})")
        return cls(embeddings=emb, model_sha256=sha)

    def similarity(self, embeddings: np.ndarray) -> np.ndarray:
        """Best cosine similarity of each row against any enrolled staff crop."""
        return (embeddings @ self.embeddings.T).max(axis=1)


def enroll_gallery(images: Sequence[np.ndarray], reid_model: Path, out: Path) -> Path:
    """Write the embeddings of staff crops (.npz), tagged with the model that made them.

    Embeddings from another model live in another space, so the tag lets a camera refuse a gallery
    that does not belong to its model instead of matching noise.
    """
    if not images:
        raise ValueError("no staff crops to enrol")
    model = ReidModel(Path(reid_model))
    usable = [img for img in images if img.shape[0] >= 16 and img.shape[1] >= 8]
    if not usable:
        raise ValueError("no usable staff crops: each must be at least 8x16 pixels")
    emb = model.embed(usable)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as f:  # a file object keeps np.savez from appending '.npz' to the name
        np.savez(
            f,
            kind=np.array(GALLERY_KIND),
            embeddings=emb,
            model_sha256=np.array(_file_sha256(model.path)),
            model_name=np.array(model.path.name),
        )
    return out


def enroll(method: str | StaffMethod, images_dir: Path, out: Path, reid_model: Path | None = None) -> Path:
    """``tellerwatch enroll``: build a uniform profile or a re-ID gallery from a folder of crops."""
    m = StaffMethod(method) if not isinstance(method, StaffMethod) else method
    if m not in (StaffMethod.uniform, StaffMethod.reid):
        raise ValueError(f"only methods 'uniform' and 'reid' are enrolled, not {m.value!r}")
    if m == StaffMethod.reid and reid_model is None:
        raise ValueError("method 'reid' needs a re-ID model (--reid-model PATH)")
    images = _read_images(Path(images_dir))
    if reid_model is not None and m == StaffMethod.reid:
        return enroll_gallery(images, Path(reid_model), Path(out))
    return enroll_uniform(images, Path(out))


# --------------------------------------------------------------------------- judges


class _Judge(Protocol):
    def update(
        self, image: np.ndarray, ids: list[int], boxes: np.ndarray, zones: list[frozenset[str]], t: float
    ) -> dict[int, Verdict]: ...

    def describe(self, track_id: int) -> str | None: ...


def _trim(tracks: dict[int, Any], t: float, forget_s: float, max_tracks: int) -> None:
    """Drop tracks unseen for ``forget_s``, then the longest unseen beyond ``max_tracks``, so a
    camera that runs for months keeps a bounded amount of state."""
    for k in [k for k, st in tracks.items() if t - st.last_t > forget_s]:
        del tracks[k]
    excess = len(tracks) - max_tracks
    if excess > 0:
        for k in sorted(tracks, key=lambda k: tracks[k].last_t)[:excess]:
            del tracks[k]


class _Constant:
    def __init__(self, value: bool) -> None:
        self.value = value

    def update(
        self, image: np.ndarray, ids: list[int], boxes: np.ndarray, zones: list[frozenset[str]], t: float
    ) -> dict[int, Verdict]:
        return {tid: self.value for tid in ids}

    def describe(self, track_id: int) -> str | None:
        return "everyone counts as staff" if self.value else "nobody counts as staff"


# ---- entry


# what one observation says about where a track is, most telling first
_TELLER, _DOOR, _CUSTOMER, _COUNTER = "teller", "door", "customer", "counter"
_OUTSIDE, _NEUTRAL = "outside", "neutral"


@dataclass
class _EntryTrack:
    last_t: float
    box: np.ndarray
    in_teller: bool = False
    # what was seen before the first teller-area sighting
    door: str | None = None
    customer: str | None = None
    counter: str | None = None
    n_customer: int = 0
    n_counter: int = 0
    n_outside: int = 0
    # set at the first teller-area sighting (or inherited)
    origin: bool | None = None
    reason: str = ""
    teller_obs: int = 0
    decided: bool | None = None


@dataclass
class _Lost:
    t: float
    box: np.ndarray
    origin: bool
    teller_obs: int
    decided: bool | None
    reason: str


def _centre_and_height(box: np.ndarray) -> tuple[np.ndarray, float]:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]), float(max(box[3] - box[1], 1.0))


class _EntryJudge:
    """Staff by where the track came from; see the module docstring."""

    def __init__(
        self,
        zones: list[ZoneConfig],
        min_evidence: int,
        *,
        memory_s: float,
        forget_s: float,
        max_tracks: int,
        match_distance: float,
    ) -> None:
        self.kinds = {z.name: z.kind for z in zones}
        self.min_evidence = min_evidence
        self.memory_s = memory_s
        self.forget_s = forget_s
        self.max_tracks = max_tracks
        self.match_distance = match_distance
        self.tracks: dict[int, _EntryTrack] = {}
        self.lost: dict[int, _Lost] = {}
        self.visible: set[int] = set()
        self.last_t: float | None = None

    def _region(self, names: frozenset[str]) -> tuple[str, str | None]:
        """The most telling zone an observation is in; generic zones say nothing about origin."""
        by_kind: dict[ZoneKind, str] = {}
        for n in sorted(names):
            k = self.kinds.get(n)
            if k is not None:
                by_kind.setdefault(k, n)
        for kind, label in (
            (ZoneKind.teller_area, _TELLER),
            (ZoneKind.door, _DOOR),
            (ZoneKind.customer_area, _CUSTOMER),
            (ZoneKind.counter, _COUNTER),
        ):
            if kind in by_kind:
                return label, by_kind[kind]
        if ZoneKind.generic in by_kind:
            return _NEUTRAL, by_kind[ZoneKind.generic]
        return _OUTSIDE, None

    def _origin(self, st: _EntryTrack, zone: str | None) -> tuple[bool, str]:
        """Staff or not, judged at a track's first teller-area sighting from what came before."""
        side = st.n_customer + st.n_outside
        if st.door is not None:
            return True, f"came in through door {st.door!r}"
        if side + st.n_counter == 0:
            return True, f"appeared inside teller area {zone!r}"
        if side == 0:
            # only ever seen on the counter: a teller standing up behind it looks exactly like this
            return True, f"appeared at counter {st.counter!r} and stepped into teller area {zone!r}"
        if side + st.n_counter < self.min_evidence:
            return True, f"appeared at the edge of teller area {zone!r} (too few sightings outside it)"
        if st.customer is not None:
            via = f" over counter {st.counter!r}" if st.counter is not None else ""
            return False, f"came from customer area {st.customer!r}{via} into teller area {zone!r}"
        via = f" over counter {st.counter!r}" if st.counter is not None else ""
        return False, f"came from outside every zone{via} into teller area {zone!r}"

    def _inherit(self, box: np.ndarray, t: float) -> tuple[int, _Lost] | None:
        """A recently lost teller-area track whose place this new id has taken, if any.

        Staff candidates win over non-staff ones: a wrong 'staff' costs a missed alert, a wrong
        'non-staff' a false one.
        """
        c, h = _centre_and_height(box)
        best: tuple[tuple[int, float], int] | None = None
        for old, lost in self.lost.items():
            if t - lost.t > self.memory_s:
                continue
            lc, lh = _centre_and_height(lost.box)
            if not 0.4 <= h / lh <= 2.5:
                continue
            d = float(np.linalg.norm(c - lc)) / max(h, lh)
            if d > self.match_distance:
                continue
            key = (0 if lost.origin else 1, d)
            if best is None or key < best[0]:
                best = (key, old)
        if best is None:
            return None
        old = best[1]
        return old, self.lost.pop(old)

    def _forget(self, t: float) -> None:
        self.lost = {k: v for k, v in self.lost.items() if t - v.t <= self.memory_s}
        _trim(self.tracks, t, self.forget_s, self.max_tracks)

    def update(
        self, image: np.ndarray, ids: list[int], boxes: np.ndarray, zones: list[frozenset[str]], t: float
    ) -> dict[int, Verdict]:
        if self.last_t is not None and t < self.last_t:
            # the clock went back: a looped file or a restarted stream; old ids mean nothing now
            self.tracks.clear()
            self.lost.clear()
            self.visible.clear()
        self.last_t = t
        current = set(ids)
        for gone in self.visible - current:
            st = self.tracks.get(gone)
            if st is not None and st.in_teller and st.origin is not None:
                self.lost[gone] = _Lost(st.last_t, st.box, st.origin, st.teller_obs, st.decided, st.reason)
        self.visible = current
        self._forget(t)

        out: dict[int, Verdict] = {}
        for tid, box, names in zip(ids, boxes, zones, strict=True):
            self.lost.pop(tid, None)  # ByteTrack found it again under the same id
            st = self.tracks.get(tid)
            if st is None:
                st = _EntryTrack(last_t=t, box=box)
                self.tracks[tid] = st
                took = self._inherit(box, t)
                if took is not None:
                    old, lost = took
                    st.origin, st.teller_obs, st.decided = lost.origin, lost.teller_obs, lost.decided
                    st.reason = f"took over from track {old} after an id switch ({lost.reason})"
            st.last_t, st.box = t, box
            region, zone = self._region(names)
            st.in_teller = region == _TELLER
            if region == _TELLER:
                if st.origin is None:
                    st.origin, st.reason = self._origin(st, zone)
                st.teller_obs += 1
                if st.decided is None and st.teller_obs >= self.min_evidence:
                    st.decided = st.origin
            elif st.origin is None:
                if region == _DOOR:
                    st.door = st.door or zone
                elif region == _CUSTOMER:
                    st.customer = st.customer or zone
                    st.n_customer += 1
                elif region == _COUNTER:
                    st.counter = st.counter or zone
                    st.n_counter += 1
                elif region == _OUTSIDE:
                    st.n_outside += 1
            if st.decided is not None:
                out[tid] = st.decided
            elif st.origin is None and region == _CUSTOMER:
                out[tid] = False  # a customer who has not (yet) come into a teller area
            else:
                out[tid] = None
        return out

    def describe(self, track_id: int) -> str | None:
        st = self.tracks.get(track_id)
        return (st.reason or None) if st is not None else None


# ---- appearance (uniform, reid)


class _Scorer(Protocol):
    interval_s: float
    max_per_frame: int

    def scores(self, crops: list[np.ndarray]) -> list[float | None]: ...


class _UniformScorer:
    interval_s = 0.0  # a histogram costs well under a millisecond
    max_per_frame = 64

    def __init__(self, profile: UniformProfile) -> None:
        self.profile = profile

    def scores(self, crops: list[np.ndarray]) -> list[float | None]:
        return [self.profile.score(c) for c in crops]


class _ReidScorer:
    """Re-ID costs ~10-20 ms a crop on a small CPU, so each track is scored only every
    ``interval_s`` and at most ``max_per_frame`` crops a frame."""

    def __init__(self, model: ReidModel, gallery: ReidGallery, interval_s: float, max_per_frame: int) -> None:
        self.model, self.gallery = model, gallery
        self.interval_s, self.max_per_frame = interval_s, max_per_frame
        self.runs = 0
        self.seconds = 0.0

    def scores(self, crops: list[np.ndarray]) -> list[float | None]:
        usable = [i for i, c in enumerate(crops) if c.shape[0] >= 32 and c.shape[1] >= 16]
        out: list[float | None] = [None] * len(crops)
        if usable:
            t0 = time.perf_counter()
            emb = self.model.embed([crops[i] for i in usable])
            self.seconds += time.perf_counter() - t0
            self.runs += len(usable)
            for i, s in zip(usable, self.gallery.similarity(emb), strict=True):
                out[i] = float(s)
        return out


@dataclass
class _Votes:
    last_t: float
    last_eval_t: float = -math.inf
    staff: int = 0
    total: int = 0
    last_score: float | None = None
    decided: bool | None = None


class _AppearanceJudge:
    """Votes per track over ``min_evidence`` scored crops; ties count as staff."""

    def __init__(
        self,
        scorer: _Scorer,
        threshold: float,
        zones: list[ZoneConfig],
        min_evidence: int,
        *,
        forget_s: float,
        max_tracks: int,
        what: str,
    ) -> None:
        self.scorer = scorer
        self.threshold = threshold
        self.teller_zones = {z.name for z in zones if z.kind == ZoneKind.teller_area}
        self.min_evidence = min_evidence
        self.forget_s = forget_s
        self.max_tracks = max_tracks
        self.what = what
        self.tracks: dict[int, _Votes] = {}
        self.last_t: float | None = None

    def _forget(self, t: float) -> None:
        _trim(self.tracks, t, self.forget_s, self.max_tracks)

    def update(
        self, image: np.ndarray, ids: list[int], boxes: np.ndarray, zones: list[frozenset[str]], t: float
    ) -> dict[int, Verdict]:
        if self.last_t is not None and t < self.last_t:
            self.tracks.clear()
        self.last_t = t
        self._forget(t)
        due: list[tuple[tuple[int, int, float], int, np.ndarray]] = []
        for tid, box, names in zip(ids, boxes, zones, strict=True):
            v = self.tracks.setdefault(tid, _Votes(last_t=t))
            v.last_t = t
            if v.decided is None and t - v.last_eval_t >= self.scorer.interval_s:
                # people inside a teller area first: they are the ones the rules are waiting on
                in_teller = 0 if (names & self.teller_zones or not self.teller_zones) else 1
                due.append(((in_teller, v.total, v.last_eval_t), tid, box))
        due.sort(key=lambda d: d[0])
        picked = []
        for _, tid, box in due[: self.scorer.max_per_frame]:
            crop = _box_crop(image, box)
            if crop is not None:
                picked.append((tid, crop))
        if picked:
            for (tid, _), score in zip(picked, self.scorer.scores([c for _, c in picked]), strict=True):
                v = self.tracks[tid]
                v.last_eval_t = t
                if score is None:
                    continue
                v.last_score = score
                v.total += 1
                v.staff += int(score >= self.threshold)
                if v.total >= self.min_evidence:
                    v.decided = 2 * v.staff >= v.total
        return {tid: self.tracks[tid].decided for tid in ids}

    def describe(self, track_id: int) -> str | None:
        v = self.tracks.get(track_id)
        if v is None or v.decided is None:
            return None
        verdict = "matches" if v.decided else "does not match"
        return (
            f"{verdict} the enrolled {self.what} ({v.staff} of {v.total} looks scored "
            f"{self.threshold:.2f} or more, last {v.last_score:.2f})"
        )


# --------------------------------------------------------------------------- the stage


@dataclass
class StaffTimings:
    """Cumulative cost of the appearance model, for the benchmark report."""

    model_runs: int = 0
    model_seconds: float = 0.0
    updates: int = 0
    update_seconds: float = 0.0


class StaffIdentifier:
    """Staff / non-staff / undecided for each tracked person, once per analysed frame."""

    def __init__(
        self,
        config: StaffConfig,
        zones: list[ZoneConfig],
        *,
        memory_s: float = 10.0,
        forget_s: float = 60.0,
        max_tracks: int = 1000,
        match_distance: float = 0.6,
        reid_interval_s: float = 0.4,
        reid_max_per_frame: int = 4,
    ) -> None:
        """Tuning knobs are keyword arguments rather than config keys: they follow from camera
        geometry and tracker behaviour, not from site policy.

        ``memory_s``: how long a lost teller-area track can hand its identity to a new id.
        ``forget_s``: how long a vanished track's state is kept (ByteTrack may bring it back).
        ``match_distance``: how far (in box heights) a new id may appear from a lost one to take over.
        """
        self.config = config
        self.method = config.method
        self.timings = StaffTimings()
        self._reid: _ReidScorer | None = None
        judge: _Judge
        if config.method == StaffMethod.everyone:
            judge = _Constant(True)
        elif config.method == StaffMethod.nobody:
            judge = _Constant(False)
        elif config.method == StaffMethod.entry:
            judge = _EntryJudge(
                zones,
                config.min_evidence,
                memory_s=memory_s,
                forget_s=forget_s,
                max_tracks=max_tracks,
                match_distance=match_distance,
            )
        elif config.method == StaffMethod.uniform:
            if config.profile is None:
                raise ValueError("staff method 'uniform' needs 'profile: PATH'")
            profile = UniformProfile.load(config.profile)
            threshold = config.threshold if config.threshold is not None else profile.suggested_threshold
            judge = _AppearanceJudge(
                _UniformScorer(profile),
                threshold,
                zones,
                config.min_evidence,
                forget_s=forget_s,
                max_tracks=max_tracks,
                what="uniform",
            )
        elif config.method == StaffMethod.reid:
            if config.reid_model is None or config.gallery is None:
                raise ValueError("staff method 'reid' needs 'reid_model: PATH' and 'gallery: PATH'")
            model = ReidModel(config.reid_model)
            gallery = ReidGallery.load(config.gallery)
            if gallery.embeddings.shape[1] != model.dim:
                raise ModelLoadError(
                    f"re-ID gallery {config.gallery} holds {gallery.embeddings.shape[1]}-d embeddings but "
                    f"{config.reid_model} makes {model.dim}-d ones; enrol the gallery again with this model"
                )
            if gallery.model_sha256 and gallery.model_sha256 != _file_sha256(model.path):
                raise ModelLoadError(
                    f"re-ID gallery {config.gallery} was enrolled with another model than "
                    f"{config.reid_model}; enrol it again with this model"
                )
            self._reid = _ReidScorer(model, gallery, reid_interval_s, reid_max_per_frame)
            threshold = config.threshold if config.threshold is not None else DEFAULT_REID_THRESHOLD
            judge = _AppearanceJudge(
                self._reid,
                threshold,
                zones,
                config.min_evidence,
                forget_s=forget_s,
                max_tracks=max_tracks,
                what="staff gallery",
            )
        else:  # pragma: no cover - StaffMethod is a closed enum
            raise ValueError(f"unknown staff method {config.method!r}")
        self._judge = judge

    def update(
        self,
        image: np.ndarray,
        tracks: sv.Detections,
        memberships: dict[int, frozenset[str]],
        t: float,
    ) -> dict[int, Verdict]:
        """True (staff), False (non-staff) or None (undecided) for each tracker_id in ``tracks``."""
        t0 = time.perf_counter()
        if tracks.tracker_id is None or len(tracks) == 0:
            ids: list[int] = []
            boxes = np.zeros((0, 4), dtype=np.float32)
        else:
            keep = np.asarray(tracks.tracker_id) >= 0
            ids = [int(i) for i in np.asarray(tracks.tracker_id)[keep]]
            boxes = np.asarray(tracks.xyxy, dtype=np.float32)[keep]
        zones = [memberships.get(tid, frozenset()) for tid in ids]
        result = self._judge.update(image, ids, boxes, zones, float(t))
        self.timings.updates += 1
        self.timings.update_seconds += time.perf_counter() - t0
        if self._reid is not None:
            self.timings.model_runs = self._reid.runs
            self.timings.model_seconds = self._reid.seconds
        return result

    def describe(self, track_id: int) -> str | None:
        """Why a track was judged as it was, for a violation's ``details``."""
        return self._judge.describe(track_id)


def build_staff_identifier(config: StaffConfig, zones: Iterable[ZoneConfig]) -> StaffIdentifier:
    return StaffIdentifier(config, list(zones))
