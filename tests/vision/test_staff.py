"""Staff identity: entry history, uniform colour, re-ID against a gallery, constant methods."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import supervision as sv

from benchmarks.footage import read_frames
from vision.config import StaffConfig, StaffMethod, ZoneConfig, ZoneKind
from vision.errors import ModelLoadError
from vision.staff import (
    H_BINS,
    S_BINS,
    V_BINS,
    ReidGallery,
    ReidModel,
    StaffIdentifier,
    UniformProfile,
    _EntryJudge,
    build_staff_identifier,
    enroll,
    enroll_gallery,
    enroll_uniform,
)

# Only names and kinds matter to the identifier: memberships come from the zone stage.
_SQUARE = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
ZONES = [
    ZoneConfig.model_validate({"name": name, "kind": kind, "polygon": _SQUARE})
    for name, kind in [
        ("teller", ZoneKind.teller_area),
        ("counter_top", ZoneKind.counter),
        ("lobby", ZoneKind.customer_area),
        ("staff_door", ZoneKind.door),
        ("floor", ZoneKind.generic),
    ]
]
BINS = (H_BINS, S_BINS, V_BINS)
BLANK = np.zeros((270, 480, 3), dtype=np.uint8)
DT = 0.2  # 5 analysed frames a second


def _staff(**fields: Any) -> StaffConfig:
    return StaffConfig.model_validate(fields)


def _detections(
    frame: Mapping[int, tuple[Sequence[float], str]],
) -> tuple[sv.Detections, dict[int, frozenset[str]]]:
    ids = sorted(frame)
    xyxy = np.array([frame[i][0] for i in ids], dtype=np.float32).reshape(-1, 4)
    dets = sv.Detections(
        xyxy=xyxy, tracker_id=np.array(ids, dtype=int), class_id=np.zeros(len(ids), dtype=int)
    )
    zones = {i: frozenset(z for z in frame[i][1].split("+") if z) for i in ids}
    return dets, zones


def _run(
    ident: StaffIdentifier, frames: list[dict], t0: float = 0.0, image: np.ndarray = BLANK
) -> list[dict]:
    out = []
    for k, frame in enumerate(frames):
        dets, zones = _detections(frame)
        out.append(ident.update(image, dets, zones, t0 + k * DT))
    return out


def _entry(min_evidence: int = 3, **kw) -> StaffIdentifier:
    return StaffIdentifier(_staff(method=StaffMethod.entry, min_evidence=min_evidence), ZONES, **kw)


SEAT = (100.0, 120.0, 160.0, 220.0)  # a seated teller's box
AISLE = (300.0, 60.0, 350.0, 200.0)


def _walk(tid: int, *zones: str, box=SEAT) -> list[dict]:
    return [{tid: (box, z)} for z in zones]


# --------------------------------------------------------------------------- entry


ENTRY_CASES = [
    # (id, frames, verdicts of track 1 frame by frame)
    (
        "appears inside teller area",
        _walk(1, "teller", "teller", "teller", "teller"),
        [None, None, True, True],
    ),
    (
        "first sighting in teller area and a generic zone",
        _walk(1, "teller+floor", "teller", "teller"),
        [None, None, True],
    ),
    (
        "door then teller area",
        _walk(1, "staff_door", "staff_door", "", "teller", "teller", "teller"),
        [None, None, None, None, None, True],
    ),
    (
        "customer area, counter, teller area",
        _walk(1, "lobby", "lobby", "lobby", "counter_top", "teller", "teller", "teller"),
        [False, False, False, None, None, None, False],
    ),
    (
        "customer area then straight into teller area",
        _walk(1, "lobby", "lobby", "lobby", "teller", "teller", "teller"),
        [False, False, False, None, None, False],
    ),
    (
        "outside every zone then teller area",
        _walk(1, "", "", "", "teller", "teller", "teller"),
        [None, None, None, None, None, False],
    ),
    (
        "outside, over the counter, into teller area",
        _walk(1, "", "", "counter_top", "counter_top", "teller", "teller", "teller"),
        [None] * 6 + [False],
    ),
    (
        "one stray sighting outside, then teller area: too little to call non-staff",
        _walk(1, "", "teller", "teller", "teller"),
        [None, None, None, True],
    ),
    (
        "stands up behind the counter: only counter before teller area",
        _walk(1, "counter_top", "counter_top", "counter_top", "teller", "teller", "teller"),
        [None] * 5 + [True],
    ),
    (
        "customer who comes through the staff door counts as staff",
        _walk(1, "lobby", "lobby", "lobby", "staff_door", "teller", "teller", "teller"),
        [False, False, False, None, None, None, True],
    ),
    (
        "never in a teller area, only the door",
        _walk(1, "staff_door", "staff_door", "floor"),
        [None, None, None],
    ),
    (
        "staff stays staff after visiting the lobby",
        _walk(1, "teller", "teller", "teller", "counter_top", "lobby", "lobby", "teller"),
        [None, None] + [True] * 5,
    ),
    (
        "non-staff stays non-staff after leaving",
        _walk(1, "lobby", "lobby", "lobby", "teller", "teller", "teller", "lobby", "teller"),
        [False, False, False, None, None, False, False, False],
    ),
]


@pytest.mark.parametrize(
    ("frames", "expected"), [c[1:] for c in ENTRY_CASES], ids=[c[0] for c in ENTRY_CASES]
)
def test_entry_history(frames, expected):
    verdicts = [v[1] for v in _run(_entry(), frames)]
    assert verdicts == expected


@pytest.mark.parametrize(
    ("min_evidence", "zones", "expected"),
    [
        (1, ("teller",), [True]),
        (1, ("lobby", "teller"), [False, False]),
        (5, ("teller",) * 5, [None] * 4 + [True]),
    ],
)
def test_entry_min_evidence(min_evidence, zones, expected):
    # with min_evidence 1 a single lobby sighting is enough history to call non-staff
    assert [v[1] for v in _run(_entry(min_evidence), _walk(1, *zones))] == expected


def _switch(
    gap_frames: int, new_box, new_zone: str, old_zones: tuple[str, ...] = ("teller",) * 5
) -> list[dict]:
    """Track 1 sits in the teller area, vanishes for ``gap_frames``, then track 2 shows up."""
    frames = [{1: (SEAT, z)} for z in old_zones]
    frames += [{} for _ in range(gap_frames)]
    frames += [
        {2: (new_box, new_zone)},
        {2: (new_box, "teller")},
        {2: (new_box, "teller")},
        {2: (new_box, "teller")},
    ]
    return frames


SHIFTED = (108.0, 126.0, 166.0, 214.0)  # the same teller, box jittered after an occlusion
SWITCH_CASES = [
    # (id, frames, verdicts of track 2 from its first frame)
    ("seated teller gets a new id in place", _switch(0, SHIFTED, "teller"), [True] * 4),
    ("new id after a 3 s occlusion", _switch(15, SHIFTED, "teller"), [True] * 4),
    ("new id whose first box falls outside every zone", _switch(2, SHIFTED, ""), [True] * 4),
    (
        "undecided staff hands over its evidence",
        _switch(1, SHIFTED, "teller", ("teller", "teller")),
        [True] * 4,
    ),
    (
        "new id long after the teller left: judged afresh",
        _switch(100, SHIFTED, "teller"),
        [None, None, True, True],
    ),
    ("new id far away in the room: judged afresh", _switch(1, AISLE, "teller"), [None, None, True, True]),
    (
        "customer in the teller area gets a new id: still non-staff",
        _switch(1, SHIFTED, "teller", ("lobby",) * 3 + ("teller",) * 3),
        [False] * 4,
    ),
]


@pytest.mark.parametrize(
    ("frames", "expected"), [c[1:] for c in SWITCH_CASES], ids=[c[0] for c in SWITCH_CASES]
)
def test_entry_id_switch(frames, expected):
    ident = _entry()
    verdicts = [v[2] for v in _run(ident, frames) if 2 in v]
    assert verdicts == expected
    if expected[0] is not None:
        assert "id switch" in (ident.describe(2) or "")


def test_entry_staff_wins_an_ambiguous_switch():
    """A staff and a non-staff track vanish side by side; the new id there is taken for staff."""
    near = (112.0, 120.0, 172.0, 220.0)
    ident = _entry()
    staff_frames = [{1: (SEAT, "teller"), 3: (near, "lobby")}] * 3 + [
        {1: (SEAT, "teller"), 3: (near, "teller")}
    ] * 3
    staff_frames += [{}, {2: (((SEAT[0] + near[0]) / 2, 120.0, (SEAT[2] + near[2]) / 2, 220.0), "teller")}]
    verdicts = _run(ident, staff_frames)
    assert verdicts[5] == {1: True, 3: False}
    assert verdicts[-1] == {2: True}


def test_entry_reasons_name_the_zones():
    ident = _entry()
    _run(
        ident,
        [{1: (SEAT, "lobby"), 2: (AISLE, "staff_door")}] * 3 + [{1: (SEAT, "teller"), 2: (AISLE, "teller")}],
    )
    assert ident.describe(1) == "came from customer area 'lobby' into teller area 'teller'"
    assert ident.describe(2) == "came in through door 'staff_door'"
    assert ident.describe(99) is None


def test_entry_memory_is_bounded():
    ident = _entry(max_tracks=50, forget_s=5.0)
    for k in range(400):
        dets, zones = _detections({k: (SEAT, "teller")})
        ident.update(BLANK, dets, zones, k * DT)
    judge = ident._judge
    assert isinstance(judge, _EntryJudge)
    assert len(judge.tracks) <= 50
    assert len(judge.lost) <= int(10.0 / DT) + 1
    dets, zones = _detections({})
    ident.update(BLANK, dets, zones, 400 * DT + 6.0)
    assert len(judge.tracks) == 0


def test_entry_clock_going_back_starts_afresh():
    ident = _entry()
    _run(ident, _walk(1, "lobby", "lobby", "lobby", "teller", "teller", "teller"), t0=100.0)
    # a looped file: the same id now means someone else, who appears inside the teller area
    assert [v[1] for v in _run(ident, _walk(1, "teller", "teller", "teller"))] == [None, None, True]


def test_update_without_tracker_ids():
    ident = _entry()
    dets = sv.Detections(xyxy=np.array([SEAT], dtype=np.float32))
    assert ident.update(BLANK, dets, {}, 0.0) == {}
    assert ident.update(BLANK, sv.Detections.empty(), {}, 0.2) == {}


@pytest.mark.parametrize(("method", "expected"), [(StaffMethod.everyone, True), (StaffMethod.nobody, False)])
def test_constant_methods(method, expected):
    ident = build_staff_identifier(_staff(method=method), ZONES)
    frames = [{1: (SEAT, "teller"), 2: (AISLE, "lobby"), 5: (AISLE, "")}]
    assert _run(ident, frames) == [{1: expected, 2: expected, 5: expected}]


# --------------------------------------------------------------------------- uniform

NAVY, BLUE = (140, 60, 20), (190, 100, 40)
RED, GREY, BEIGE = (40, 40, 190), (128, 128, 128), (150, 190, 215)


def _person(
    torso_bgr, rng: np.random.Generator, h: int = 180, w: int = 64, seated: bool = False
) -> np.ndarray:
    """A crude person crop: wall behind, skin-coloured head, coloured torso, dark legs."""
    img = np.clip(rng.normal(205, 12, (h, w, 3)), 0, 255).astype(np.uint8)
    shade = rng.uniform(0.85, 1.15)
    torso = np.clip(np.array(torso_bgr) * shade + rng.normal(0, 6, 3), 0, 255)
    head_y, top, bottom = (0.18, 0.33, 1.0) if seated else (0.08, 0.16, 0.55)
    cv2.circle(img, (w // 2, int(h * head_y)), int(w * 0.17), (120, 160, 215), -1)
    body = np.clip(rng.normal(0, 8, (int(h * (bottom - top)), int(w * 0.7), 3)) + torso, 0, 255).astype(
        np.uint8
    )
    y0, x0 = int(h * top), int(w * 0.15)
    img[y0 : y0 + body.shape[0], x0 : x0 + body.shape[1]] = body
    if not seated:
        img[int(h * 0.55) :, int(w * 0.28) : int(w * 0.72)] = (45, 40, 40)
    return img


@pytest.fixture(scope="module")
def uniform_profile(tmp_path_factory) -> Path:
    rng = np.random.default_rng(7)
    crops = [_person(c, rng) for c in (NAVY, BLUE, NAVY, BLUE)] + [_person(NAVY, rng, 120, 90, seated=True)]
    return enroll_uniform(crops, tmp_path_factory.mktemp("uniform") / "profile.json")


UNIFORM_CASES = [
    ("navy uniform, standing", NAVY, False, True),
    ("blue uniform, standing", BLUE, False, True),
    ("navy uniform, seated", NAVY, True, True),
    ("red clothes", RED, False, False),
    ("grey clothes", GREY, False, False),
    ("beige clothes, seated", BEIGE, True, False),
]


@pytest.mark.parametrize(
    ("torso", "seated", "staff"), [c[1:] for c in UNIFORM_CASES], ids=[c[0] for c in UNIFORM_CASES]
)
def test_uniform_profile_scores(uniform_profile, torso, seated, staff):
    profile = UniformProfile.load(uniform_profile)
    rng = np.random.default_rng(11)
    h, w = (120, 90) if seated else (180, 64)
    maybe = [profile.score(_person(torso, rng, h, w, seated)) for _ in range(5)]
    scores = [s for s in maybe if s is not None]
    assert len(scores) == len(maybe)
    assert all((s >= profile.suggested_threshold) == staff for s in scores), (
        scores,
        profile.suggested_threshold,
    )


def test_uniform_identifier_votes_then_sticks(uniform_profile):
    rng = np.random.default_rng(3)
    frame = np.clip(rng.normal(190, 10, (270, 480, 3)), 0, 255).astype(np.uint8)
    boxes = {1: (40, 60, 104, 240), 2: (300, 60, 364, 240)}
    frame[60:240, 40:104] = _person(NAVY, rng)
    frame[60:240, 300:364] = _person(RED, rng)
    cfg = _staff(method=StaffMethod.uniform, profile=uniform_profile, min_evidence=3)
    ident = build_staff_identifier(cfg, ZONES)
    frames = [{1: (boxes[1], "teller"), 2: (boxes[2], "teller")}] * 4
    verdicts = _run(ident, frames, image=frame)
    assert verdicts == [{1: None, 2: None}, {1: None, 2: None}, {1: True, 2: False}, {1: True, 2: False}]
    assert "does not match the enrolled uniform" in (ident.describe(2) or "")
    # once decided, a change of looks (a customer's red coat passing in front) does not flip it
    swapped = frame.copy()
    swapped[60:240, 40:104] = _person(RED, rng)
    assert _run(ident, frames[:1], t0=10.0, image=swapped) == [{1: True, 2: False}]


def test_uniform_ignores_boxes_off_the_image(uniform_profile):
    cfg = _staff(method=StaffMethod.uniform, profile=uniform_profile, min_evidence=1)
    ident = build_staff_identifier(cfg, ZONES)
    assert _run(ident, [{1: ((500.0, 10.0, 560.0, 100.0), "teller")}]) == [{1: None}]


def test_enroll_from_folder(tmp_path):
    rng = np.random.default_rng(5)
    crops = tmp_path / "crops"
    crops.mkdir()
    for i in range(3):
        cv2.imwrite(str(crops / f"staff{i}.png"), _person(NAVY, rng))
    cv2.imwrite(str(crops / "staff3.JPG"), _person(BLUE, rng))
    (crops / "notes.txt").write_text("not an image")
    out = enroll("uniform", crops, tmp_path / "out" / "uniform.json")
    assert out == tmp_path / "out" / "uniform.json"
    profile = UniformProfile.load(out)
    assert profile.samples.shape[0] == 4
    assert 0.3 <= profile.suggested_threshold <= 0.6


ENROLL_ERRORS = [
    ("empty folder", "uniform", True, None, ValueError, "no staff crops"),
    ("missing folder", "uniform", False, None, ValueError, "not found"),
    ("reid without a model", "reid", True, None, ValueError, "needs a re-ID model"),
    ("method that is not enrolled", "entry", True, None, ValueError, "only methods"),
    ("unknown method", "magic", True, None, ValueError, "magic"),
]


@pytest.mark.parametrize(
    ("method", "make_dir", "model", "exc", "match"),
    [c[1:] for c in ENROLL_ERRORS],
    ids=[c[0] for c in ENROLL_ERRORS],
)
def test_enroll_errors(tmp_path, method, make_dir, model, exc, match):
    folder = tmp_path / "crops"
    if make_dir:
        folder.mkdir()
    with pytest.raises(exc, match=match):
        enroll(method, folder, tmp_path / "out.json", model)


def test_enroll_unreadable_image(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="cannot read image .*broken.jpg"):
        enroll("uniform", tmp_path, tmp_path / "out.json")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", "cannot read uniform profile"),
        ('{"kind": "something-else"}', "is not a uniform profile"),
        ('{"kind": "tellerwatch-uniform-profile", "bins": [8, 8, 8], "mean": []}', "has bins"),
        (
            json.dumps({"kind": "tellerwatch-uniform-profile", "bins": list(BINS), "mean": [1, 2]}),
            "is damaged",
        ),
    ],
    ids=["not json", "other kind", "other bins", "wrong size"],
)
def test_bad_uniform_profile(tmp_path, content, match):
    path = tmp_path / "p.json"
    path.write_text(content)
    with pytest.raises(ModelLoadError, match=match):
        build_staff_identifier(_staff(method=StaffMethod.uniform, profile=path), ZONES)


# --------------------------------------------------------------------------- reid on real footage

# Person boxes (pixels) found once with the embedded SSD detector on these frames.
WORKER_BOXES = {
    20: (145, 83, 217, 272),
    40: (114, 63, 170, 228),
    50: (90, 56, 155, 215),
    60: (91, 49, 156, 214),
    70: (92, 50, 157, 214),
}
CLASSROOM_BOXES = {  # the same four seated people in frames 0 and 40
    0: [(285, 140, 350, 232), (49, 141, 119, 221), (215, 120, 264, 178), (112, 122, 161, 177)],
    40: [(285, 142, 352, 231), (48, 140, 120, 222), (215, 119, 264, 178), (111, 122, 161, 178)],
}


def _crop(frame: np.ndarray, box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return frame[y0:y1, x0:x1]


@pytest.fixture(scope="module")
def reid_path() -> Path:
    path = Path(__file__).resolve().parents[2].parent / "shared" / "models" / "person-reid-0288.onnx"
    if not path.is_file():
        pytest.skip(f"{path} is absent (real models live in ../shared beside the repository)")
    return path


@pytest.fixture(scope="module")
def reid_model(reid_path) -> ReidModel:
    return ReidModel(reid_path)


@pytest.fixture(scope="module")
def worker_frames() -> list[np.ndarray]:
    path = Path(__file__).resolve().parents[2].parent / "shared" / "footage" / "worker-zone-detection.gif"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return read_frames(path)


@pytest.fixture(scope="module")
def classroom_frames() -> list[np.ndarray]:
    path = Path(__file__).resolve().parents[2].parent / "shared" / "footage" / "classroom.gif"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return read_frames(path)


def test_reid_same_person_beats_different_people(reid_model, worker_frames, classroom_frames):
    worker = reid_model.embed([_crop(worker_frames[k], b) for k, b in WORKER_BOXES.items()])
    class0 = reid_model.embed([_crop(classroom_frames[0], b) for b in CLASSROOM_BOXES[0]])
    class40 = reid_model.embed([_crop(classroom_frames[40], b) for b in CLASSROOM_BOXES[40]])
    assert worker.shape == (5, 256)
    assert np.allclose(np.linalg.norm(worker, axis=1), 1.0, atol=1e-5)
    same_worker = worker @ worker.T
    cross_people = class0 @ class40.T
    different = cross_people[~np.eye(4, dtype=bool)]
    same_seated = np.diag(cross_people)
    worker_vs_class = worker @ class0.T
    assert same_worker.min() > different.max(), (same_worker.min(), different.max())
    assert same_seated.min() > different.max()
    assert same_worker.min() > 0.85 and worker_vs_class.max() < 0.6


def test_reid_identifier_on_footage(tmp_path, reid_path, worker_frames, classroom_frames):
    gallery = enroll_gallery(
        [_crop(worker_frames[k], WORKER_BOXES[k]) for k in (20, 40)], reid_path, tmp_path / "staff.gallery"
    )  # no .npz suffix: the name is kept as given
    assert gallery == tmp_path / "staff.gallery" and gallery.is_file()
    assert ReidGallery.load(gallery).embeddings.shape == (2, 256)
    cfg = _staff(method=StaffMethod.reid, reid_model=reid_path, gallery=gallery, min_evidence=3)
    ident = StaffIdentifier(cfg, ZONES, reid_interval_s=0.4)
    # the worker walks on (frames 50-70, after the enrolled ones); t advances 0.1 s a frame
    verdicts = []
    for i, k in enumerate(range(50, 71)):
        box = WORKER_BOXES[50] if k < 60 else WORKER_BOXES[60]
        dets, zones = _detections({7: (box, "teller")})
        verdicts.append(ident.update(worker_frames[k], dets, zones, i * 0.1)[7])
    assert verdicts[:8] == [None] * 8 and set(verdicts[8:]) == {True}  # scored at 0.0, 0.4, 0.8 s
    assert ident.timings.model_runs == 3
    # the four seated classroom people are not the enrolled worker
    for i, frame in enumerate(classroom_frames[:12]):
        frame_tracks = {10 + j: (b, "teller") for j, b in enumerate(CLASSROOM_BOXES[0])}
        dets, zones = _detections(frame_tracks)
        result = ident.update(frame, dets, zones, 10.0 + i * 0.2)
    assert result == {10: False, 11: False, 12: False, 13: False}
    assert "does not match the enrolled staff gallery" in (ident.describe(10) or "")


def test_reid_runs_at_most_a_few_crops_a_frame(tmp_path, reid_path, classroom_frames):
    gallery = enroll_gallery(
        [_crop(classroom_frames[0], CLASSROOM_BOXES[0][0])], reid_path, tmp_path / "g.npz"
    )
    cfg = _staff(method=StaffMethod.reid, reid_model=reid_path, gallery=gallery, min_evidence=1)
    ident = StaffIdentifier(cfg, ZONES, reid_max_per_frame=2)
    tracks = {20 + j: (b, "teller") for j, b in enumerate(CLASSROOM_BOXES[0])}
    dets, zones = _detections(tracks)
    first = ident.update(classroom_frames[1], dets, zones, 0.0)
    assert ident.timings.model_runs == 2 and sum(v is not None for v in first.values()) == 2
    second = ident.update(classroom_frames[2], dets, zones, 0.2)
    assert ident.timings.model_runs == 4
    assert second == {20: True, 21: False, 22: False, 23: False}


def test_reid_embedding_time(reid_model, worker_frames):
    crop = _crop(worker_frames[40], WORKER_BOXES[40])
    reid_model.embed([crop])  # warm-up
    runs = []
    for _ in range(20):
        t0 = time.perf_counter()
        reid_model.embed([crop])
        runs.append(time.perf_counter() - t0)
    median_ms = 1000 * float(np.median(runs))
    print(f"re-ID embedding: median {median_ms:.1f} ms per crop over {len(runs)} runs")
    assert median_ms < 250


def test_reid_rejects_a_detector_model(shared_model):
    path = shared_model("yolox_nano_416x416.onnx")
    with pytest.raises(
        ModelLoadError,
        match=r"yolox_nano_416x416\.onnx takes input \[1, 3, 416, 416\]; expected "
        r"\[1, 256, 128, 3\]",
    ):
        ReidModel(path)


@pytest.mark.parametrize(
    ("content", "match"),
    [(None, "re-ID model not found"), (b"not a model", "cannot load re-ID model")],
    ids=["missing", "not onnx"],
)
def test_reid_unloadable_model(tmp_path, content, match):
    path = tmp_path / "reid.onnx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelLoadError, match=match):
        ReidModel(path)


LAYOUTS = [
    ([1, 256, 128, 3], "NHWC"),
    (["batch", 256, 128, 3], "NHWC"),
    ([1, 3, 256, 128], "NCHW"),
    ([None, 3, "h", "w"], "NCHW"),
    ([1, 3, 416, 416], None),
    ([1, 128, 256, 3], None),
    ([4, 256, 128, 3], None),
    ([1, 256, 128], None),
    (["n", "c", "h", "w"], None),
]


@pytest.mark.parametrize(("shape", "layout"), LAYOUTS, ids=[str(s) for s, _ in LAYOUTS])
def test_reid_input_layouts(shape, layout):
    assert ReidModel._layout(shape) == layout


def test_reid_gallery_from_another_model(tmp_path, reid_path):
    other = tmp_path / "g.npz"
    with other.open("wb") as f:
        np.savez(
            f,
            kind=np.array("tellerwatch-reid-gallery"),
            embeddings=np.eye(2, 256, dtype=np.float32),
            model_sha256=np.array("0" * 64),
        )
    cfg = _staff(method=StaffMethod.reid, reid_model=reid_path, gallery=other)
    with pytest.raises(ModelLoadError, match="enrolled with another model"):
        build_staff_identifier(cfg, ZONES)
    with other.open("wb") as f:
        np.savez(
            f,
            kind=np.array("tellerwatch-reid-gallery"),
            embeddings=np.eye(2, 64, dtype=np.float32),
            model_sha256=np.array(""),
        )
    with pytest.raises(ModelLoadError, match="64-d embeddings"):
        build_staff_identifier(cfg, ZONES)
    other.write_bytes(b"junk")
    with pytest.raises(ModelLoadError, match="cannot read re-ID gallery"):
        build_staff_identifier(cfg, ZONES)
