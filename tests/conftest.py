"""Shared fixtures: the real footage and models in ../shared, skipped where that folder is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def _shared_file(kind: str, name: str) -> Path:
    path = SHARED / kind / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (real {kind} live in ../shared beside the repository)")
    return path


@pytest.fixture
def footage():
    """footage('classroom.gif') -> Path, or skip."""
    return lambda name: _shared_file("footage", name)


@pytest.fixture
def shared_model():
    """shared_model('yolox_nano_416x416.onnx') -> Path, or skip."""
    return lambda name: _shared_file("models", name)


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """A fresh TELLERWATCH_DATA_DIR for the test."""
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("TELLERWATCH_DATA_DIR", str(d))
    return d
