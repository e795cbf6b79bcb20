"""Person tracking with ByteTrack from Roboflow's ``trackers`` package.

The tracker is fed the analysis timestamps, so a skipped or dropped frame does not shorten how
long a lost track is kept. Thresholds follow the detector's confidence: ByteTrack's defaults
(activation 0.7) assume a strong detector and would leave a seated teller seen at 0.5 untracked.
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
        activation = min(0.95, detector_confidence + 0.05)
        self._tracker = ByteTrackTracker(
            lost_track_buffer=max(1, int(round(lost_track_s * 30))),
            frame_rate=analysis_fps,
            track_activation_threshold=activation,
            minimum_consecutive_frames=min_consecutive,
            minimum_iou_threshold=0.1,
            high_conf_det_threshold=max(activation, 0.5),
        )

    def update(self, detections: sv.Detections, t: float) -> sv.Detections:
        """Returns the detections (possibly reordered) with ``tracker_id``; -1 while unconfirmed."""
        if len(detections) == 0:
            empty = sv.Detections.empty()
            empty.tracker_id = np.array([], dtype=int)
            # still advance time so lost tracks age
            self._tracker.update(detections, timestamp=t)
            return empty
        tracked = self._tracker.update(detections, timestamp=t)
        if tracked.tracker_id is None:
            tracked.tracker_id = np.full(len(tracked), -1, dtype=int)
        return tracked
