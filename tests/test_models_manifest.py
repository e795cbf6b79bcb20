"""models/manifest.yaml and `tellerwatch models list | verify PATH`, run as users run them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tellerwatch.models import MANIFEST, ManifestError, Status, check_file, load_manifest
from vision.config import DetectorType, StaffMethod
from vision.detectors.ssd import embedded_model_files

ROOT = Path(__file__).resolve().parents[1]
SHARED_MODELS = ROOT.parent / "shared" / "models"


def tellerwatch(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "tellerwatch", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def shared_models() -> Path:
    if not any(SHARED_MODELS.glob("*.onnx")):
        pytest.skip(f"{SHARED_MODELS} is absent (the team's model files live in ../shared/models)")
    return SHARED_MODELS


def lines_by_status(stdout: str) -> dict[str, str]:
    """{file name: status} from verify's per-file lines."""
    found = {}
    for line in stdout.splitlines():
        status, path = line.split()[:2]
        found[Path(path).name] = status
    return found


def test_the_manifest_names_real_config_values_and_unique_files() -> None:
    manifest = load_manifest()
    ids = [m.id for m in manifest.models]
    names = [f.name for m in manifest.models for f in m.files]
    assert len(set(ids)) == len(ids) and len(set(names)) == len(names)
    kinds = {"detector.type": {t.value for t in DetectorType}, "staff.method": {m.value for m in StaffMethod}}
    uses = [u for m in manifest.models for u in m.used_by]
    for use in uses:
        key, value = use.split(": ")
        assert value in kinds[key], use
    # every detector type that loads a model file of its own format, and the re-ID method, has one
    assert {"detector.type: ssd-mobilenet", "detector.type: yolox-onnx", "detector.type: yolo-onnx",
            "staff.method: reid"} <= set(uses)


def test_the_embedded_default_is_the_manifests(tmp_path: Path) -> None:
    pb, pbtxt = embedded_model_files()
    for path in (pb, pbtxt):
        r = tellerwatch("models", "verify", str(path))
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.startswith(f"ok       {path}  ssd-mobilenet-v2-coco"), r.stdout


def test_the_shared_models_verify_ok() -> None:
    folder = shared_models()
    r = tellerwatch("models", "verify", str(folder))
    assert r.returncode == 0, r.stdout + r.stderr
    status = lines_by_status(r.stdout)
    onnx = {p.name for p in folder.glob("*.onnx")}
    assert onnx == {"yolox_nano_416x416.onnx", "nanodet_m_416.onnx", "yolov8n_int8.onnx", "person-reid-0288.onnx"}
    assert all(status[name] == "ok" for name in onnx), r.stdout
    assert status.get("README.md") == "unknown"
    assert r.stderr.strip() == f"{len(onnx)} ok, 0 differ, 1 unknown"
    # --strict: a file the manifest does not know fails too
    assert tellerwatch("models", "verify", "--strict", str(folder)).returncode == 1


def test_a_tampered_copy_differs_and_a_renamed_one_is_still_known(tmp_path: Path) -> None:
    source = shared_models() / "yolox_nano_416x416.onnx"
    folder = tmp_path / "models"
    folder.mkdir()
    tampered = folder / source.name
    shutil.copyfile(source, tampered)
    data = bytearray(tampered.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit
    tampered.write_bytes(bytes(data))
    shutil.copyfile(source, folder / "detector.onnx")
    (folder / "notes.txt").write_text("not a model\n")

    r = tellerwatch("models", "verify", str(folder))
    assert r.returncode == 1, r.stdout + r.stderr
    assert lines_by_status(r.stdout) == {"detector.onnx": "ok", "notes.txt": "unknown",
                                         "yolox_nano_416x416.onnx": "differs"}
    assert "detector.onnx  yolox-nano-416, known as yolox_nano_416x416.onnx" in r.stdout
    assert "yolox-nano-416: SHA-256" in r.stdout and "Traceback" not in r.stderr

    r = tellerwatch("models", "verify", "--json", str(tampered))
    assert r.returncode == 1
    (row,) = [json.loads(line) for line in r.stdout.splitlines()]
    assert row["status"] == "differs" and row["model"] == "yolox-nano-416"
    assert row["expected"] == "695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14"
    assert len(row["sha256"]) == 64 and row["sha256"] != row["expected"]


@pytest.mark.parametrize(("make", "message"), [
    (lambda tmp: tmp / "absent", "is not found"),
    (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", "holds no files to verify"),
])
def test_a_bad_path_is_one_line_and_exit_2(tmp_path: Path, make, message: str) -> None:
    path = make(tmp_path)
    r = tellerwatch("models", "verify", str(path))
    assert r.returncode == 2
    assert r.stderr.strip() == f"error: {path} {message}", r.stderr
    assert r.stdout == ""


def test_models_list_table_and_json() -> None:
    manifest = load_manifest()
    r = tellerwatch("models", "list", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [row["id"] for row in rows] == [m.id for m in manifest.models]
    assert all(len(f["sha256"]) == 64 and f["bytes"] > 0 for row in rows for f in row["files"])
    assert all({"licence", "input", "output", "source", "used_by"} <= row.keys() for row in rows)
    assert {"shape", "colour", "normalisation", "resize"} == rows[0]["input"].keys()

    r = tellerwatch("models", "list")
    assert r.returncode == 0, r.stderr
    for m in manifest.models:
        assert m.id in r.stdout
        for f in m.files:
            assert f.name in r.stdout and f.sha256[:12] in r.stdout


def test_a_broken_manifest_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "manifest.yaml"
    bad.write_text(MANIFEST.read_text().replace("sha256: 695e750a", "sha256: XYZ", 1))
    with pytest.raises(ManifestError, match=r"invalid at models\.1\.files\.0\.sha256") as excinfo:
        load_manifest(bad)
    assert "\n" not in str(excinfo.value)
    bad.write_text("models: [\n")
    with pytest.raises(ManifestError, match="is not YAML"):
        load_manifest(bad)


def test_check_file_by_hash_then_name(tmp_path: Path) -> None:
    manifest = load_manifest()
    unknown = tmp_path / "frozen_inference_graph.pb"
    unknown.write_bytes(b"not the graph")
    check = check_file(unknown, manifest)
    assert check.status is Status.differs and check.model == "ssd-mobilenet-v2-coco"
    other = tmp_path / "other.bin"
    other.write_bytes(b"not the graph")
    assert check_file(other, manifest).status is Status.unknown


def test_the_readme_table_shows_the_manifests_files_and_hashes() -> None:
    readme = (MANIFEST.parent / "README.md").read_text(encoding="utf-8")
    for m in load_manifest().models:
        assert f"(`{m.id}`)" in readme, m.id
        for f in m.files:
            assert f"`{f.name}` ({f.bytes:,} B)" in readme and f"`{f.sha256}`" in readme, f.name


def test_no_model_file_is_kept_in_the_repository() -> None:
    """The manifest vouches for files; the weights themselves stay out of git (DESIGN: no third-party weights)."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, timeout=60)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    manifest = load_manifest()
    known, names = manifest.by_sha256(), manifest.by_name()
    for name in tracked.stdout.decode().split("\0"):
        path = ROOT / name
        if not name or not path.is_file():
            continue
        assert path.name not in names, f"{name} is a model file; keep it out of the repository"
        if path.stat().st_size > 100_000:
            assert check_file(path, manifest).sha256 not in known, f"{name} is a manifest model"
