"""Privacy on export (``?privacy=blur``): a real clip and snapshot of real faces (classroom.gif from
../shared/footage) go through the API; the faces outside the camera's teller_area zone come back
blurred in a playable H.264, a face inside it stays as it was."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import av
import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.privacy import FaceFinder, KeepZone, in_keep_zone
from benchmarks.footage import read_frames
from tests.api.helpers import INGEST_KEY, record
from tests.conftest import SHARED
from vision.evidence.mp4 import ClipWriter

FOOTAGE = SHARED / "footage" / "classroom.gif"
pytestmark = pytest.mark.skipif(not FOOTAGE.is_file(), reason=f"{FOOTAGE} is absent (real footage lives in ../shared)")
KEY = {"X-API-Key": INGEST_KEY}
FRAMES = 8


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A 5 fps clip and a snapshot of the classroom, and two faces the detector finds in it."""
    images = read_frames(FOOTAGE, FRAMES)
    clip = tmp_path_factory.mktemp("privacy") / "c.mp4"
    writer = ClipWriter(clip, fps=5)
    t0 = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
    for i, image in enumerate(images):
        writer.write(image, t0 + timedelta(seconds=i / 5))
    assert writer.close() is not None
    ok, jpeg = cv2.imencode(".jpg", images[0], [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    faces = FaceFinder().find(images[0])
    assert len(faces) >= 3, "classroom.gif shows four faces"
    faces = faces[np.argsort(faces[:, 0])]
    return {"clip": clip.read_bytes(), "jpeg": jpeg.tobytes(), "keep": faces[0], "blur": faces[-1],
            "size": images[0].shape[1::-1]}


def sharpness(image: np.ndarray, box: np.ndarray) -> float:
    x1, y1, x2, y2 = (int(v) for v in box)
    grey = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def decode(data: bytes) -> tuple[str, list[np.ndarray]]:
    with av.open(io.BytesIO(data)) as f:
        stream = f.streams.video[0]
        return stream.codec_context.name, [fr.to_ndarray(format="bgr24") for fr in f.decode(stream)]


def teller_zone_around(box: np.ndarray, size: tuple[int, int]) -> dict[str, Any]:
    w, h = size
    x1, y1, x2, y2 = box
    pad = 10
    pts = [[(x1 - pad) / w, (y1 - pad) / h], [(x2 + pad) / w, (y1 - pad) / h],
           [(x2 + pad) / w, (y2 + pad) / h], [(x1 - pad) / w, (y2 + pad) / h]]
    return {"name": "teller_area", "kind": "teller_area",
            "polygon": [[min(1.0, max(0.0, x)), min(1.0, max(0.0, y))] for x, y in pts]}


def test_blurred_clip_and_snapshot_keep_the_teller_area_face(
    client: TestClient, users: Any, evidence: dict[str, Any]
) -> None:
    camera = f"privacy-{uuid.uuid4().hex[:8]}"
    rec = record(site="site-a", camera=camera)
    r = client.post("/api/v1/events", headers=KEY, data={"record": json.dumps(rec)},
                    files={"snapshot": ("s.jpg", evidence["jpeg"], "image/jpeg"),
                           "clip": ("c.mp4", evidence["clip"], "video/mp4")})
    assert r.status_code == 201, r.text
    vid, op = rec["id"], users.headers("operator")
    url = f"/api/v1/violations/{vid}/clip"
    _, original = decode(client.get(url, headers=op).content)
    keep, blur = evidence["keep"], evidence["blur"]

    # the camera's zones are unknown: every face is blurred
    r = client.get(url, params={"privacy": "blur"}, headers=op)
    assert r.status_code == 200, r.text
    codec, frames = decode(r.content)
    assert codec == "h264" and len(frames) == len(original)
    assert sharpness(frames[0], keep) < 0.5 * sharpness(original[0], keep)

    # a teller_area zone around one face: that face stays sharp, the others are blurred
    zone = teller_zone_around(keep, evidence["size"])
    assert in_keep_zone(keep, [KeepZone(np.asarray(zone["polygon"], np.float32))], *evidence["size"])
    r = client.put(f"/api/v1/cameras/{camera}/zones", params={"site": "site-a"}, json={"zones": [zone]},
                   headers=users.headers("engineer"))
    assert r.status_code == 200, r.text
    r = client.get(url, params={"privacy": "blur", "download": "1"}, headers=op)
    assert r.status_code == 200
    assert r.headers["content-disposition"] == f'attachment; filename="{vid}.blurred.mp4"'
    codec, frames = decode(r.content)
    assert codec == "h264" and len(frames) == len(original)
    for got, was in zip(frames, original, strict=True):
        assert sharpness(got, blur) < 0.5 * sharpness(was, blur)
        assert abs(sharpness(got, keep) / sharpness(was, keep) - 1) < 0.35
    # a player seeking through the blurred export gets ranges of it
    part = client.get(url, params={"privacy": "blur"}, headers={**op, "Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == r.content[:100]

    snap = client.get(f"/api/v1/violations/{vid}/snapshot", params={"privacy": "blur"}, headers=op)
    assert snap.status_code == 200 and snap.headers["content-type"] == "image/jpeg"
    got = cv2.imdecode(np.frombuffer(snap.content, np.uint8), cv2.IMREAD_COLOR)
    was = cv2.imdecode(np.frombuffer(evidence["jpeg"], np.uint8), cv2.IMREAD_COLOR)
    assert sharpness(got, blur) < 0.5 * sharpness(was, blur)
    x1, y1, x2, y2 = keep  # re-saved as JPEG: the kept face differs by compression noise only
    assert np.abs(got[y1:y2, x1:x2].astype(int) - was[y1:y2, x1:x2]).mean() < 6

    rows = [x for x in client.get("/api/v1/audit", headers=users.headers("admin"),
                                  params={"limit": 500}).json()["items"] if x["violation_id"] == vid]
    assert {(x["action"], x["detail"]) for x in rows} >= {
        ("download_clip", "privacy=blur"), ("view_clip", "privacy=blur"), ("view_snapshot", "privacy=blur"),
        ("view_clip", None),
    }


def test_bad_privacy_value_is_refused(client: TestClient, users: Any, evidence: dict[str, Any]) -> None:
    rec = record(site="site-a")
    r = client.post("/api/v1/events", headers=KEY, data={"record": json.dumps(rec)},
                    files={"clip": ("c.mp4", evidence["clip"], "video/mp4")})
    assert r.status_code == 201
    for kind in ("clip", "snapshot", "clip/annotated"):
        r = client.get(f"/api/v1/violations/{rec['id']}/{kind}", params={"privacy": "foo"},
                       headers=users.headers("operator"))
        assert r.status_code == 422, (kind, r.text)
