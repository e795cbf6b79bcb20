"""Scoring violations against labelled ground truth (``tellerwatch eval``).

A found violation matches a true one on the same camera, rule and zone (and ``kind``, where the
truth names one: ``details.kind`` of ``camera_tamper``) when both its start and
its end lie within ``tolerance_s`` of the truth; each true violation matches at most one found
one (closest first). Precision, recall and the timing errors of the matches are reported.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vision.errors import ConfigError


class TruthViolation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera: str
    rule: str
    zone: str
    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)
    kind: str | None = None  # where given, the found violation's details.kind must be the same


class GroundTruth(BaseModel):
    model_config = ConfigDict(extra="allow")
    tolerance_s: float = Field(3.0, ge=0)
    violations: list[TruthViolation]


@dataclass(frozen=True, slots=True)
class FoundViolation:
    id: str
    camera: str
    rule: str
    zone: str
    start_s: float
    end_s: float
    kind: str | None = None  # details.kind (camera_tamper)


@dataclass
class Score:
    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float
    recall: float
    mean_start_error_s: float
    mean_end_error_s: float
    max_timing_error_s: float
    matches: list[tuple[TruthViolation, FoundViolation]]
    unmatched_found: list[FoundViolation]
    unmatched_truth: list[TruthViolation]

    def to_json_dict(self) -> dict[str, object]:
        return {
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "false_negatives": self.false_negatives,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "mean_start_error_s": round(self.mean_start_error_s, 3),
            "mean_end_error_s": round(self.mean_end_error_s, 3),
            "max_timing_error_s": round(self.max_timing_error_s, 3),
            "false_positive_details": [asdict(f) for f in self.unmatched_found],
            "missed": [t.model_dump() for t in self.unmatched_truth],
        }


def load_truth(path: Path) -> GroundTruth:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"ground truth file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable JSON file: {exc}") from None
    try:
        return GroundTruth.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = " -> ".join(str(p) for p in err["loc"])
        raise ConfigError(f"{path}: {where}: {err['msg']}") from None


def score(truth: GroundTruth, found: list[FoundViolation]) -> Score:
    tol = truth.tolerance_s
    candidates = []
    for ti, t in enumerate(truth.violations):
        for fi, f in enumerate(found):
            if (t.camera, t.rule, t.zone) != (f.camera, f.rule, f.zone):
                continue
            if t.kind is not None and t.kind != f.kind:
                continue
            ds, de = abs(f.start_s - t.start_s), abs(f.end_s - t.end_s)
            if ds <= tol and de <= tol:
                candidates.append((ds + de, ti, fi))
    candidates.sort()
    used_t: set[int] = set()
    used_f: set[int] = set()
    matches = []
    for _, ti, fi in candidates:
        if ti in used_t or fi in used_f:
            continue
        used_t.add(ti)
        used_f.add(fi)
        matches.append((truth.violations[ti], found[fi]))
    tp = len(matches)
    fp = len(found) - tp
    fn = len(truth.violations) - tp
    starts = [abs(f.start_s - t.start_s) for t, f in matches]
    ends = [abs(f.end_s - t.end_s) for t, f in matches]
    return Score(
        true_positives=tp,
        false_positives=fp,
        false_negatives=fn,
        precision=tp / (tp + fp) if tp + fp else 1.0,
        recall=tp / (tp + fn) if tp + fn else 1.0,
        mean_start_error_s=sum(starts) / len(starts) if starts else 0.0,
        mean_end_error_s=sum(ends) / len(ends) if ends else 0.0,
        max_timing_error_s=max(starts + ends) if matches else 0.0,
        matches=matches,
        unmatched_found=[f for i, f in enumerate(found) if i not in used_f],
        unmatched_truth=[t for i, t in enumerate(truth.violations) if i not in used_t],
    )
