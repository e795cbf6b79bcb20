"""OpenVINO as the CPU inference engine (``detector.backend: openvino``), an optional extra.

OpenVINO reads the embedded TensorFlow SSD from its frozen graph (``openvino.convert_model``)
and the ONNX models from their files; the detectors keep their own pre- and post-processing, so
only the forward pass changes engine. The package is imported only when this backend is chosen
(``pip install 'tellerwatch[openvino]'``).

Converting the frozen graph takes ~30 s and compiling it ~10 s, so the converted model is kept as
OpenVINO IR under the cache folder (``TELLERWATCH_CACHE_DIR``, else
``$XDG_CACHE_HOME/tellerwatch``, else ``~/.cache/tellerwatch``), keyed by the graph's SHA-256 and
the OpenVINO version, and OpenVINO keeps its compiled blobs there (``compiled/``): a later start
of the SSD takes ~3 s instead of ~37 s. A folder that cannot be written only costs that time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vision.config import DetectorConfig
from vision.errors import ModelLoadError

log = logging.getLogger(__name__)

HINT = "detector.backend 'openvino' needs the openvino package: pip install 'tellerwatch[openvino]'"


def cache_dir() -> Path:
    """Where converted models are kept (see the module's docstring)."""
    if env := os.environ.get("TELLERWATCH_CACHE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tellerwatch"


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _converted(ov: Any, source: Path) -> Any:
    """The frozen TF graph as an OpenVINO model, from the IR cache where it was converted before."""
    folder = cache_dir() / "openvino" / f"{_sha256(source)[:16]}-{ov.__version__.split('-')[0]}"
    ir = folder / "model.xml"
    if ir.is_file():
        try:
            return ov.Core().read_model(str(ir))
        except Exception as exc:  # a damaged cache entry: convert again and replace it  # noqa: BLE001
            log.warning("openvino: cached %s is unreadable (%s); converting %s again", ir, exc, source.name)
            shutil.rmtree(folder, ignore_errors=True)
    model = ov.convert_model(str(source))
    tmp: Path | None = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".part-", dir=folder.parent))
        ov.save_model(model, str(tmp / "model.xml"), compress_to_fp16=False)  # the same weights
        tmp.rename(folder)  # all or nothing: a reader never sees half an IR
        tmp = None
    except Exception as exc:  # OSError, or OpenVINO's RuntimeError on a full disk  # noqa: BLE001
        if folder.is_dir():  # another process got there first
            log.debug("openvino: %s was cached meanwhile", folder)
        else:
            log.warning("openvino: cannot keep the converted %s under %s (%s); it is converted at each start",
                        source.name, folder.parent, " ".join(str(exc).split())[:200])
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return model


def _openvino() -> Any:
    try:
        import openvino
    except ImportError:
        raise ModelLoadError(HINT) from None
    return openvino


def compile_model(source: Path, cfg: DetectorConfig, kind: str) -> Any:
    """A model compiled for the CPU with the same thread budget as the other engines.

    Latency hint and ``threads`` (default 2) streams-free: one request at a time, like onnxruntime
    with spinning off, so the decoder and tracker keep their share of a 2-core box.
    """
    ov = _openvino()
    props = {"INFERENCE_NUM_THREADS": cfg.threads or 2, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
    try:
        model = _converted(ov, source) if source.suffix == ".pb" else ov.Core().read_model(str(source))
    except Exception as exc:  # OpenVINO raises RuntimeError / OpConversionFailure / its own types
        text = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ModelLoadError(f"{kind}: openvino cannot read {source}: {text}") from None
    compiled_cache = cache_dir() / "openvino" / "compiled"
    if compiled_cache.parent.is_dir():  # OpenVINO keeps the compiled blob: ~10 s -> ~3 s for the SSD
        try:
            return ov.Core().compile_model(model, "CPU", {**props, "CACHE_DIR": str(compiled_cache)})
        except Exception as exc:  # noqa: BLE001  (a cache it cannot write: compile without it)
            log.warning("openvino: compiling with the cache %s failed (%s); compiling without it", compiled_cache,
                        " ".join(str(exc).split())[:200])
    try:
        return ov.Core().compile_model(model, "CPU", props)
    except Exception as exc:
        text = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ModelLoadError(f"{kind}: openvino cannot compile {source}: {text}") from None


def onnx_runner(path: Path, cfg: DetectorConfig, kind: str) -> Callable[[np.ndarray], np.ndarray]:
    """``blob -> first output`` for a one-input ONNX detector."""
    compiled = compile_model(path, cfg, kind)
    request = compiled.create_infer_request()
    output = compiled.outputs[0]

    def run(blob: np.ndarray) -> np.ndarray:
        return np.asarray(request.infer([blob])[output])

    return run


def ssd_runner(pb: Path, cfg: DetectorConfig, kind: str) -> Callable[[np.ndarray], np.ndarray]:
    """``[1,H,W,3] uint8 RGB -> [1,1,N,7]`` rows as OpenCV DNN gives them
    (image id, 91-id label, score, x0, y0, x1, y1; normalised corners)."""
    compiled = compile_model(pb, cfg, kind)
    request = compiled.create_infer_request()
    outs = {}
    for o in compiled.outputs:
        for name in ("detection_boxes", "detection_classes", "detection_scores", "num_detections"):
            if any(n.startswith(name) for n in o.get_names()):
                outs[name] = o
    if len(outs) != 4:
        raise ModelLoadError(f"{kind}: {pb} is not a TensorFlow object-detection SSD graph "
                             "(detection_boxes / classes / scores / num_detections outputs)")

    def run(image: np.ndarray) -> np.ndarray:
        res = request.infer([image])
        n = int(np.asarray(res[outs["num_detections"]]).reshape(-1)[0])
        boxes = np.asarray(res[outs["detection_boxes"]])[0, :n]  # y0, x0, y1, x1
        rows = np.zeros((1, 1, n, 7), np.float32)
        rows[0, 0, :, 1] = np.asarray(res[outs["detection_classes"]])[0, :n]
        rows[0, 0, :, 2] = np.asarray(res[outs["detection_scores"]])[0, :n]
        rows[0, 0, :, 3:7] = boxes[:, [1, 0, 3, 2]]
        return rows

    return run
