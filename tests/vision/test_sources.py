"""Camera sources against real footage and real loopback servers.

Files come from ../shared/footage (skipped where absent); derived files (a faststart remux, a
truncated or corrupted copy) are written to tmp_path. Live sources are exercised over HTTP on
127.0.0.1: a recording served by ``http.server`` and a synthetic MJPEG camera
(multipart/x-mixed-replace, what many IP cameras serve) that can go down, stall and come back on
the same port. No RTSP server is involved yet.
"""

from __future__ import annotations

import functools
import http.server
import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import av
import cv2
import numpy as np
import pytest

import vision.sources as sources
import vision.sources.file  # noqa: F401  (sources.file, patched below)
from vision.config import CameraConfig
from vision.errors import SourceError
from vision.frames import Frame, SourceGap
from vision.sources import FrameSource, open_source

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 26, 9, 0, tzinfo=TZ)
BOTTLE_FRAMES = 1189
BOTTLE_FPS = 179 / 6  # 29.83


def camera(source: str | int, **fields: object) -> CameraConfig:
    """A camera whose source need not exist: the source must report that, not the config."""
    data = {"id": "cam", "source": source, **fields}
    return CameraConfig.model_validate(data, context={"check_files": False})


def frames_of(src: FrameSource) -> list[Frame]:
    items = list(src)
    assert all(isinstance(i, Frame) for i in items)
    return [i for i in items if isinstance(i, Frame)]


def remux_faststart(src: Path, dst: Path) -> Path:
    """Stream copy with the index in front, so that a prefix of the file is still playable."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", options={"movflags": "faststart"}) as out:
        ins = inp.streams.video[0]
        outs = out.add_stream_from_template(ins)
        for packet in inp.demux(ins):
            if packet.dts is None:
                continue
            packet.stream = outs
            out.mux(packet)
    return dst


@pytest.fixture
def bottle(footage) -> Path:
    return footage("bottle-detection.mp4")


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    """A stop event that also fires after 20 s, so a broken live test fails instead of hanging."""
    event = threading.Event()
    timer = threading.Timer(20.0, event.set)
    timer.daemon = True
    timer.start()
    yield event
    timer.cancel()
    event.set()


# --------------------------------------------------------------------------- video files


def test_mp4_sampled_at_analysis_fps(bottle: Path) -> None:
    with open_source(camera(str(bottle), analysis_fps=5, replay_start=START), TZ) as src:
        assert not src.is_live
        assert src.size == (640, 360)
        assert src.frame_count == BOTTLE_FRAMES
        assert src.fps == pytest.approx(BOTTLE_FPS, rel=1e-3)
        assert src.duration_s == pytest.approx(BOTTLE_FRAMES / BOTTLE_FPS, abs=0.05)
        frames = frames_of(src)

    assert src.duration_s is not None
    assert len(frames) == pytest.approx(src.duration_s * 5, abs=1)
    ts = np.array([f.t for f in frames])
    assert ts[0] == 0.0
    assert np.all(np.abs(np.diff(ts) - 0.2) <= 1 / BOTTLE_FPS + 1e-6)
    for f in frames:
        assert f.ts == START + timedelta(seconds=f.t)
        assert f.image.shape == (360, 640, 3) and f.image.dtype == np.uint8 and f.image.flags.c_contiguous
        assert f.index == round(f.t * BOTTLE_FPS)  # source frame number, not the yield count
        assert f.captured_at > 0
    # Sampling skipped work: fewer frames decoded than the file holds, none dropped.
    assert len(frames) <= src.decoded_frames < BOTTLE_FRAMES
    assert src.dropped_frames == 0 and src.gaps == 0


def test_skipping_undecoded_frames_changes_nothing(bottle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Skipping non-reference frames must leave the kept frames, their times and numbers intact."""
    with open_source(camera(str(bottle), analysis_fps=5), TZ) as src:
        skipped = frames_of(src)
    monkeypatch.setattr(sources.file, "_NONREF_SKIP_CODECS", frozenset())  # where the file source reads it
    with open_source(camera(str(bottle), analysis_fps=5), TZ) as full_src:
        full = frames_of(full_src)
    assert full_src.decoded_frames == BOTTLE_FRAMES > src.decoded_frames
    assert [(f.index, f.t) for f in skipped] == [(f.index, f.t) for f in full]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(skipped, full, strict=True))


