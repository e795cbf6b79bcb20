"""The staff stage: one judge per camera, chosen by ``staff.method``."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import supervision as sv

from vision.config import StaffConfig, StaffMethod, ZoneConfig
from vision.errors import ModelLoadError
from vision.observations import IS_STAFF, ZONES, column
from vision.staff.appearance import _AppearanceJudge, _ReidScorer, _UniformScorer
from vision.staff.common import DEFAULT_REID_THRESHOLD, Verdict, _file_sha256
from vision.staff.entry import _EntryJudge
from vision.staff.judges import _Constant, _Judge
from vision.staff.reid import ReidGallery, ReidModel
from vision.staff.uniform import UniformProfile


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
        if tracks.tracker_id is None or len(tracks) == 0:
            ids: list[int] = []
            boxes = np.zeros((0, 4), dtype=np.float32)
        else:
            keep = np.asarray(tracks.tracker_id) >= 0
            ids = [int(i) for i in np.asarray(tracks.tracker_id)[keep]]
            boxes = np.asarray(tracks.xyxy, dtype=np.float32)[keep]
        return self._judge_tracks(image, ids, boxes, [memberships.get(tid, frozenset()) for tid in ids], t)

    def __call__(self, image: np.ndarray, persons: sv.Detections, t: float) -> sv.Detections:
        """The staff stage: ``persons`` (with ``tracker_id`` and ``data["zones"]``) with
        ``data["is_staff"]`` added; unconfirmed boxes (``tracker_id`` -1) stay None."""
        n = len(persons)
        tids = np.asarray(persons.tracker_id) if persons.tracker_id is not None else np.full(n, -1)
        keep = tids >= 0
        ids = [int(i) for i in tids[keep]]
        boxes = np.asarray(persons.xyxy, dtype=np.float32)[keep]
        zones = persons.data.get(ZONES, column([frozenset()] * n))
        verdicts = self._judge_tracks(image, ids, boxes, list(zones[keep]), t)
        persons.data[IS_STAFF] = column([verdicts.get(int(tid)) if tid >= 0 else None for tid in tids])
        return persons

    def _judge_tracks(
        self, image: np.ndarray, ids: list[int], boxes: np.ndarray, zones: list[frozenset[str]], t: float
    ) -> dict[int, Verdict]:
        t0 = time.perf_counter()
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
