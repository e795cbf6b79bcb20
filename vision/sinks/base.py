"""The interface every sink offers the pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from vision.events import Violation


@runtime_checkable
class Sink(Protocol):
    """Where violation changes and zone counts go. ``publish`` is called for every change of a
    violation (started, updated, ended), possibly again once its evidence files are written;
    sinks must not block the pipeline on the network."""

    def publish(self, violation: Violation, evidence: dict[str, Path] | None = None) -> None:
        """``evidence`` maps ``snapshot`` / ``clip`` to files on disk, when they exist yet."""

    def publish_zone_counts(self, site: str, camera: str, counts: dict[str, int]) -> None:
        """Staff count per zone name, called every analysed frame; sinks publish changes only."""

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for queued messages to go out; True when none are left."""

    def close(self) -> None:
        """Stop background work. Undelivered HTTP events stay in the outbox for the next run."""
