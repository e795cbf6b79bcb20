"""The model manifest (``models/manifest.yaml``) and ``tellerwatch models list | verify PATH``.

The manifest names every model file TellerWatch knows with its SHA-256; ``verify`` hashes the
files a user has and says, for each, whether it is one of them (``ok``), a file of a known name
whose bytes are not the manifest's (``differs``: another export, a truncated download, tampering)
or a file the manifest does not know (``unknown``).
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vision.errors import TellerWatchError

MANIFEST = Path(__file__).resolve().parents[1] / "models" / "manifest.yaml"


class ManifestError(TellerWatchError):
    """The manifest or the PATH given to ``verify`` cannot be used (exit 2)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelFile(_Strict):
    name: str
    bytes: int = Field(gt=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class InputLayout(_Strict):
    shape: str
    colour: str
    normalisation: str
    resize: str


class ModelEntry(_Strict):
    id: str
    name: str
    files: list[ModelFile] = Field(min_length=1)
    licence: str
    input: InputLayout
    output: str
    used_by: list[str]
    source: str
    note: str | None = None


class Manifest(_Strict):
    version: int
    models: list[ModelEntry]

    def by_sha256(self) -> dict[str, tuple[ModelEntry, ModelFile]]:
        return {f.sha256: (m, f) for m in self.models for f in m.files}

    def by_name(self) -> dict[str, tuple[ModelEntry, ModelFile]]:
        return {f.name: (m, f) for m in self.models for f in m.files}


def load_manifest(path: Path = MANIFEST) -> Manifest:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"cannot read the model manifest {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"the model manifest {path} is not YAML: {' '.join(str(exc).split())}") from None
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ManifestError(f"the model manifest {path} is invalid at {where}: {first['msg']}") from None


class Status(str, enum.Enum):
    ok = "ok"
    differs = "differs"
    unknown = "unknown"


@dataclass(frozen=True, slots=True)
class FileCheck:
    path: Path
    status: Status
    sha256: str
    model: str | None = None  # the manifest model the file is (ok) or is named like (differs)
    expected: str | None = None  # the manifest's file name (ok) or SHA-256 (differs)

    def detail(self) -> str:
        if self.status is Status.ok:
            renamed = f", known as {self.expected}" if self.expected != self.path.name else ""
            return f"{self.model}{renamed}"
        if self.status is Status.differs:
            return f"{self.model}: SHA-256 {self.sha256[:16]}..., the manifest has {(self.expected or '')[:16]}..."
        return f"not in the manifest (SHA-256 {self.sha256[:16]}...)"

    def as_dict(self) -> dict[str, str | None]:
        return {"path": str(self.path), "status": self.status.value, "sha256": self.sha256, "model": self.model,
                "expected": self.expected}


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def files_under(path: Path) -> list[Path]:
    """PATH itself if a file, else every file below the folder (sorted); ManifestError if none."""
    if path.is_file():
        return [path]
    if not path.exists():
        raise ManifestError(f"{path} is not found")
    if not path.is_dir():
        raise ManifestError(f"{path} is neither a file nor a folder")
    files = sorted(p for p in path.rglob("*") if p.is_file())
    if not files:
        raise ManifestError(f"{path} holds no files to verify")
    return files


def check_file(path: Path, manifest: Manifest) -> FileCheck:
    try:
        digest = file_sha256(path)
    except OSError as exc:
        raise ManifestError(f"cannot read {path}: {exc.strerror or exc}") from None
    known = manifest.by_sha256().get(digest)
    if known is not None:
        return FileCheck(path, Status.ok, digest, known[0].id, known[1].name)
    named = manifest.by_name().get(path.name)
    if named is not None:
        return FileCheck(path, Status.differs, digest, named[0].id, named[1].sha256)
    return FileCheck(path, Status.unknown, digest)


def verify(path: Path, manifest: Manifest) -> list[FileCheck]:
    return [check_file(p, manifest) for p in files_under(path)]
