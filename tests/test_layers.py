"""The packages' layers, checked by import-linter with the contract in pyproject.toml:
``tellerwatch`` (the command) may import ``api`` and ``vision``; ``api`` may import ``vision``;
``vision`` imports neither, not even inside a function or through another module."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tellerwatch", "api", "vision")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    if not LINT_IMPORTS.is_file():
        pytest.skip(f"{LINT_IMPORTS} is absent (pip install -e '.[dev]' installs import-linter)")
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", str(root / "pyproject.toml")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def copy_tree(dest: Path) -> Path:
    """The three packages' Python files and pyproject.toml, to break one of them."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_the_repository_keeps_its_layers() -> None:
    r = lint_imports(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 kept, 0 broken" in r.stdout


@pytest.mark.parametrize(("module", "line", "importer", "imported"), [
    ("vision/zones.py", "import api.models", "vision.zones", "api.models"),
    # a lazy import inside a function counts as much as one at the top
    ("vision/pipeline.py", "\n\ndef _sneak() -> object:\n    from api import app\n    return app\n",
     "vision.pipeline", "api.app"),
    ("vision/rules/base.py", "from tellerwatch import cli", "vision.rules.base", "tellerwatch.cli"),
    ("api/app.py", "import tellerwatch.demo", "api.app", "tellerwatch.demo"),
])
def test_an_import_against_the_layers_breaks_the_check(tmp_path: Path, module: str, line: str, importer: str,
                                                       imported: str) -> None:
    root = copy_tree(tmp_path)
    with (root / module).open("a") as f:
        f.write("\n" + line + "\n")
    r = lint_imports(root)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "BROKEN" in r.stdout
    assert f"{importer} -> {imported}" in r.stdout, r.stdout


def test_the_check_reads_the_copy_not_the_installed_tree(tmp_path: Path) -> None:
    """The copy untouched passes: the broken runs above fail because of the added line alone."""
    r = lint_imports(copy_tree(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
