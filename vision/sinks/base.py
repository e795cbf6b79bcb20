"""What sinks offer the pipeline, as typed capabilities.

Every sink is a ``Sink`` (violation changes, flush, close). A sink may also be a
``ZoneCountSink`` (staff per zone, for the live view), a ``MetricsSink`` (camera status reports)
or a ``FrameSink`` (the latest analysed frame); the runner and the status reporter pick sinks by
these protocols (``isinstance``), never by probing attribute names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from vision.events import Violation


@runtime_checkable
class Sink(Protocol):
    """Where violation changes and zone counts go. ``publish`` is called for every change of a
    violation (started, updated, ended), possibly again once its evidence files are written;
    sinks must not block the pipeline on the network."""

    def publish(self, violation: Violation, evidence: dict[str, Path] | None = None) -> None:
        """``evidence`` maps ``snapshot`` / ``clip`` to files on disk, when they exist yet."""

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for queued messages to go out; True when none are left."""

    def close(self) -> None:
        """Stop background work. Undelivered HTTP events stay in the outbox for the next run."""


@runtime_checkable
class ZoneCountSink(Protocol):
    def publish_zone_counts(self, site: str, camera: str, counts: dict[str, int]) -> None:
        """Staff count per zone name, called when a camera's counts change."""


@runtime_checkable
class MetricsSink(Protocol):
    def post_metrics(self, report: dict[str, Any]) -> bool:
        """One round of camera status reports; False where it could not be delivered."""


@runtime_checkable
class FrameSink(Protocol):
    def post_frame(self, site: str, camera: str, jpeg: bytes) -> bool:
        """The camera's latest analysed frame as JPEG; False where it could not be delivered."""