SCENE = Path(__file__).resolve().parents[2] / "sample_videos" / "scenes" / "busy_counter.mp4"


def test_every_frame_rides_along_as_lead_in() -> None:
    """``every_frame``: the iterator still yields analysed frames only, and the frames sampling
    passed over arrive, in order and none missing, as the next analysed frame's ``lead_in``."""
    with open_source(camera(str(SCENE), analysis_fps=5, replay_start=START), TZ) as plain_src:
        plain = frames_of(plain_src)
    with open_source(camera(str(SCENE), analysis_fps=5, replay_start=START), TZ, every_frame=True) as src:
        frames = frames_of(src)
    assert [(f.index, f.t) for f in frames] == [(f.index, f.t) for f in plain]  # same analysed frames
    assert all(np.array_equal(a.image, b.image) for a, b in zip(frames, plain, strict=True))
    assert not any(f.lead_in for f in plain)
    every = [x for f in frames for x in (*f.lead_in, f)]
    # 60 s at 10 fps: every decoded frame once, but for the file's last one (t = 59.9 s): frames after
    # the last analysed frame have no frame to ride on
    assert src.decoded_frames == 600 and len(every) == 599
    assert [x.index for x in every] == list(range(len(every)))
    assert all(b.ts > a.ts for a, b in zip(every, every[1:], strict=False))
    assert all(len(f.lead_in) == 1 for f in frames[1:])  # 10 fps analysed at 5 fps
    for x in frames[5].lead_in:
        assert x.image.shape == frames[5].image.shape and x.ts == START + timedelta(seconds=x.t)


@pytest.mark.parametrize(
    ("name", "count"),
    [("classroom.gif", 45), ("worker-zone-detection.gif", 71), ("bottle-detection.mp4", BOTTLE_FRAMES)],
)
def test_every_frame_when_analysis_fps_exceeds_source(footage, name: str, count: int) -> None:
    with open_source(camera(str(footage(name)), analysis_fps=60), TZ) as src:
        frames = frames_of(src)
    assert len(frames) == count == src.decoded_frames
    assert [f.index for f in frames] == list(range(count))
    assert all(b.t > a.t for a, b in zip(frames, frames[1:], strict=False))
    w, h = src.size or (0, 0)
    assert all(f.image.shape == (h, w, 3) and f.image.dtype == np.uint8 for f in frames)
    if name.endswith(".gif"):
        assert (w, h) == (480, 270)


def test_default_replay_start_is_open_time(footage) -> None:
    before = datetime.now(TZ)
    with open_source(camera(str(footage("classroom.gif"))), TZ) as src:
        first = next(src)
    assert isinstance(first, Frame)
    assert before <= first.ts <= datetime.now(TZ)
    assert first.ts.tzinfo is not None


def test_loop_continues_time(footage) -> None:
    stop = threading.Event()
    with open_source(camera(str(footage("classroom.gif")), analysis_fps=60, loop=True), TZ, stop=stop) as src:
        frames = []
        for item in src:
            assert isinstance(item, Frame)
            frames.append(item)
            if len(frames) == 100:
                stop.set()
    assert len(frames) == 100  # 45 frames a pass: the third pass had begun
    assert all(b.t > a.t and b.index == a.index + 1 for a, b in zip(frames, frames[1:], strict=False))
    assert src.fps is not None
    assert frames[45].t == pytest.approx(frames[44].t + 1 / src.fps, abs=1e-6)
    assert np.array_equal(frames[45].image, frames[0].image)


