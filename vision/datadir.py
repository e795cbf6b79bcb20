"""The data dir (``TELLERWATCH_DATA_DIR``) must be a folder this process can write to.

``run`` and ``serve`` check it once before they start: a read-only mount, a path that cannot be
created or a full disk would otherwise surface later as a traceback from SQLite or a stream of
evidence errors. The check creates the folder, then writes, fsyncs and removes a small probe file.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from vision.errors import TellerWatchError

PROBE_BYTES = 4096

_PROBLEMS = {
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ENOENT: "a part of the path does not exist",
}


class DataDirError(TellerWatchError):
    """The data dir cannot be used: one line naming the path and the problem."""


def _problem(exc: OSError) -> str:
    return _PROBLEMS.get(exc.errno or 0) or exc.strerror or str(exc)


def check_data_dir(path: Path, what: str = "data dir") -> Path:
    """Create ``path`` if needed and prove it writable; ``DataDirError`` otherwise."""
    if path.exists() and not path.is_dir():
        raise DataDirError(f"{what} {path}: exists but is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataDirError(f"{what} {path}: cannot be created: {_problem(exc)}") from None
    probe: str | None = None
    try:
        fd, probe = tempfile.mkstemp(prefix=".tellerwatch-probe-", dir=path)
        try:
            os.write(fd, b"\0" * PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise DataDirError(f"{what} {path}: cannot write: {_problem(exc)}") from None
    finally:
        if probe is not None:
            try:
                os.unlink(probe)
            except OSError:
                pass
    return path
