"""detector.roi: zones runs the detector on the zones' region and still reports frame pixels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vision.config import AppConfig, load_config
from vision.runner import run
from vision.zones import ZoneSet

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "benchmarks" / "cases" / "classroom_desks.yaml"


def case(roi: str) -> AppConfig:
    """The classroom case with centre anchors (a zone testing the bottom centre reaches the top of
    the frame, and these would then cover too much of it to crop)."""
    app = load_config(CASE)
    cam = app.cameras[0]
    cam = cam.model_copy(update={"zones": [z.model_copy(update={"anchor": "center"}) for z in cam.zones]})
    return app.model_copy(update={"detector": app.detector.model_copy(update={"roi": roi}), "cameras": [cam]})


def zone_counts(tmp_path: Path, roi: str) -> list[dict[str, int]]:
    app = case(roi)
    frames = tmp_path / f"frames-{roi}.jsonl"
    run(app, data_dir=tmp_path / roi, clips=False, frames_jsonl=frames, status_interval_s=None)
    rows = [json.loads(line) for line in frames.read_text().splitlines()]
    return [{name: z["persons"] for name, z in r["zones"].items()} for r in rows]


@pytest.mark.slow
def test_zone_region_finds_the_same_people_in_the_same_zones(tmp_path: Path, footage) -> None:
    footage("classroom.gif")  # skips where ../shared is absent
    app = case("zones")
    region = ZoneSet(app.cameras[0].zones, 480, 270).region()
    assert region is not None and region != (0, 0, 480, 270)  # the case does crop
    full, roi = zone_counts(tmp_path, "full"), zone_counts(tmp_path, "zones")
    assert len(full) == len(roi) > 10
    assert roi == full
    assert all(c == {"desks_all": 4, "desks_left": 2, "desks_right": 2} for c in roi)
