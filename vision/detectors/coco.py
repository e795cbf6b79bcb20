"""COCO class names, shared by every backend so that ``class_id`` means the same thing everywhere.

The ONNX and Ultralytics models number the 80 COCO classes 0..79. The TensorFlow SSD graph uses
the original 91-id COCO label map (1-based, with ten unused ids); ``COCO91_TO_80`` folds it onto
the same 0..79 numbering so a tracker or rule never needs to know which backend produced a box.
"""

from __future__ import annotations

import numpy as np

COCO80: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

# The 91-id label map skips these ids (classes dropped from the final COCO release).
_COCO91_UNUSED = frozenset({12, 26, 29, 30, 45, 66, 68, 69, 71, 83})

#: 91-id COCO label (index 0 = background) -> index into COCO80, or -1 for ids with no class.
COCO91_TO_80: np.ndarray = np.full(91, -1, dtype=np.int64)
COCO91_TO_80[[i for i in range(1, 91) if i not in _COCO91_UNUSED]] = np.arange(len(COCO80))
