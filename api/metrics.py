"""Prometheus metrics, one registry per app so that tests can build many apps in one process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.ingest = Counter("tellerwatch_ingest_events", "POST /events outcomes", ["result"], registry=r)
        self.ingest_seconds = Histogram(
            "tellerwatch_ingest_seconds", "time to store one event", buckets=LATENCY_BUCKETS, registry=r
        )
        self.logins = Counter("tellerwatch_logins", "login attempts by outcome", ["result"], registry=r)
        self.camera_fps = Gauge(
            "tellerwatch_camera_fps",
            "analysed frames per second, as reported",
            ["site", "camera"],
            registry=r,
        )
        self.camera_up = Gauge(
            "tellerwatch_camera_up", "1 while the camera delivers frames", ["site", "camera"], registry=r
        )
        self.camera_status = Gauge(
            "tellerwatch_camera_status",
            "1 for the camera's reported status (up, reconnecting, down), 0 for the other two",
            ["site", "camera", "status"],
            registry=r,
        )
        self.camera_frames = Counter(
            "tellerwatch_camera_frames", "frames read", ["site", "camera"], registry=r
        )
        self.camera_analysed = Counter(
            "tellerwatch_camera_frames_analysed", "frames analysed", ["site", "camera"], registry=r
        )
        self.camera_dropped = Counter(
            "tellerwatch_camera_frames_dropped",
            "frames dropped by bounded queues",
            ["site", "camera"],
            registry=r,
        )
        self.camera_report = Gauge(
            "tellerwatch_camera_last_report_timestamp_seconds",
            "when the pipeline last reported",
            ["site", "camera"],
            registry=r,
        )
        self.camera_clock_drift = Gauge(
            "tellerwatch_camera_clock_drift_seconds",
            "the camera's own clock (RTSP sender reports) minus the box's; over 60 s fails an inspection",
            ["site", "camera"],
            registry=r,
        )
        self.stage_latency = Histogram(
            "tellerwatch_stage_latency_seconds",
            "per-stage latency reported by pipelines",
            ["site", "camera", "stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.zone_count = Gauge(
            "tellerwatch_zone_count", "latest per-zone counts", ["site", "camera", "zone", "kind"], registry=r
        )
        self.outbox_pending = Gauge(
            "tellerwatch_outbox_pending",
            "violation states waiting in a pipeline's outbox, as last reported",
            ["site"],
            registry=r,
        )
        self.outbox_dead = Gauge(
            "tellerwatch_outbox_dead_letters",
            "violation states the API refused for good, kept in a pipeline's dead letter (see `tellerwatch outbox`)",
            ["site"],
            registry=r,
        )
        self.live_subscribers = Gauge("tellerwatch_live_subscribers", "open live streams", registry=r)
        self.live_dropped = Counter(
            "tellerwatch_live_dropped_messages", "messages slow live subscribers lost", registry=r
        )