def test_truncated_file_ends_cleanly(bottle: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fast = remux_faststart(bottle, tmp_path / "fast.mp4")
    data = fast.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.4)])
    with caplog.at_level(logging.WARNING, logger="vision.sources"):
        with open_source(camera(str(cut), analysis_fps=60), TZ) as src:
            frames = frames_of(src)
    assert 100 < len(frames) < 0.6 * BOTTLE_FRAMES
    assert frames[-1].index == len(frames) - 1
    assert any(str(cut) in r.getMessage() for r in caplog.records)


def test_corrupt_middle_is_skipped(bottle: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = bytearray(remux_faststart(bottle, tmp_path / "fast.mp4").read_bytes())
    mid = len(data) // 2
    data[mid : mid + 20_000] = np.random.default_rng(7).integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="vision.sources"):
        with open_source(camera(str(bad), analysis_fps=5), TZ) as src:
            frames = frames_of(src)
    assert 150 < len(frames) <= 200
    assert frames[-1].index == BOTTLE_FRAMES - 1  # the frames after the damage still come
    assert any("undecodable" in r.getMessage() for r in caplog.records)


def _garbage(p: Path) -> Path:
    p.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    return p


def _empty(p: Path) -> Path:
    p.write_bytes(b"")
    return p


def _image_only_folder(p: Path) -> Path:
    p.mkdir()
    (p / "notes.txt").write_text("no images here")
    return p


def _broken_image_folder(p: Path) -> Path:
    p.mkdir()
    (p / "000.png").write_bytes(b"not a png")
    return p


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda p: p, "no such file"),
        (_garbage, "not a readable video"),
        (_empty, "not a readable video"),
        (_image_only_folder, "no images"),
        (_broken_image_folder, "can be decoded"),
    ],
    ids=["missing", "garbage", "empty", "folder-without-images", "folder-broken-image"],
)
def test_unreadable_sources_fail_at_open(tmp_path: Path, make, why: str) -> None:
    path = make(tmp_path / "clip.mp4")
    with pytest.raises(SourceError) as err:
        open_source(camera(str(path)), TZ)
    message = str(err.value)
    assert why in message and str(path) in message and "\n" not in message


def test_truncated_file_without_index_fails_at_open(bottle: Path, tmp_path: Path) -> None:
    """A camera export cut off before its trailing index (moov) has no playable prefix."""
    cut = tmp_path / "cut.mp4"
    data = bottle.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.4)])
    with pytest.raises(SourceError, match="not a readable video"):
        open_source(camera(str(cut)), TZ)


@pytest.mark.parametrize(
    "kwargs",
    [{"stall_timeout_s": 0}, {"backoff_s": (2.0, 1.0)}, {"backoff_s": (0.0, 1.0)}, {"queue_size": 0}],
)
def test_bad_arguments_are_named(kwargs: dict) -> None:
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        open_source(camera("http://127.0.0.1:9/none"), TZ, **kwargs)


# --------------------------------------------------------------------------- image folders


def test_image_folder(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(4)]
    for i, image in enumerate(images):
        cv2.imwrite(str(folder / f"{i:03d}.png"), image)
    cv2.imwrite(str(folder / "004.png"), images[0][:, :, 0])  # grayscale still comes out BGR
    cv2.imwrite(str(folder / "005.png"), np.dstack([images[1], np.full((48, 64), 255, np.uint8)]))  # BGRA
    (folder / "readme.txt").write_text("ignored")
    (folder / "006.jpg").write_bytes(b"truncated upload")  # skipped, with a warning

    with caplog.at_level(logging.WARNING, logger="vision.sources"):
        with open_source(camera(str(folder), analysis_fps=4, replay_start=START), TZ) as src:
            assert (src.frame_count, src.fps, src.size) == (7, 4.0, (64, 48))
            frames = frames_of(src)
    assert any("1 unreadable image" in r.getMessage() for r in caplog.records)
    assert [f.index for f in frames] == list(range(6))
    assert [f.t for f in frames] == [i / 4 for i in range(6)]
    assert all(f.ts == START + timedelta(seconds=f.t) for f in frames)
    assert all(f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8 for f in frames)
    for got, want in zip(frames, images, strict=False):
        assert np.array_equal(got.image, want)
    assert np.array_equal(frames[5].image, images[1])


