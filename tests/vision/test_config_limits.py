"""Config limits: a hostile or mistaken file (billion laughs, thousands of zones, a huge file) is
refused by ``validate`` and ``run`` with the YAML line and key path, exit 2, before anything runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vision.config import MAX_CONFIG_BYTES, load_config, parse_config
from vision.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
HEAD = "site: {id: branch-1}\ncameras:\n"


def camera(i: int, zones: int = 1, points: int = 4) -> str:
    ring = ", ".join(f"[{0.5 + 0.4 * c:.4f}, {0.5 + 0.4 * s:.4f}]" for c, s in _circle(points))
    zs = "\n".join(f"      - {{name: z{j}, polygon: [{ring}]}}" for j in range(zones))
    return f"  - id: cam-{i}\n    source: rtsp://127.0.0.1/cam{i}\n    zones:\n{zs}\n"


def _circle(n: int) -> list[tuple[float, float]]:
    import math

    return [(math.cos(2 * math.pi * k / n), math.sin(2 * math.pi * k / n)) for k in range(n)]


LAUGHS = HEAD + "  - id: cam\n    source: rtsp://127.0.0.1/cam\n" + "".join(
    f"x{k}: &x{k} [{', '.join([f'*x{k - 1}'] * 9) if k else ', '.join(['lol'] * 9)}]\n" for k in range(9)
) + "y: *x8\n"

CASES = {
    # name: (text, line, key path, reason)
    "aliases": (LAUGHS, 9, "x4 -> 0", "aliases expand the config by more than 10000 YAML nodes"),
    "recursive-alias": (HEAD + "  - &c {id: cam, source: rtsp://h/c, zones: [*c]}\n", 3,
                        "cameras -> 0 -> zones -> 0", "the alias refers to the node that contains it"),
    "zones": (HEAD + camera(0, zones=65), 6, "cameras -> 0 -> zones", "at most 64 items"),
    "points": (HEAD + camera(0, points=257), 6, "cameras -> 0 -> zones -> 0 -> polygon", "at most 256 items"),
    "cameras": (HEAD + "".join(camera(i) for i in range(65)), 3, "cameras", "at most 64 items"),
    # refused at the 65th camera as the file is read, not after composing 900 kB of YAML
    "many-cameras": (HEAD + "".join(camera(i) for i in range(6000)), 3, "cameras", "at most 64 items"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_limits_name_line_and_key_path(case: str) -> None:
    text, line, path, reason = CASES[case]
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        parse_config(text, base_dir=Path("/nonexistent"), filename="site.yaml")
    elapsed = time.perf_counter() - t0
    print(f"{case}: refused in {elapsed * 1000:.0f} ms")
    problems = info.value.problems
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"site.yaml:{line}: {path}: "), problems
    assert reason in problems[0]


def test_limits_themselves_are_allowed(tmp_path: Path) -> None:
    text = HEAD + "".join(camera(i, zones=64 if i == 0 else 1, points=256 if i == 0 else 4) for i in range(64))
    cfg = parse_config(text, base_dir=tmp_path)
    assert len(cfg.cameras) == 64 and len(cfg.cameras[0].zones) == 64
    assert len(cfg.cameras[0].zones[0].polygon) == 256


def test_shared_anchors_within_budget_are_fine(tmp_path: Path) -> None:
    zones = "[{name: desk, kind: teller_area, polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]}]"
    text = HEAD + "".join(
        f"  - {{id: cam-{i}, source: rtsp://h/{i}, zones: {'&z ' + zones if i == 0 else '*z'}}}\n" for i in range(64)
    )
    cfg = parse_config(text, base_dir=tmp_path)
    assert all(c.zones[0].name == "desk" for c in cfg.cameras)


def test_file_over_1_mb_is_refused_unread(tmp_path: Path) -> None:
    p = tmp_path / "big.yaml"
    with p.open("w", encoding="utf-8") as fh:
        fh.write(HEAD + camera(0))
        fh.write("# " + "x" * MAX_CONFIG_BYTES + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(p)
    (line,) = info.value.problems
    assert line.startswith(f"{p}:1: (top level): ") and "at most 1048576 bytes" in line


def run_cli(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    env = dict(os.environ, TELLERWATCH_DATA_DIR=str(cwd / "data"), PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "tellerwatch", *args], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=120)
    return r, time.perf_counter() - t0


@pytest.mark.parametrize("command", ["validate", "run"])
def test_cli_refuses_each_limit_in_one_line(tmp_path: Path, command: str) -> None:
    files = {name: text for name, (text, *_rest) in CASES.items()}
    big = tmp_path / "big.yaml"
    big.write_text(HEAD + camera(0) + "# " + "x" * MAX_CONFIG_BYTES + "\n", encoding="utf-8")
    paths = [big]
    for name, text in files.items():
        p = tmp_path / f"{name}.yaml"
        p.write_text(text, encoding="utf-8")
        paths.append(p)
    for p in paths:
        r, elapsed = run_cli(command, str(p), cwd=tmp_path)
        print(f"tellerwatch {command} {p.name}: exit {r.returncode} in {elapsed:.2f} s (process start included)")
        assert r.returncode == 2, (p.name, r.stdout, r.stderr)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith(f"{p}:"), lines
        assert "Traceback" not in r.stderr
        assert not (tmp_path / "data").exists()  # refused before the run touched anything
