"""Person tracking with ByteTrack from Roboflow's ``trackers`` package.

The tracker is fed the analysis timestamps, so a skipped or dropped frame does not shorten how
long a lost track is kept. ByteTrack's two thresholds follow the detector config: a box scored at
or above ``detector.confidence`` may start a track (after ``min_consecutive`` frames in a row) and
is matched first; a box between ``detector.low_confidence`` and ``confidence`` only continues a
track it overlaps (the second, motion-only association), so a teller seen from behind whose score
dips for a few frames keeps their track. Low boxes that continue no track are dropped here, so a
lower threshold keeps tracks alive without adding ghosts to any zone.
"""

from __future__ import annotations

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker


class PersonTracker:
    def __init__(
        self,
        *,
        detector_confidence: float,
        analysis_fps: float,
        lost_track_s: float = 3.0,
        min_consecutive: int = 2,
    ) -> None:
        if analysis_fps <= 0:
            raise ValueError(f"analysis_fps must be > 0, got {analysis_fps}")
        self.min_consecutive = min_consecutive  # frames before a new track gets an id
        self.high = detector_confidence
        self._tracker = ByteTrackTracker(
            lost_track_buffer=max(1, int(round(lost_track_s * 30))),
            frame_rate=analysis_fps,
            track_activation_threshold=detector_confidence,
            minimum_consecutive_frames=min_consecutive,
            minimum_iou_threshold=0.1,
            high_conf_det_threshold=detector_confidence,
        )

    def update(self, detections: sv.Detections, t: float) -> sv.Detections:
        """The detections (possibly reordered) with ``tracker_id``, -1 while unconfirmed.

        Boxes below the high threshold come back only where they continue a confirmed track.
        """
        tracked = self._tracker.update(detections, timestamp=t)
        if len(tracked) == 0:
            empty = sv.Detections.empty()
            empty.tracker_id = np.array([], dtype=int)
            return empty
        if tracked.tracker_id is None:
            tracked.tracker_id = np.full(len(tracked), -1, dtype=int)
        conf = tracked.confidence if tracked.confidence is not None else np.ones(len(tracked))
        keep = (np.asarray(tracked.tracker_id) >= 0) | (np.asarray(conf) >= self.high)
        if keep.all():
            return tracked
        kept = tracked[keep]
        assert isinstance(kept, sv.Detections)
        return kept
