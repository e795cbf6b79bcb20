"""The baseline a user would write from supervision's tutorials, for side-by-side timing.

Every frame of the video goes through the detector, ByteTrack and one ``sv.PolygonZone`` per
zone; the per-frame zone counts then go through the same rule engine as TellerWatch, so both
find violations with the same logic and only the frame path differs. Staff identity is taken
from the config's ``everyone`` / ``nobody`` method (the tutorials have no notion of staff), and
the unattended-items rule is skipped (the tutorials have no counter-item watcher).

    python benchmarks/baseline_supervision.py CONFIG --events-jsonl OUT
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

from vision.config import StaffMethod, load_config
from vision.detectors import build_detector
from vision.observations import Observation, TrackObs, ZoneState
from vision.rules import RuleEngine


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("config", type=Path)
    ap.add_argument("--events-jsonl", type=Path, required=True)
    args = ap.parse_args(argv)
    app = load_config(args.config)
    cam = app.cameras[0]
    cam = cam.model_copy(update={"rules": [r for r in cam.rules if r.type != "unattended_items"]})
    detector = build_detector(app.detector)
    info = sv.VideoInfo.from_video_path(str(cam.source))
    tracker = ByteTrackTracker(frame_rate=info.fps)
    wh = np.array([info.width, info.height])
    zones = {
        z.name: (z, sv.PolygonZone(polygon=(z.points * wh).astype(int), triggering_anchors=(sv.Position.CENTER,)))
        for z in cam.zones
    }
    engine = RuleEngine(app.site, cam)
    is_staff = cam.staff.method == StaffMethod.everyone
    start = cam.replay_start
    assert start is not None, "the baseline needs replay_start"
    found = {}
    last_ts = start
    t0 = time.perf_counter()
    for index, frame in enumerate(sv.get_video_frames_generator(str(cam.source))):
        dets = detector.detect(frame)
        dets = dets[dets.class_id == detector.person_class_id]
        dets = tracker.update(dets)
        t = index / info.fps
        ts = start + timedelta(seconds=t)
        states = {}
        tracks = []
        for name, (zcfg, pz) in zones.items():
            inside = pz.trigger(dets)
            ids = tuple(int(i) for i in dets.tracker_id[inside]) if len(dets) else ()
            staff = ids if is_staff else ()
            states[name] = ZoneState(name, zcfg.kind, persons=int(inside.sum()), staff=len(staff),
                                     staff_track_ids=staff, non_staff_track_ids=() if is_staff else ids)
        for i in range(len(dets)):
            tracks.append(TrackObs(int(dets.tracker_id[i]), tuple(map(float, dets.xyxy[i])), 1.0, is_staff))
        for change in engine.step(Observation(cam.id, index, t, ts, states, tuple(tracks))):
            found[change.violation.id] = change.violation
        last_ts = ts
    for change in engine.close(last_ts):
        found[change.violation.id] = change.violation
    with args.events_jsonl.open("w", encoding="utf-8") as fh:
        for v in found.values():
            if v.state.value == "ended":
                fh.write(json.dumps(v.to_json_dict(), ensure_ascii=False) + "\n")
    print(f"baseline: {index + 1} frames in {time.perf_counter() - t0:.1f} s, {len(found)} violation(s)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
