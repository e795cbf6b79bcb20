"""A data dir that cannot be used (read-only mount, missing and uncreatable, full disk) ends ``run``
and ``serve`` with one line naming the path and the problem, exit 2, before anything starts.

Real tmpfs mounts (we run as root, so file modes would not stop a write); where mounting is not
permitted the test skips and says so.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.helpers import free_port
from tests.reliability.helpers import ROOT


@pytest.fixture
def mount_tmpfs() -> Iterator[Any]:
    mounted: list[Path] = []

    def mount(path: Path, options: str) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True,
                           text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs: {r.stderr.strip() or r.returncode}")
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], check=False)


def tellerwatch(args: list[str], data: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TELLERWATCH_DATA_DIR": str(data), "TELLERWATCH_ENV": "dev",
           "TELLERWATCH_INGEST_KEYS": "k" * 20}
    env.pop("TELLERWATCH_DATABASE_URL", None)
    env.pop("TELLERWATCH_EVIDENCE_DIR", None)
    return subprocess.run([sys.executable, "-m", "tellerwatch", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def fill(path: Path) -> None:
    with (path / "ballast").open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass


CASES = ["read-only", "uncreatable", "under-a-file", "full"]


@pytest.mark.parametrize("case", CASES)
def test_unusable_data_dir_is_one_line_exit_2(tmp_path: Path, mount_tmpfs: Any, case: str) -> None:
    source = tmp_path / "clip.mp4"
    source.write_bytes(b"\0" * 16)
    cfg = tmp_path / "site.yaml"
    cfg.write_text(f"site: {{id: b1}}\ncameras: [{{id: cam, source: {source}}}]\n", encoding="utf-8")
    if case == "read-only":
        data = mount_tmpfs(tmp_path / "ro", "ro,size=1m")
        expect = "cannot write: read-only file system"
    elif case == "uncreatable":
        data = mount_tmpfs(tmp_path / "ro", "ro,size=1m") / "tellerwatch" / "data"
        expect = "cannot be created: read-only file system"
    elif case == "under-a-file":
        (tmp_path / "plain").write_text("x")
        data = tmp_path / "plain" / "data"
        expect = "cannot be created: a part of the path is a file, not a folder"
    else:
        data = mount_tmpfs(tmp_path / "full", "size=256k")
        fill(data)
        expect = "cannot write: no space left on the device"
    for args in (["run", str(cfg), "--no-clips"], ["serve", "--host", "127.0.0.1", "--port", str(free_port())]):
        r = tellerwatch(args, data, tmp_path)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert r.returncode == 2, (args[0], r.stdout, r.stderr)
        assert lines == [f"error: data dir {data}: {expect}"], (args[0], lines)
