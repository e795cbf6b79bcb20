"""Errors a user can act on. Each carries a one-line message suitable for the command line."""


class TellerWatchError(Exception):
    """Base class: anything the CLI reports as one line and exit code 2."""


class ConfigError(TellerWatchError):
    """The config file is missing, not YAML, or fails validation."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class SourceError(TellerWatchError):
    """A camera source cannot be opened or read."""


class ModelLoadError(TellerWatchError):
    """A detector or re-ID model file is missing, unreadable, or has the wrong layout."""


class MissingExtraError(ImportError):
    """An optional backend was requested but its pip extra is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"the optional package {package!r} is not installed; install it with "
            f"pip install 'tellerwatch[{extra}]'"
        )
