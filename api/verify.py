"""``tellerwatch verify``: does the evidence folder still hold what the database says it holds?

Every violation names its snapshot and clip (and, in ``details.clip_annotated``, its annotated
clip); the pipeline wrote each finished file's SHA-256 into ``details`` and the API refused any
upload that did not match it. Here each named file is looked up in the evidence folder and hashed
again, so a file that was edited, truncated, swapped or deleted after it was stored is named.

Annotated clips are not uploaded by a pushing pipeline (they stay on the branch box), so one is
expected in the folder only where the raw clip was not an upload (a pipeline sharing the API's
data dir); where it is there anyway, its hash is checked all the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import inspect, select
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError
from sqlalchemy.orm import Session

from api.db import make_engine
from api.evidence import HASH_KEYS, KINDS, resolve
from api.models import Violation
from api.settings import Settings
from vision.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Problem:
    violation_id: str
    kind: str  # snapshot | clip | clip_annotated
    path: str  # as the database names it
    what: str  # differs | missing
    detail: str = ""

    def line(self) -> str:
        tail = f": {self.detail}" if self.detail else ""
        return f"{self.what:<8} {self.path}  (violation {self.violation_id}, {self.kind}){tail}"


@dataclass
class Report:
    matched: int = 0  # files found whose SHA-256 is the one recorded
    unhashed: int = 0  # files found whose record carries no SHA-256 (older records)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _named(row: Violation) -> Iterator[tuple[str, str, bool]]:
    """(kind, path, expected in the folder) for each evidence file the row names."""
    details = row.details or {}
    for kind in ("snapshot", "clip"):
        path = getattr(row, kind)
        if path:
            yield kind, path, True
    annotated = details.get("clip_annotated")
    if isinstance(annotated, str) and annotated:
        uploaded = row.clip == f"{row.camera}/{row.id}{KINDS['clip'][0]}"
        yield "clip_annotated", annotated, not uploaded


def check(session: Session, evidence_dir: Path) -> Report:
    report = Report()
    rows = session.scalars(select(Violation).order_by(Violation.started_at, Violation.id).execution_options(
        yield_per=500))
    for row in rows:
        details = row.details or {}
        for kind, relative, expected in _named(row):
            path = resolve(evidence_dir, relative)
            if path is None:
                if expected:
                    report.problems.append(Problem(row.id, kind, relative, "missing"))
                continue
            recorded = details.get(HASH_KEYS[kind])
            if not isinstance(recorded, str):
                report.unhashed += 1
                continue
            try:
                actual = sha256_file(path)
            except OSError as exc:
                report.problems.append(Problem(row.id, kind, relative, "missing", f"unreadable: {exc.strerror}"))
                continue
            if actual == recorded:
                report.matched += 1
            else:
                report.problems.append(
                    Problem(row.id, kind, relative, "differs", f"SHA-256 {actual}, recorded {recorded}")
                )
    return report


def verify(settings: Settings) -> Report:
    """Raises ``ConfigError`` when the database or the evidence folder cannot be used."""
    evidence_dir = settings.evidence_path
    if not evidence_dir.is_dir():
        raise ConfigError(f"no evidence folder at {evidence_dir}; set --data-dir or TELLERWATCH_EVIDENCE_DIR")
    url = settings.db_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise ConfigError(f"no database at {url.removeprefix('sqlite:///')}; set --data-dir or --database-url")
    try:
        engine = make_engine(url)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise ConfigError(f"cannot use the database URL: {exc}") from None
    where = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(Violation.__tablename__):
                raise ConfigError(f"{where} has no violations table; is it a TellerWatch database?")
        with Session(engine) as session:
            return check(session, evidence_dir)
    except DatabaseError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise ConfigError(f"cannot use the database {where}: {reason}") from None
    finally:
        engine.dispose()
