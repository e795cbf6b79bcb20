"""Retention: 30 days by default (GA 38-2015), a measured evidence rate, and the warning `run`
and `serve` print when the disk cannot hold that many days, checked on a real 2 MB tmpfs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vision.config import EvidenceConfig
from vision.evidence.retention import capacity_warning, disk_forecast, measured_rate, short_retention_warnings

ROOT = Path(__file__).resolve().parents[2]
SCENE = ROOT / "sample_videos" / "scenes" / "walk_in.yaml"
DAY = 86400.0


def _evidence(folder: Path, vid: str, size: int, age_days: float, now: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for suffix, part in ((".jpg", size // 10), (".mp4", size - size // 10)):
        path = folder / f"{vid}{suffix}"
        path.write_bytes(b"\0" * part)
        os.utime(path, (now - age_days * DAY, now - age_days * DAY))


def test_default_retention_is_30_days() -> None:
    assert EvidenceConfig().retention_days == 30.0
    assert short_retention_warnings({"a": 30.0, "b": None, "c": 7.0}) == [
        "warning: camera c: evidence.retention_days 7 is under the 30 days GA 38-2015 asks for alarm video"]


def test_measured_rate_counts_the_last_week_only(tmp_path: Path) -> None:
    now = time.time()
    for i, age in enumerate((0.1, 1, 2, 3, 4)):
        _evidence(tmp_path / "cam", f"v{i}", 1000, age, now)
    _evidence(tmp_path / "cam", "old", 50_000, 20, now)  # outside the 7-day window: room, not rate
    rate, total = measured_rate(tmp_path, now=now)
    assert rate == pytest.approx(5000 / 4)
    assert total == 55_000
    # an hour of recording is spread over one day, not extrapolated 24-fold
    _evidence(tmp_path / "fresh", "f", 2400, 1 / 24, now)
    assert measured_rate(tmp_path / "fresh", now=now)[0] == pytest.approx(2400)
    assert measured_rate(tmp_path / "absent", now=now) == (0.0, 0)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MB tmpfs (needs root and mount)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def _export(folder: Path, name: str, size: int, age_days: float, now: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"\0" * size)
    os.utime(path, (now - age_days * DAY, now - age_days * DAY))


def test_run_warns_with_figures_when_the_disk_is_too_small(tmpfs: Path) -> None:
    now = time.time()
    evidence = tmpfs / "data" / "evidence" / "walk_in"
    for day in range(5):  # 100 KB of evidence a day for five days
        _evidence(evidence, f"d{day}", 100_000, day + 0.5, now)
    # the privacy exports cache: 300 KB past its day (room: serve deletes it), 100 KB of today's
    exports = tmpfs / "data" / "exports" / "b1"
    _export(exports, "old.clip.k.mp4", 300_000, 2, now)
    _export(exports, "new.clip.k.mp4", 100_000, 0.2, now)
    forecast = disk_forecast(tmpfs / "data" / "evidence", now=now, exports_dir=tmpfs / "data" / "exports")
    free = shutil.disk_usage(tmpfs).free
    assert forecast.free_bytes == free and forecast.evidence_bytes == 500_000
    assert (forecast.exports_bytes, forecast.expired_exports_bytes) == (400_000, 300_000)
    assert forecast.bytes_per_day == pytest.approx(500_000 / 4.5, rel=1e-3)  # exports are no evidence rate
    held = forecast.days_held
    assert held is not None and held == pytest.approx((free + 500_000 + 300_000) / (500_000 / 4.5), rel=1e-3)
    assert held < 30 and forecast.short
    without = disk_forecast(tmpfs / "data" / "evidence", now=now)  # exports not looked at
    assert without.exports_bytes is None and without.days_held is not None and without.days_held < held
    assert capacity_warning(tmpfs / "data" / "evidence", [7.0]) is None  # 7 days fit
    assert capacity_warning(tmpfs / "data" / "evidence", [None]) is not None

    env = {**os.environ, "TELLERWATCH_DATA_DIR": str(tmpfs / "data")}
    done = subprocess.run([sys.executable, "-m", "tellerwatch", "run", str(SCENE), "--no-clips", "--max-seconds", "0.5",
                           "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stderr.splitlines() if x.startswith("warning: evidence disk"))
    assert "bytes free" in line and "bytes/day" in line and "30 required" in line
    assert "+ 300000 bytes of expired exports (privacy exports cache: 400000 bytes)" in line
    shown = float(re.search(r"holds ([0-9.]+) days", line).group(1))  # type: ignore[union-attr]
    assert shown == pytest.approx(held, rel=0.05) and shown < 30


def test_exports_on_another_disk_do_not_count(tmpfs: Path, tmp_path: Path) -> None:
    now = time.time()
    _evidence(tmp_path / "evidence" / "cam", "v", 1000, 1, now)
    _export(tmpfs / "exports", "old.jpg", 300_000, 2, now)
    forecast = disk_forecast(tmp_path / "evidence", now=now, exports_dir=tmpfs / "exports")
    assert forecast.exports_bytes is None and forecast.expired_exports_bytes == 0
    assert "expired exports" not in forecast.message()
    # on the evidence disk: counted, and named in the line
    _export(tmp_path / "exports", "old.jpg", 3000, 2, now)
    same = disk_forecast(tmp_path / "evidence", now=now, exports_dir=tmp_path / "exports")
    assert (same.exports_bytes, same.expired_exports_bytes) == (3000, 3000)
    assert "3000 bytes of expired exports" in same.message()


def test_validate_warns_under_30_days_but_accepts(tmp_path: Path) -> None:
    text = SCENE.read_text(encoding="utf-8").replace("    analysis_fps: 5\n",
                                                     "    analysis_fps: 5\n    evidence: {retention_days: 7}\n")
    cfg = tmp_path / "short.yaml"
    cfg.write_text(text.replace("source: walk_in.mp4", f"source: {SCENE.parent / 'walk_in.mp4'}"), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "tellerwatch", "validate", str(cfg)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "retention_days 7 is under the 30 days GA 38-2015" in done.stderr
