"""Evidence files: where they live, how uploads land there, and byte-range downloads (Starlette).

Every path that comes from a record or a URL is resolved (symlinks included) and must stay inside
the evidence folder; anything else is treated as absent rather than explained, so probing for
files outside it learns nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fastapi import HTTPException, status
from starlette.responses import FileResponse, Response
from starlette.types import Receive, Scope, Send

KINDS = {"snapshot": (".jpg", "image/jpeg"), "clip": (".mp4", "video/mp4")}
_RANGE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


def looks_like(kind: str, head: bytes) -> bool:
    """Magic-number check, so a snapshot is a JPEG and a clip an MP4 before anyone downloads it."""
    if kind == "snapshot":
        return head[:3] == b"\xff\xd8\xff"
    if kind == "clip":
        return head[4:8] == b"ftyp"
    return False


POINTER_SUFFIXES = {"snapshot": ".jpg", "clip": ".mp4", "clip_annotated": ".annotated.mp4"}


def pointer_ok(relative: str, kind: str, site: str, camera: str, violation_id: str) -> bool:
    """Whether an evidence path a record carries names that record's own file.

    Accepted: ``[evidence/][SITE/]CAMERA/ID<suffix>`` with the record's own site, camera and id,
    which is where a pipeline writes (``evidence/<camera>/<id>.jpg``) and where uploads land. Ids
    are unique across sites and owned by the first site that stores them, so a record cannot point
    at another site's or another violation's file, and a branch head cannot be served one.
    """
    if not relative or "\x00" in relative or "\\" in relative:
        return False
    parts = PurePosixPath(relative).parts
    if parts and parts[0] == "evidence":
        parts = parts[1:]
    if len(parts) == 3 and parts[0] == site:
        parts = parts[1:]
    return len(parts) == 2 and parts[0] == camera and parts[1] == f"{violation_id}{POINTER_SUFFIXES[kind]}"


def resolve(evidence_dir: Path, relative: str | None) -> Path | None:
    """The file a record's path names, or ``None`` if it is missing or would leave the folder.

    Records may carry the pipeline's data-dir-relative form (``evidence/cam/id.jpg``, as in
    DESIGN.md) or a path relative to the evidence folder itself; both are accepted.
    """
    if not relative or "\x00" in relative or "\\" in relative:
        return None
    base = evidence_dir.resolve()
    for c in _candidates(base, relative):
        path = (base / c).resolve()
        if path.is_relative_to(base) and path.is_file():
            return path
    return None


def _candidates(base: Path, relative: str) -> list[PurePosixPath]:
    rel = PurePosixPath(relative)
    if rel.is_absolute() or ".." in rel.parts:
        return []
    candidates = [rel]
    if len(rel.parts) > 1 and rel.parts[0] == base.name:
        candidates.insert(0, PurePosixPath(*rel.parts[1:]))
    return candidates


def gone(evidence_dir: Path, relative: str) -> bool:
    """Whether nothing at all (no file, no link, however it resolves) lies where ``relative``
    points: evidence that expired. A link out of the folder is there, just never served."""
    if not relative or "\x00" in relative or "\\" in relative:
        return False
    base = evidence_dir.resolve()
    return not any(os.path.lexists(base / c) for c in _candidates(base, relative))


# details key holding each evidence file's SHA-256 (written by the pipeline once the file is finished)
HASH_KEYS = {"snapshot": "snapshot_sha256", "clip": "clip_sha256", "clip_annotated": "clip_annotated_sha256"}
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class StagedFile:
    """An upload written next to its destination, moved into place only when the database commits."""

    temp: Path
    final: Path
    relative: str
    sha256: str = ""  # hex digest of what was received
    existed: bool = False

    def commit(self) -> None:
        self.existed = self.final.exists()
        os.replace(self.temp, self.final)

    def discard(self) -> None:
        self.temp.unlink(missing_ok=True)

    def undo(self) -> None:
        if not self.existed:
            self.final.unlink(missing_ok=True)


def stage_upload(evidence_dir: Path, camera: str, vid: str, kind: str, chunks: Iterator[bytes]) -> StagedFile:
    """Write an upload to a temp file in its final folder (so the later rename is atomic)."""
    suffix, _ = KINDS[kind]
    folder = (evidence_dir / camera).resolve()
    if not folder.is_relative_to(evidence_dir.resolve()):
        raise HTTPException(422, f"camera id {camera!r} is not a folder name")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{vid}.", suffix=suffix + ".part", dir=folder)
    path = Path(tmp)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return StagedFile(path, folder / f"{vid}{suffix}", f"{camera}/{vid}{suffix}", digest.hexdigest())


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``(start, end)`` inclusive for one byte range; ``None`` to send the whole file.

    Raises 416 for a range that is malformed or lies outside the file. Several ranges at once are
    answered with the whole file, which RFC 9110 allows, rather than a multipart body.
    """
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec:
        raise _unsatisfiable(size)
    if "," in spec:
        return None
    m = _RANGE.match(spec)
    if not m or (not m.group(1) and not m.group(2)):
        raise _unsatisfiable(size)
    first, last = m.group(1), m.group(2)
    if not first:  # suffix: the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(0, size - n), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        raise _unsatisfiable(size)
    return start, min(end, size - 1)


def _unsatisfiable(size: int) -> HTTPException:
    return HTTPException(
        status.HTTP_416_RANGE_NOT_SATISFIABLE,
        "requested range not satisfiable",
        headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
    )


class _WholeFile(FileResponse):
    """The whole file even though the request named ranges (several at once: see ``parse_range``)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"range"]
        await super().__call__({**scope, "headers": headers}, receive, send)


def file_response(
    path: Path, media_type: str, range_header: str | None, filename: str, *, attachment: bool = False
) -> Response:
    """The file, or the byte range asked for; ``attachment`` makes browsers save it (``?download=1``).

    Starlette's ``FileResponse`` serves it (206 with ``Content-Range``, ``If-Range`` against its
    ETag and Last-Modified); the range is checked here first so that a malformed one is a 416, as
    before, rather than Starlette's 400, and several ranges are answered with the whole file.
    """
    st = path.stat()
    span = parse_range(range_header, st.st_size) if range_header else None
    cls = _WholeFile if range_header and span is None else FileResponse
    return cls(
        path,
        media_type=media_type,
        filename=filename,
        stat_result=st,
        content_disposition_type="attachment" if attachment else "inline",
        headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"},
    )
