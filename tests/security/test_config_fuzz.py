"""Property-based fuzz of the config loader (hypothesis).

Three generators: arbitrary text; a valid config's YAML with characters inserted, deleted or
replaced; and structure-aware mutations of a valid config tree (a value replaced by any YAML
value, a key deleted, an unknown key added) dumped back to YAML. The property: ``parse_config``
returns a config or raises ``ConfigError``, never anything else; every problem line starts with
``<config>:LINE:`` (a line of the file); a validation problem names a key path, and for a tree
mutation one of the problems' key paths leads to (or from) the mutated key.
"""

from __future__ import annotations

import copy
import os
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from vision.config import AppConfig, _key_text, parse_config
from vision.errors import ConfigError

BASE = Path("/nonexistent-tellerwatch-fuzz")
VALID: dict[str, Any] = {
    "site": {
        "id": "branch-012",
        "name": "城关信用社营业部",
        "timezone": "Asia/Shanghai",
        "business_hours": {"mon-fri": ["08:30-12:00", "13:30-17:00"], "sat": ["09:00-12:00"]},
        "holidays": ["2026-10-01"],
    },
    "detector": {"type": "ssd-mobilenet", "confidence": 0.4},
    "sinks": {
        "api": {"url": "http://127.0.0.1:8000", "key_env": "TELLERWATCH_API_KEY"},
        "mqtt": {"host": "127.0.0.1", "port": 1883, "topic_prefix": "tellerwatch"},
    },
    "cameras": [
        {
            "id": "counter-1",
            "source": "rtsp://127.0.0.1:8554/cam",
            "replay_start": "2026-11-26T09:00:00+08:00",
            "analysis_fps": 5,
            "loop": False,
            "zones": [
                {"name": "teller_area", "kind": "teller_area", "polygon": [[0.0, 0.45], [1.0, 0.45], [1.0, 1.0]]},
                {"name": "counter_top", "kind": "counter", "polygon": [[0.1, 0.4], [0.9, 0.4], [0.9, 0.5]]},
            ],
            "staff": {"method": "entry", "min_evidence": 3},
            "rules": [
                {"type": "dual_teller", "zone": "teller_area", "min_staff": 2, "grace_s": 30, "when": "business_hours"},
                {"type": "unattended_items", "zone": "counter_top", "attended_by": "teller_area", "grace_s": 10},
                {"type": "non_staff_in_area", "zone": "teller_area", "grace_s": 2, "when": "always"},
            ],
            "evidence": {"pre_s": 5, "post_s": 5, "retention_max_mb": 500},
            "motion": {"enabled": True, "max_skip_s": 2},
        }
    ],
}
VALID_TEXT = yaml.safe_dump(VALID, allow_unicode=True, sort_keys=False)
YAML_CHARS = st.sampled_from([*":-[]{}#&*!|>'\"\n ,?%@`\t", "a", "1"])  # what YAML's grammar turns on
LINE = re.compile(r"^<config>:(\d+): ")
PROBLEM = re.compile(r"^<config>:(\d+): (.+?): (.*)$", re.S)

# values that reach the deeper validators, not only the type checks
TRICKY_TEXT = st.sampled_from([
    "", " ", "\x00", "a" * 5000, "../../etc/passwd", "/etc/passwd", "America", "UTC", "Mars/Olympus",
    "rtsp://x", "0", "-1", "1e400", "nan", "09:00-10:00", "25:00-26:00", "mon-fri", "sun-mon", "daily",
    "teller_area", "counter", "dual_teller", "unattended_items", "everyone", "uniform", "yolox-onnx",
    "2026-02-30", "9999-12-31T23:59:59+14:00", "é", "城关", "null", "~", "{", "[", "&a", "*a", "!!binary x",
])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), TRICKY_TEXT, st.dates(), st.datetimes(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.text(max_size=8), TRICKY_TEXT), inner, max_size=4)
    ),
    max_leaves=12,
)
EXAMPLES = int(os.environ.get("TW_FUZZ_EXAMPLES", "250"))  # raise it for a longer hunt
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, (*prefix, i))
    return out


