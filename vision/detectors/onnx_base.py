"""What the YOLOX and Ultralytics ONNX backends share: loading, layout checks, letterbox, batching.

The two layouts differ only in how the input is letterboxed and normalised and in how the raw
output tensor is decoded; everything else (opening the session with threads that suit a 2-core
box, refusing a model of the wrong layout with a one-line error, mapping boxes back through the
letterbox, real batching when the model allows it) lives here once.
"""

from __future__ import annotations

import abc
import ast
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import onnxruntime as ort
import supervision as sv
from onnxruntime.capi import onnxruntime_pybind11_state as _ort_state

from vision.config import DetectorConfig
from vision.detectors.base import Detector, DetectTimes, StageTimer, check_image, require_file
from vision.errors import ModelLoadError

log = logging.getLogger(__name__)

# onnxruntime raises its own exception classes (not RuntimeError) for unreadable or corrupt models.
_ORT_ERRORS: tuple[type[BaseException], ...] = (
    *(c for c in vars(_ort_state).values() if isinstance(c, type) and issubclass(c, Exception)),
    OSError,
    RuntimeError,
    ValueError,
)

_INPUT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}

STRIDES = (8, 16, 32)
PAD_VALUE = 114


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How one image was fitted into the network input, kept so boxes can be mapped back."""

    scale: float
    pad_x: int
    pad_y: int

    def to_image(self, xyxy: np.ndarray) -> np.ndarray:
        return (xyxy - np.array([self.pad_x, self.pad_y, self.pad_x, self.pad_y], np.float32)) / self.scale


def letterbox(image: np.ndarray, height: int, width: int, *, centre: bool) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio and pad with grey 114, as both model families were trained.

    YOLOX pads only right and bottom (``centre=False``); Ultralytics splits the padding evenly.
    Using the wrong one shifts every box by the padding, so it is a property of the layout.
    """
    h, w = image.shape[:2]
    scale = min(height / h, width / w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    if centre:
        pad_x, pad_y = round((width - new_w) / 2 - 0.1), round((height - new_h) / 2 - 0.1)
    else:
        pad_x = pad_y = 0
    canvas = np.full((height, width, 3), PAD_VALUE, dtype=np.uint8)
    if (new_w, new_h) != (w, h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = image
    return canvas, Letterbox(scale=scale, pad_x=pad_x, pad_y=pad_y)


def grid_cells(height: int, width: int, strides: Sequence[int] = STRIDES) -> int:
    """Number of anchor points a stride-8/16/32 head predicts for this input size."""
    return sum((height // s) * (width // s) for s in strides)


def static_dim(d: Any) -> int | None:
    """A static dimension as int; symbolic ('batch'), None or -1 mean dynamic."""
    return d if isinstance(d, int) and d > 0 else None


def _fmt_shape(shape: Sequence[Any]) -> str:
    return "[" + ",".join(str(d) if d not in (None, "", -1) else "?" for d in shape) + "]"


def open_session(
    path: Path, cfg: DetectorConfig, kind: str, expects: str, data: bytes | None = None
) -> ort.InferenceSession:
    """An onnxruntime session tuned for a small shared CPU, or CUDA when asked and present.

    One intra-op pool of ``threads`` (default 2) and no inter-op parallelism: on a 2-core branch
    box the decoder, tracker and encoder need the other cycles, and more threads only add
    contention. Spinning is off for the same reason: idle worker threads would burn a core.
    """
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = cfg.threads or 2
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # exporter warnings (initializers in graph inputs) mean nothing to users
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = ["CPUExecutionProvider"]
    if cfg.device == "cuda":
        if "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        else:
            log.warning("detector.device is 'cuda' but onnxruntime has no CUDA provider here; using the CPU")
    try:
        return ort.InferenceSession(data or str(path), sess_options=opts, providers=providers)
    except _ORT_ERRORS as exc:
        # onnxruntime repeats the path and an error code before the reason ("... failed:Protobuf ...")
        text = " ".join(str(exc).split())
        reason = text.rsplit("failed:", 1)[-1].strip() or type(exc).__name__
        raise ModelLoadError(f"{kind}: cannot read {path} as an ONNX model ({expects}): {reason}") from None


def _names_from_metadata(session: ort.InferenceSession) -> list[str] | None:
    """Ultralytics exports carry their class names as a Python dict literal in the metadata."""
    try:
        raw = session.get_modelmeta().custom_metadata_map.get("names")
        names = ast.literal_eval(raw) if raw else None
    except (ValueError, SyntaxError):
        return None
    if isinstance(names, dict) and sorted(names) == list(range(len(names))):
        return [str(names[i]) for i in range(len(names))]
    return None


class _BatchRefused(Exception):
    """A model that declares a dynamic batch dim could not run this batch."""


class OnnxDetector(Detector):
    """Template for one-input, one-output ONNX detectors fed a letterboxed NCHW float image.

    A subclass states its layout (letterbox style, normalisation, expected output shape) and
    decodes one image's raw output into candidate boxes in network-input pixels.
    """

    kind: ClassVar[str]
    #: shown in ModelLoadError, e.g. "[1,3,H,W] input and [1,N,85] output"
    layout: ClassVar[str]
    centre_pad: ClassVar[bool]
    scale: ClassVar[float]
    swap_rb: ClassVar[bool]
    default_size: ClassVar[int]

    def __init__(self, cfg: DetectorConfig) -> None:
        path = require_file(cfg.model, self.kind, self.layout)
        self.path = path
        session = open_session(path, cfg, self.kind, self.layout)
        inputs, outputs = session.get_inputs(), session.get_outputs()
        in_shape = list(inputs[0].shape) if inputs else []
        out_shape = list(outputs[0].shape) if outputs else []
        seen = f"{path} has input {_fmt_shape(in_shape)} and output {_fmt_shape(out_shape)}"
        if len(inputs) != 1 or len(outputs) != 1:
            seen += f" ({len(inputs)} inputs, {len(outputs)} outputs; expected one of each)"
        bad = f"{self.kind} expects {self.layout}; {seen}"
        if len(inputs) != 1 or len(outputs) != 1 or len(in_shape) != 4 or static_dim(in_shape[1]) != 3:
            raise ModelLoadError(bad)
        if inputs[0].type not in _INPUT_DTYPES:
            raise ModelLoadError(f"{bad} of type {inputs[0].type} (expected float)")
        self._dtype = _INPUT_DTYPES[inputs[0].type]
        self.input_h, self.input_w = self._input_size(in_shape, cfg, path)
        num_classes = self._check_output(out_shape, self.input_h, self.input_w)
        if num_classes is None:
            raise ModelLoadError(bad)
        class_names = cfg.class_names or _names_from_metadata(session)
        if class_names is None and num_classes == 80:
            from vision.detectors.coco import COCO80

            class_names = list(COCO80)
        if class_names is None or len(class_names) != num_classes:
            given = "none given" if class_names is None else f"{len(class_names)} given"
            raise ModelLoadError(
                f"{self.kind}: {path} predicts {num_classes} classes; detector.class_names must name them "
                f"({given})"
            )
        self._input_name = inputs[0].name
        self._infer: Callable[[np.ndarray], np.ndarray]
        if cfg.backend == "openvino":
            from vision.detectors.openvino_backend import onnx_runner

            del session  # the layout checks above read it; OpenVINO runs the model
            self._infer = onnx_runner(path, cfg, self.kind)
        else:
            self._session = session
            self._infer = lambda blob: self._session.run(None, {self._input_name: blob})[0]
        self._batched = static_dim(in_shape[0]) is None
        if not self._batched and cfg.backend != "openvino" and cfg.dynamic_batch:
            from vision.detectors.onnx_batch import batched_session

            dyn = batched_session(
                path,
                session,
                lambda data: open_session(path, cfg, self.kind, self.layout, data),
                (3, self.input_h, self.input_w),
                self._dtype,
            )
            if dyn is not None:
                self._session, self._batched = dyn, True
        super().__init__(cfg, class_names, f"{self.kind}:{path.name}")

    def _input_size(self, shape: list[Any], cfg: DetectorConfig, path: Path) -> tuple[int, int]:
        h, w = static_dim(shape[2]), static_dim(shape[3])
        if h is not None and w is not None:
            if cfg.input_size is not None and (cfg.input_size, cfg.input_size) != (h, w):
                raise ModelLoadError(
                    f"{self.kind}: {path} has a fixed {w}x{h} input; detector.input_size {cfg.input_size} "
                    "cannot apply (remove it or export the model with dynamic axes)"
                )
            return h, w
        size = cfg.input_size or self.default_size
        if size % 32:
            raise ModelLoadError(f"{self.kind}: detector.input_size {size} must be a multiple of 32")
        return h or size, w or size

    @abc.abstractmethod
    def _check_output(self, shape: list[Any], height: int, width: int) -> int | None:
        """Number of classes if ``shape`` fits the layout, else None."""

    @abc.abstractmethod
    def _decode(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(xyxy in network-input pixels, confidence, class_id) candidates for one image.

        May pre-filter by ``self.floor`` to keep the arrays small.
        """

    def _blob(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, list[Letterbox]]:
        boxes, fitted = [], []
        for image in images:
            check_image(image)
            canvas, box = letterbox(image, self.input_h, self.input_w, centre=self.centre_pad)
            fitted.append(canvas)
            boxes.append(box)
        blob = cv2.dnn.blobFromImages(fitted, scalefactor=self.scale, swapRB=self.swap_rb)
        return blob.astype(self._dtype, copy=False), boxes

    def _run(self, images: Sequence[np.ndarray]) -> tuple[list[sv.Detections], DetectTimes]:
        timer = StageTimer()
        blob, boxes = self._blob(images)
        timer.preprocessed()
        if len(images) == 1:
            raw = self._infer(blob)
        else:
            try:
                raw = self._infer(blob)
            except _ORT_ERRORS as exc:
                raise _BatchRefused(" ".join(str(exc).split())[:200]) from None
            if len(raw) != len(images):
                raise _BatchRefused(f"{len(images)} images in, {len(raw)} results out")
        out = []
        for i, (image, box) in enumerate(zip(images, boxes, strict=True)):
            xyxy, conf, cls = self._decode(raw[i])
            out.append(self._finish(box.to_image(xyxy), conf, cls, image.shape))
        return out, timer.timings()

    def detect(self, image: np.ndarray) -> sv.Detections:
        return self.detect_timed(image)[0]

    def detect_timed(self, image: np.ndarray) -> tuple[sv.Detections, DetectTimes]:
        out, times = self._run([image])
        return out[0], times

    @property
    def supports_batch(self) -> bool:
        return self._batched

    def detect_batch(self, images: list[np.ndarray]) -> list[sv.Detections]:
        return self.detect_batch_timed(images)[0]

    def detect_batch_timed(self, images: list[np.ndarray]) -> tuple[list[sv.Detections], DetectTimes]:
        if not images:
            return [], DetectTimes()
        if self._batched and len(images) > 1:
            try:
                return self._run(images)
            except _BatchRefused as exc:
                # Hand-edited exports often mark the batch dim dynamic while their Reshape nodes
                # still bake in 1; such a model works one image at a time, so keep it working.
                log.warning("%s: batched inference failed (%s); running images one at a time", self.name, exc)
                self._batched = False
        return self._each_timed(images)
