"""Evidence for violations: ring buffer, snapshot JPEG, raw and annotated H.264 clips, retention.

The pipeline owns one ``EvidenceRecorder`` per camera; the API and maintenance jobs call
``apply_retention``. Files live under ``<data dir>/evidence/<camera>/<violation id>.*``.
"""

from vision.evidence.mp4 import ClipStats, ClipWriter, is_fast_start, top_level_boxes
from vision.evidence.overlay import Overlay, Renderer, RuleOverlay, ZoneOverlay, zones_in_pixels
from vision.evidence.recorder import EvidencePaths, EvidenceRecorder, RecorderStats
from vision.evidence.retention import RetentionReport, apply_retention, violation_id_of
from vision.evidence.ring import BufferedFrame, FrameRing

__all__ = [
    "BufferedFrame",
    "ClipStats",
    "ClipWriter",
    "EvidencePaths",
    "EvidenceRecorder",
    "FrameRing",
    "Overlay",
    "RecorderStats",
    "Renderer",
    "RetentionReport",
    "RuleOverlay",
    "ZoneOverlay",
    "apply_retention",
    "is_fast_start",
    "top_level_boxes",
    "violation_id_of",
    "zones_in_pixels",
]