def check(text: str, check_files: bool = False) -> list[str]:
    """Parse; only ConfigError may escape. Returns the problem lines ([] when valid)."""
    try:
        cfg = parse_config(text, base_dir=BASE, check_files=check_files)
    except ConfigError as exc:
        problems = exc.problems
        assert problems, str(exc)
        n_lines = max(1, len(text.splitlines()) + 1)
        for p in problems:
            m = LINE.match(p)
            assert m, p
            assert 1 <= int(m.group(1)) <= n_lines, (p, n_lines)
            assert "\n" not in p.rstrip("\n") or "not valid YAML" in p, p
        return problems
    assert isinstance(cfg, AppConfig)
    return []


def key_path(problem: str) -> str | None:
    if "not valid YAML" in problem or "must be a mapping" in problem:
        return None
    m = PROBLEM.match(problem)
    assert m, problem
    return m.group(2)


def test_valid_config_is_valid() -> None:
    assert check(VALID_TEXT) == []


@FUZZ
@given(st.text(max_size=400))
def test_any_text(text: str) -> None:
    check(text)


@FUZZ
@given(st.data())
def test_damaged_yaml_text(data: st.DataObject) -> None:
    text = VALID_TEXT
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        s = data.draw(st.text(min_size=1, max_size=6, alphabet=YAML_CHARS))
        if op == "insert":
            text = text[:i] + s + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + len(s):]
        else:
            text = text[:i] + s + text[i + len(s):]
    check(text, check_files=data.draw(st.booleans()))


@FUZZ
@given(st.data())
def test_mutated_config_tree(data: st.DataObject) -> None:
    doc = copy.deepcopy(VALID)
    target = data.draw(st.sampled_from(paths(doc)))
    parent = doc
    for part in target[:-1]:
        parent = parent[part]
    last = target[-1]
    op = data.draw(st.sampled_from(["set", "set", "delete", "add"]))
    if op == "set":
        parent[last] = data.draw(VALUES)
    elif op == "delete":
        del parent[last]
        if isinstance(last, int):
            target = target[:-1]  # the items after it moved up: the list as a whole changed
    else:
        node = parent[last]
        assume(isinstance(node, dict))
        key = data.draw(st.text(min_size=1, max_size=8))
        assume(key not in node)
        node[key] = data.draw(VALUES)
        target = (*target, key)
    try:
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    except yaml.YAMLError:
        assume(False)
        return
    if op == "add":  # PyYAML turns some keys into others on the way ('\x85' is a line break)
        node = yaml.safe_load(text)
        for part in target[:-1]:
            node = node[part]
        assume(target[-1] in node)
    problems = check(text)
    if not problems:
        return
    wanted = " -> ".join(_key_text(p) for p in target)
    named = [kp for kp in map(key_path, problems) if kp is not None]
    assert named, problems  # a valid YAML tree is judged key by key
    assert any(
        kp == "(top level)" or wanted.startswith(kp.split(" -> [key]")[0]) or kp.startswith(wanted)
        for kp in named
    ), (wanted, problems)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[" * 5000, "nested too deeply"),
        ("a: " + "{b: " * 3000, "nested too deeply"),
        ("site: {id: a, holidays: [2026-02-30]}\ncameras: [{id: c, source: rtsp://x}]", "2026-02-30"),
        ("site: {id: a, timezone: America}\ncameras: [{id: c, source: rtsp://x}]", "unknown time zone"),
        ("site: {id: a, timezone: " + "a" * 5000 + "}\ncameras: [{id: c, source: rtsp://x}]", "unknown time zone"),
        ("site: {id: a}\ncameras: [{id: c, source: " + "a" * 5000 + "}]", "cameras -> 0 -> source"),
        ("site: {id: a}\nsite: {id: b}\ncameras: [{id: c, source: rtsp://x}]", "site: 'site': the key appears twice"),
    ],
    ids=["deep-list", "deep-map", "impossible-date", "tz-folder", "tz-too-long", "path-too-long", "duplicate-key"],
)
def test_found_by_fuzzing(text: str, needle: str) -> None:
    """Inputs the fuzzers found that escaped as RecursionError, ValueError or OSError (or, for a
    repeated key, were silently half-ignored); each is now one ConfigError line."""
    problems = check(text, check_files=True)
    assert problems and any(needle in p for p in problems), problems


def test_dates_in_generated_trees_survive() -> None:
    doc = copy.deepcopy(VALID)
    doc["site"]["holidays"] = [date(2026, 10, 1), datetime(2026, 10, 2, 9, 0)]
    problems = check(yaml.safe_dump(doc))
    assert all(LINE.match(p) for p in problems)
