"""The ``reid`` method's model: the ONNX re-identification network and the enrolled gallery."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.errors import ModelLoadError
from vision.staff.common import EXPECTED_REID_LAYOUT, GALLERY_KIND, REID_HEIGHT, REID_WIDTH, _as_bgr, _file_sha256


def _fits(dim: Any, want: int) -> bool:
    """A fixed dimension must equal ``want``; a symbolic (dynamic) one fits anything."""
    return not isinstance(dim, int) or dim == want


class ReidModel:
    """A person re-ID ONNX network: crop -> unit-length embedding.

    The layout is checked when the file is opened, because a detector passed here by mistake would
    otherwise run happily and produce meaningless similarities.
    """

    def __init__(self, path: Path, *, threads: int = 1) -> None:
        """``threads``: onnxruntime intra-op threads; 0 lets it choose. One is the default because
        the network is tiny (a few ms a crop) and shares the CPU with the detector, where a thread
        pool's hand-offs cost more than they save (measured: 5 ms a crop on one thread against
        16 ms with the default pool on a busy 2-core machine)."""
        path = Path(path)
        if not path.is_file():
            raise ModelLoadError(f"re-ID model not found: {path}")
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads > 0:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own non-hierarchical exception types
            raise ModelLoadError(f"cannot load re-ID model {path}: {str(exc).splitlines()[0]}") from None
        self.path = path
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ModelLoadError(
                f"re-ID model {path} has {len(inputs)} inputs; "
                f"expected one image input {EXPECTED_REID_LAYOUT}"
            )
        self.input_name = inputs[0].name
        shape = list(inputs[0].shape)
        layout = self._layout(shape)
        if layout is None:
            raise ModelLoadError(f"re-ID model {path} takes input {shape}; expected {EXPECTED_REID_LAYOUT}")
        self.layout = layout
        self.batch_fixed = isinstance(shape[0], int)
        try:
            probe = self._run(np.zeros((1, REID_HEIGHT, REID_WIDTH, 3), dtype=np.float32))
        except ModelLoadError:
            raise
        except Exception as exc:  # any failure on a blank crop means the file is unusable
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelLoadError(f"re-ID model {path} failed on a test crop: {first}") from None
        self.dim = int(probe.shape[1])

    @staticmethod
    def _layout(shape: list[Any]) -> str | None:
        if len(shape) != 4 or not _fits(shape[0], 1):
            return None
        _, a, b, c = shape
        if c == 3 and _fits(a, REID_HEIGHT) and _fits(b, REID_WIDTH):
            return "NHWC"
        if a == 3 and _fits(b, REID_HEIGHT) and _fits(c, REID_WIDTH):
            return "NCHW"
        return None

    def _run(self, batch_nhwc: np.ndarray) -> np.ndarray:
        x = batch_nhwc if self.layout == "NHWC" else np.ascontiguousarray(batch_nhwc.transpose(0, 3, 1, 2))
        out = np.asarray(self.session.run(None, {self.input_name: x})[0])
        n = batch_nhwc.shape[0]
        if out.ndim < 2 or out.shape[0] != n or any(d != 1 for d in out.shape[2:]):
            raise ModelLoadError(
                f"re-ID model {self.path} returned shape {list(out.shape)}; expected an embedding [N, D] "
                f"({EXPECTED_REID_LAYOUT})"
            )
        return out.reshape(n, -1).astype(np.float32)

    def embed(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(N, D) unit-length embeddings of BGR person crops."""
        if not crops:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)
        size = (REID_WIDTH, REID_HEIGHT)
        batch = np.stack(
            [cv2.resize(_as_bgr(c, "crop"), size, interpolation=cv2.INTER_LINEAR) for c in crops]
        ).astype(np.float32)
        if self.batch_fixed:
            emb = np.concatenate([self._run(batch[i : i + 1]) for i in range(len(batch))])
        else:
            emb = self._run(batch)
        norms = np.linalg.norm(emb, axis=1, keepdims=True)
        return emb / np.maximum(norms, 1e-12)


@dataclass(frozen=True)
class ReidGallery:
    embeddings: np.ndarray  # (N, D), unit length
    model_sha256: str

    @classmethod
    def load(cls, path: Path) -> ReidGallery:
        not_gallery = f"{path} is not a re-ID gallery (make one with 'tellerwatch enroll')"
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise ModelLoadError(f"cannot read re-ID gallery {path}: {exc}") from None
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ModelLoadError(not_gallery)
        with data:
            try:
                if str(data["kind"]) != GALLERY_KIND:
                    raise ModelLoadError(not_gallery)
                emb = np.asarray(data["embeddings"], dtype=np.float32)
                sha = str(data["model_sha256"])
            except (KeyError, ValueError, zipfile.BadZipFile) as exc:
                raise ModelLoadError(f"cannot read re-ID gallery {path}: {exc}") from None
        if emb.ndim != 2 or len(emb) == 0:
            raise ModelLoadError(f"re-ID gallery {path} holds no embeddings (shape {emb.shape})")
        return cls(embeddings=emb, model_sha256=sha)

    def similarity(self, embeddings: np.ndarray) -> np.ndarray:
        """Best cosine similarity of each row against any enrolled staff crop."""
        return (embeddings @ self.embeddings.T).max(axis=1)


def enroll_gallery(images: Sequence[np.ndarray], reid_model: Path, out: Path) -> Path:
    """Write the embeddings of staff crops (.npz), tagged with the model that made them.

    Embeddings from another model live in another space, so the tag lets a camera refuse a gallery
    that does not belong to its model instead of matching noise.
    """
    if not images:
        raise ValueError("no staff crops to enrol")
    model = ReidModel(Path(reid_model))
    usable = [img for img in images if img.shape[0] >= 16 and img.shape[1] >= 8]
    if not usable:
        raise ValueError("no usable staff crops: each must be at least 8x16 pixels")
    emb = model.embed(usable)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as f:  # a file object keeps np.savez from appending '.npz' to the name
        np.savez(
            f,
            kind=np.array(GALLERY_KIND),
            embeddings=emb,
            model_sha256=np.array(_file_sha256(model.path)),
            model_name=np.array(model.path.name),
        )
    return out
