"""Staff identity: which tracked people count as staff for the teller-area rules.

Every rule about the teller area hinges on this answer, and a wrong "non-staff" is the costliest
mistake: it raises an alarm against a teller doing their job, and operators stop trusting alerts.
So every method here leans towards "staff" when the evidence is thin, says "undecided" (None)
until it has ``min_evidence`` observations, and never changes its mind once it has decided
(``entry`` also reports False for a person still in a customer area; that is a report for the
zone counts, not yet a decision).

Methods (``staff.method`` in the config):

* ``entry``: where a track came from. Appearing inside a teller area (present when the camera
  started, or standing up from behind the counter) or arriving through a ``door`` zone means staff;
  walking in from a customer area, over a counter or from outside every zone means not staff.
  ByteTrack gives a new id after an occlusion, so a new id that appears where a teller-area track
  has just vanished takes over that track's identity.
* ``uniform``: torso colour histogram against a profile enrolled from example crops.
* ``reid``: a person re-identification ONNX model against an enrolled gallery of staff crops.
* ``everyone`` / ``nobody``: constant answers, so any footage can exercise the rules.

Both appearance methods turn a crop into a score in [0, 1] (higher: more like staff) and compare
it with ``staff.threshold``: for ``uniform`` the score is 1 - Bhattacharyya distance between
histograms, for ``reid`` the best cosine similarity against the gallery.

The package, along its seams: ``common`` (verdicts, thresholds, crops), ``uniform`` (the histogram
model), ``reid`` (the ONNX re-ID model and gallery I/O), ``enroll``, the judges (``judges``:
constant, ``entry``, ``appearance``) and ``identifier`` (the stage the pipeline runs).
"""

from vision.staff.appearance import _AppearanceJudge
from vision.staff.common import (
    DEFAULT_REID_THRESHOLD,
    DEFAULT_UNIFORM_THRESHOLD,
    EXPECTED_REID_LAYOUT,
    GALLERY_KIND,
    IMAGE_SUFFIXES,
    PROFILE_KIND,
    REID_HEIGHT,
    REID_WIDTH,
    Verdict,
)
from vision.staff.enroll import enroll
from vision.staff.entry import _EntryJudge
from vision.staff.identifier import StaffIdentifier, StaffTimings, build_staff_identifier
from vision.staff.reid import ReidGallery, ReidModel, enroll_gallery
from vision.staff.uniform import H_BINS, S_BINS, V_BINS, UniformProfile, enroll_uniform, torso_histogram, torso_region

__all__ = [
    "DEFAULT_REID_THRESHOLD", "DEFAULT_UNIFORM_THRESHOLD", "EXPECTED_REID_LAYOUT", "GALLERY_KIND", "H_BINS",
    "IMAGE_SUFFIXES", "PROFILE_KIND", "REID_HEIGHT", "REID_WIDTH", "S_BINS", "V_BINS", "ReidGallery", "ReidModel",
    "StaffIdentifier", "StaffTimings", "UniformProfile", "Verdict", "_AppearanceJudge", "_EntryJudge",
    "build_staff_identifier", "enroll", "enroll_gallery", "enroll_uniform", "torso_histogram", "torso_region",
]
