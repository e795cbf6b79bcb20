"""Make a fixed batch-1 ONNX detector take a batch of frames, in memory, when its graph allows it.

Most exports (the shared YOLOX-Nano, NanoDet, YOLOv8 int8) declare batch 1 on their input and
output and bake the 1 into Reshape shape constants. At load time we rewrite a copy of the graph:
dim 0 of the input and outputs becomes the symbolic ``batch``, Reshape constants whose first entry
is 1 get -1 there
(0, 'copy the input's batch', where another entry is already -1), stale value_info is dropped, then onnx's checker
and shape inference run. The rewritten bytes are opened by onnxruntime directly (nothing is
written next to the user's model) and accepted only if a batch of two different inputs gives,
per image, the outputs of two batch-1 runs of the original session. Otherwise: one log line and
the model stays at batch 1.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort

log = logging.getLogger(__name__)

BATCH = "batch"
RTOL = 1e-3


def dynamic_model_bytes(path: Path) -> bytes:
    """The model at ``path`` with a symbolic batch dim; raises ValueError where that is unsafe."""
    import onnx
    from onnx import numpy_helper, shape_inference

    model = onnx.load(str(path))
    graph = model.graph
    inits = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise ValueError(f"{len(inputs)} graph inputs")
    for value in (*inputs, *graph.output):
        dims = value.type.tensor_type.shape.dim
        if not dims or (dims[0].HasField("dim_value") and dims[0].dim_value != 1):
            raise ValueError(f"{value.name} has no batch-1 leading dim")
        dims[0].Clear()
        dims[0].dim_param = BATCH
    by_name = {t.name: t for t in graph.initializer}
    consts = {o: n for n in graph.node if n.op_type == "Constant" for o in n.output}
    for node in graph.node:
        if node.op_type != "Reshape" or len(node.input) < 2:
            continue
        _fix_reshape_shape(node.input[1], by_name, consts, numpy_helper)
    del graph.value_info[:]
    onnx.checker.check_model(model)
    model = shape_inference.infer_shapes(model)
    return bytes(model.SerializeToString())


def _fix_reshape_shape(name: str, by_name: dict, consts: dict, numpy_helper: object) -> None:
    tensor = by_name.get(name)
    if tensor is None and name in consts:
        attrs = [a for a in consts[name].attribute if a.name == "value"]
        tensor = attrs[0].t if attrs else None
    if tensor is None:
        return  # computed at run time (Shape -> Gather ...): already follows the batch
    shape = numpy_helper.to_array(tensor)  # type: ignore[attr-defined]
    if shape.ndim != 1 or shape.size == 0 or shape[0] != 1:
        return
    shape = shape.copy()
    shape[0] = 0 if (shape == -1).any() else -1  # 0: copy the input's dim 0, the batch
    tensor.CopyFrom(numpy_helper.from_array(shape, tensor.name))  # type: ignore[attr-defined]


def batched_session(
    path: Path,
    single: ort.InferenceSession,
    open_bytes: Callable[[bytes], ort.InferenceSession],
    input_shape: tuple[int, int, int],
    dtype: type,
) -> ort.InferenceSession | None:
    """A session over the rewritten model that agrees with ``single`` image by image, or None."""
    try:
        session = open_bytes(dynamic_model_bytes(path))
        name = single.get_inputs()[0].name
        rng = np.random.default_rng(0)
        blob: np.ndarray = rng.random((3, *input_shape), dtype=np.float32).astype(dtype)
        blob[1] *= 0.5
        got = session.run(None, {name: blob})[0]
        for i in range(len(blob)):
            want = single.run(None, {name: blob[i : i + 1]})[0]
            if got[i : i + 1].shape != want.shape or not np.allclose(got[i : i + 1], want, rtol=RTOL, atol=1e-3):
                raise ValueError(f"image {i} of a batch differs from its batch-1 result")
    except Exception as exc:  # noqa: BLE001 - any failure means: stay at batch 1
        log.info("%s: batch dim cannot be made dynamic (%s); running one frame at a time", path.name, exc)
        return None
    return session
