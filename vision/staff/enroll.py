"""``tellerwatch enroll``: a uniform profile or a re-ID gallery from a folder of staff crops."""

from __future__ import annotations

from pathlib import Path

from vision.config import StaffMethod
from vision.staff.common import _read_images
from vision.staff.reid import enroll_gallery
from vision.staff.uniform import enroll_uniform


def enroll(method: str | StaffMethod, images_dir: Path, out: Path, reid_model: Path | None = None) -> Path:
    """``tellerwatch enroll``: build a uniform profile or a re-ID gallery from a folder of crops."""
    m = StaffMethod(method) if not isinstance(method, StaffMethod) else method
    if m not in (StaffMethod.uniform, StaffMethod.reid):
        raise ValueError(f"only methods 'uniform' and 'reid' are enrolled, not {m.value!r}")
    if m == StaffMethod.reid and reid_model is None:
        raise ValueError("method 'reid' needs a re-ID model (--reid-model PATH)")
    images = _read_images(Path(images_dir))
    if reid_model is not None and m == StaffMethod.reid:
        return enroll_gallery(images, Path(reid_model), Path(out))
    return enroll_uniform(images, Path(out))