# --------------------------------------------------------------------------- loopback servers


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


class MjpegCamera:
    """A synthetic MJPEG IP camera on 127.0.0.1 that can go down and come back on its port.

    ``stall_after``: the first connection sends that many frames, then keeps the socket open
    and silent, which is what a hung camera looks like to a client.
    """

    def __init__(self, fps: float = 25.0, stall_after: int | None = None) -> None:
        self.fps = fps
        self.stall_after = stall_after
        self.connections = 0
        self.port = 0
        self._down = threading.Event()
        self._server: http.server.ThreadingHTTPServer | None = None
        levels = range(0, 250, 25)
        self._jpegs = [cv2.imencode(".jpg", np.full((120, 160, 3), v, np.uint8))[1].tobytes() for v in levels]

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        cam = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                cam.connections += 1
                stall = cam.stall_after if cam.connections == 1 else None
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                sent = 0
                try:
                    while not cam._down.is_set():
                        if stall is not None and sent >= stall:
                            cam._down.wait()
                            break
                        jpg = cam._jpegs[sent % len(cam._jpegs)]
                        self.wfile.write(
                            b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpg)
                            + jpg
                            + b"\r\n"
                        )
                        sent += 1
                        time.sleep(1 / cam.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def start(self) -> None:
        self._down.clear()
        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server

    def stop(self) -> None:
        self._down.set()  # ends every open stream: the client sees the connection close
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def mjpeg_camera() -> Iterator[MjpegCamera]:
    cam = MjpegCamera()
    cam.start()
    yield cam
    cam.stop()


def _next_frame(src: FrameSource) -> Frame:
    for item in src:
        if isinstance(item, Frame):
            return item
    raise AssertionError("source ended without a frame")


@pytest.mark.timeout(30)
def test_http_recording_as_live_stream(bottle: Path, tmp_path: Path, stop: threading.Event) -> None:
    """An H.264 recording served over HTTP is live: wall-clock times, and ``stop`` ends it."""
    remux_faststart(bottle, tmp_path / "live.mp4")
    handler = functools.partial(_Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/live.mp4"
    try:
        before = datetime.now(TZ)
        with open_source(camera(url, analysis_fps=20, replay_start=START), TZ, stop=stop) as src:
            assert src.is_live and src.frame_count is None and src.duration_s is None
            frames = [_next_frame(src) for _ in range(5)]
            taken_at = datetime.now(TZ)
            stop.set()
            t0 = time.monotonic()
            assert list(src) == []
            assert time.monotonic() - t0 < 0.5
        for f in frames:
            assert before <= f.ts <= taken_at  # wall clock, not replay_start
            assert f.image.shape == (360, 640, 3) and f.image.flags.c_contiguous
        assert all(b.t > a.t and b.index > a.index for a, b in zip(frames, frames[1:], strict=False))
        assert src.size == (640, 360) and src.fps == pytest.approx(BOTTLE_FPS, rel=1e-3)
        assert not any(f.lead_in for f in frames)

        # every_frame: the frames between two analysed ones ride along, numbered without holes
        with open_source(camera(url, analysis_fps=5), TZ, every_frame=True) as src:
            frames = [_next_frame(src) for _ in range(4)]
        for a, b in zip(frames, frames[1:], strict=False):
            if b.index - a.index > 1 + len(b.lead_in):
                continue  # the drop-oldest queue dropped an analysed frame (and its lead-in) here
            assert [x.index for x in b.lead_in] == list(range(a.index + 1, b.index))
            assert all(a.ts <= x.ts <= b.ts for x in b.lead_in)
        assert sum(len(f.lead_in) for f in frames[1:]) >= 3
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.timeout(30)
def test_slow_consumer_gets_newest_frame(mjpeg_camera: MjpegCamera, stop: threading.Event) -> None:
    with open_source(camera(mjpeg_camera.url, analysis_fps=25), TZ, stop=stop) as src:
        first = _next_frame(src)
        time.sleep(0.6)  # the pipeline is busy; the camera keeps sending
        latest = _next_frame(src)
        got_at = datetime.now(TZ)
    assert src.dropped_frames >= 5
    assert latest.index - first.index >= 7
    assert (got_at - latest.ts).total_seconds() < 0.25  # one of the last two, not a stale one


@pytest.mark.timeout(30)
def test_reconnects_after_camera_restart(mjpeg_camera: MjpegCamera, stop: threading.Event) -> None:
    with open_source(camera(mjpeg_camera.url, analysis_fps=10), TZ, stop=stop) as src:
        seen = [_next_frame(src) for _ in range(3)]
        mjpeg_camera.stop()
        time.sleep(1.0)
        mjpeg_camera.start()
        back_at = time.monotonic()
        item = next(src)
        while isinstance(item, Frame):  # frames queued before the outage
            seen.append(item)
            item = next(src)
        assert isinstance(item, SourceGap)
        after = _next_frame(src)
        reconnect_s = time.monotonic() - back_at
    assert reconnect_s < 5.0
    gap = item
    assert gap.camera_id == "cam" and gap.ended is not None
    assert seen[-1].ts <= gap.started < gap.ended <= after.ts
    assert (gap.ended - gap.started).total_seconds() >= 1.0
    assert after.index > seen[-1].index and after.t > seen[-1].t
    assert (src.gaps, src.reconnects) == (1, 1)
    assert src.size == (160, 120)


@pytest.mark.timeout(30)
def test_stall_reopens_stream(stop: threading.Event) -> None:
    cam = MjpegCamera(stall_after=5)
    cam.start()
    try:
        t0 = time.monotonic()
        with open_source(camera(cam.url, analysis_fps=25), TZ, stop=stop, stall_timeout_s=1.0) as src:
            item = next(src)
            while isinstance(item, Frame):
                item = next(src)
            assert isinstance(item, SourceGap) and item.reason.startswith("stall")
            assert isinstance(next(src), Frame)
        assert time.monotonic() - t0 < 6.0
        assert cam.connections >= 2 and src.reconnects == 1
    finally:
        cam.stop()


@pytest.mark.timeout(30)
def test_camera_down_at_start_is_an_outage(stop: threading.Event) -> None:
    cam = MjpegCamera()
    cam.start()
    cam.stop()  # keep the port, lose the listener
    with open_source(camera(cam.url), TZ, stop=stop) as src:
        time.sleep(0.8)
        cam.start()
        try:
            first = next(src)
            assert isinstance(first, SourceGap) and first.reason.startswith("cannot open")
            assert isinstance(next(src), Frame)
            assert (src.gaps, src.reconnects) == (1, 0)
        finally:
            cam.stop()


@pytest.mark.timeout(30)
def test_opencv_reader(mjpeg_camera: MjpegCamera, stop: threading.Event, monkeypatch) -> None:
    """Webcams go through OpenCV; with no webcam here, point the same reader at the MJPEG camera."""
    monkeypatch.setattr(
        sources._LiveSource, "_open_reader", lambda self: sources._OpenCVCapture(self._source, self._stall)
    )
    with open_source(camera(mjpeg_camera.url, analysis_fps=10), TZ, stop=stop) as src:
        frames = [_next_frame(src) for _ in range(3)]
    assert all(f.image.shape == (120, 160, 3) for f in frames)
    assert frames[0].t < frames[1].t < frames[2].t


def test_queue_drops_oldest_frames_never_gaps() -> None:
    q = sources._DropOldestQueue(2)
    gap = SourceGap("cam", START, START + timedelta(seconds=1), "test")
    made = [Frame("cam", i, float(i), START, np.zeros((2, 2, 3), np.uint8)) for i in range(5)]
    q.put(made[0])
    q.put(gap)
    for f in made[1:]:
        q.put(f)
    out = [q.get(0.0) for _ in range(4)]
    assert out == [gap, made[3], made[4], None]
    assert q.dropped == 3
