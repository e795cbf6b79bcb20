"""TellerWatch pipeline library: sources, detectors, tracking, zones, rules, evidence, sinks."""

__version__ = "0.1.0"
