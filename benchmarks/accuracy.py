"""Detection calibration: per detector and confidence, person counts and rule outcomes vs ground truth.

Two measurements, each against labels a person made by looking at the frames:

* **Person counts** on every clip of ``../shared/footage`` (labels in ``benchmarks/cases/*.json``
  under ``"persons"``): per frame, found persons at or above the confidence vs the true count;
  precision = sum(min(found, true)) / sum(found), recall = sum(min(found, true)) / sum(true).
* **Rule outcomes**: the whole pipeline (track, zones, staff, rules) on the six sample scenes and on
  the cases in ``benchmarks/cases/`` built from the real footage, scored like ``tellerwatch eval``.
  Each (confidence, low confidence) point is run with and without ByteTrack's second association.

Inference runs once per frame and detector, at the lowest threshold of the sweep; every other
threshold filters those boxes (greedy NMS keeps the boxes at or above a threshold unchanged), so
the sweep costs one detector pass plus a cheap pipeline pass per point.

    python benchmarks/accuracy.py --detector ssd-mobilenet \\
        --detector yolox-onnx=../shared/models/yolox_nano_416x416.onnx \\
        --out benchmarks/results/accuracy.json --plot docs/accuracy_pr.png

Where ``../shared`` is absent, the footage counts and the footage cases are skipped with a reason
and the sample scenes still run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import numpy as np
import supervision as sv

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.capacity import cpu_model  # noqa: E402
from vision.config import AppConfig, DetectorConfig, load_config  # noqa: E402
from vision.detectors import build_detector  # noqa: E402
from vision.detectors.base import Detector  # noqa: E402
from vision.evaluate import FoundViolation, load_truth, score  # noqa: E402
from vision.runner import run  # noqa: E402
from vision.zones import ZoneSet  # noqa: E402

CASES = ROOT / "benchmarks" / "cases"
SCENES = ROOT / "sample_videos" / "scenes"
SHARED = ROOT.parent / "shared"
DEFAULT_CONFIDENCES = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5)
ANCHORS = ("center", "bottom_center", "center_or_bottom")
SEATED_KINDS = ("teller_area", "counter")
FLOOR_KINDS = ("door", "customer_area", "generic")


class CachedDetector(Detector):
    """Runs ``inner`` once per distinct image and serves any threshold at or above its own.

    ``inner`` runs at ``floor`` for every class; this wrapper applies ``cfg`` (confidence for items
    and new tracks, low_confidence for persons) to its cached boxes.
    """

    def __init__(self, inner: Detector, cache: dict[bytes, sv.Detections]) -> None:
        super().__init__(inner.cfg, inner.class_names, inner.name)
        self.inner = inner
        self.cache = cache
        self.stats = {"infer_s": 0.0, "calls": 0}  # shared by every threshold view of one cache

    @property
    def calls(self) -> int:
        return int(self.stats["calls"])

    @property
    def infer_s(self) -> float:
        return float(self.stats["infer_s"])

    def with_thresholds(self, confidence: float, low: float) -> CachedDetector:
        other = CachedDetector(self.inner, self.cache)
        other.stats = self.stats
        other.cfg = self.inner.cfg.model_copy(update={"confidence": confidence, "low_confidence": low})
        return other

    def raw(self, image: np.ndarray) -> sv.Detections:
        key = hashlib.blake2b(image.tobytes(), digest_size=16).digest()
        dets = self.cache.get(key)
        if dets is None:
            t0 = time.perf_counter()
            dets = self.inner.detect(image)
            self.stats["infer_s"] += time.perf_counter() - t0
            self.stats["calls"] += 1
            self.cache[key] = dets
        return dets

    def detect(self, image: np.ndarray) -> sv.Detections:
        dets = self.raw(image)
        if len(dets) == 0:
            return dets
        assert dets.confidence is not None and dets.class_id is not None
        threshold = np.where(dets.class_id == self.person_class_id, self.floor, self.cfg.confidence)
        kept = dets[dets.confidence >= threshold]
        assert isinstance(kept, sv.Detections)
        return kept


# --------------------------------------------------------------------------- labels


@dataclass
class CountTruth:
    footage: Path
    default: int
    ranges: list[tuple[int, int, int]]  # (first, last, persons)
    skip: list[tuple[int, int]]
    stride: int

    def persons(self, index: int) -> int | None:
        if any(a <= index <= b for a, b in self.skip):
            return None
        for a, b, n in self.ranges:
            if a <= index <= b:
                return n
        return self.default


def count_labels(folder: Path) -> list[tuple[str, CountTruth]]:
    out = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        if "persons" not in data or "footage" not in data:
            continue
        p = data["persons"]
        out.append((path.stem, CountTruth(
            footage=(ROOT / data["footage"]).resolve(),
            default=int(p.get("default", 0)),
            ranges=[tuple(r) for r in p.get("ranges", [])],  # type: ignore[misc]
            skip=[tuple(r) for r in p.get("skip", [])],  # type: ignore[misc]
            stride=int(p.get("stride", 1)),
        )))
    return out


def decode(path: Path, stride: int) -> list[tuple[int, np.ndarray]]:
    frames = []
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % stride == 0:
                frames.append((i, frame.to_ndarray(format="bgr24")))
    return frames


# --------------------------------------------------------------------------- measurements


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    exact: int = 0
    frames: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tp": self.tp, "fp": self.fp, "fn": self.fn, "precision": round(self.precision, 4),
                               "recall": round(self.recall, 4)}
        if self.frames:
            out.update(frames=self.frames, exact_frames=self.exact)
        if self.misses:
            out["errors"] = self.misses
        return out


def person_counts(det: CachedDetector, labels: list[tuple[str, CountTruth]], confidences: list[float]
                  ) -> dict[float, dict[str, Tally]]:
    out: dict[float, dict[str, Tally]] = {c: {} for c in confidences}
    for name, truth in labels:
        for index, image in decode(truth.footage, truth.stride):
            want = truth.persons(index)
            if want is None:
                continue
            dets = det.raw(image)
            assert dets.confidence is not None
            person_conf = dets.confidence[dets.class_id == det.person_class_id]
            for c in confidences:
                found = int(np.sum(person_conf >= c))
                t = out[c].setdefault(name, Tally())
                t.tp += min(found, want)
                t.fp += max(0, found - want)
                t.fn += max(0, want - found)
                t.exact += found == want
                t.frames += 1
    return out


def with_anchor(app: AppConfig, kinds: tuple[str, ...], anchor: str | None) -> AppConfig:
    if anchor is None:
        return app
    cams = []
    for cam in app.cameras:
        zones = [z.model_copy(update={"anchor": anchor}) if z.kind.value in kinds else z for z in cam.zones]
        cams.append(cam.model_copy(update={"zones": zones}))
    return app.model_copy(update={"cameras": cams})


def rule_outcome(app: AppConfig, truth_path: Path, det: Detector, tmp: Path) -> tuple[Tally, float]:
    truth = load_truth(truth_path)
    logging.disable(logging.WARNING)
    try:
        report = run(app, data_dir=tmp, clips=False, detector=det, status_interval_s=None)
    finally:
        logging.disable(logging.NOTSET)
    found = []
    for v in report.violations:
        cam = report.cameras[v.camera]
        end = v.ended_at or v.started_at
        found.append(FoundViolation(v.id, v.camera, v.rule, v.zone, cam.seconds(v.started_at), cam.seconds(end)))
    s = score(truth, found)
    t = Tally(tp=s.true_positives, fp=s.false_positives, fn=s.false_negatives)
    t.misses = [f"FP {f.camera} {f.zone} {f.rule} {f.start_s:.1f}-{f.end_s:.1f}s" for f in s.unmatched_found]
    t.misses += [f"FN {m.camera} {m.zone} {m.rule} {m.start_s:.1f}-{m.end_s:.1f}s" for m in s.unmatched_truth]
    return t, s.max_timing_error_s


def rule_cases(include_footage: bool) -> list[tuple[str, Path, Path]]:
    """(name, config, truth) for the sample scenes and, where ../shared exists, the footage cases."""
    out = [(f"scene:{p.stem}", p, p.with_suffix(".json")) for p in sorted(SCENES.glob("*.yaml"))]
    if include_footage:
        out += [(f"case:{p.stem}", p, p.with_suffix(".json")) for p in sorted(CASES.glob("*.yaml"))]
    return out


def load_case(config: Path, detector: DetectorConfig) -> AppConfig:
    app = load_config(config)
    return app.model_copy(update={"detector": detector})


def roi_effect(base: CachedDetector, cfg: DetectorConfig, cases: list[tuple[str, Path, Path]], tmp: Path
               ) -> dict[str, Any]:
    """Rule outcomes and detector time per call, whole frame vs the zones' region, on fresh caches."""
    out: dict[str, Any] = {"detector": base.name, "confidence": cfg.confidence, "cases": {}, "rows": []}
    # default anchors, then centre anchors on teller areas / counters (whose regions need not
    # reach the top of the frame, so the seated case crops)
    for roi, anchor in (("full", None), ("zones", None), ("full", "center"), ("zones", "center")):
        det = CachedDetector(base.inner, {}).with_thresholds(cfg.confidence, cfg.low_confidence)
        tallies = []
        label = f"{roi}, {anchor or 'default'} anchors"
        for case, config, truth in cases:
            app = with_anchor(load_case(config, cfg.model_copy(update={"roi": roi})), SEATED_KINDS, anchor)
            regions = {cam.id: ZoneSet(cam.zones, *frame_size(cam.source)).region() for cam in app.cameras}
            tally, _ = rule_outcome(app, truth, det, tmp / "data")
            tallies.append(tally)
            out["cases"].setdefault(case, {})[label] = {**tally.to_json(), "regions": regions}
        total = sum_tallies(tallies)
        out["rows"].append({"roi": roi, "anchors": anchor or "default", **total.to_json(),
                            "inference_calls": det.calls,
                            "ms_per_call": round(1000 * det.infer_s / max(1, det.calls), 1)})
    return out


def frame_size(source: str | Path) -> tuple[int, int]:
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        return int(stream.codec_context.width), int(stream.codec_context.height)


# --------------------------------------------------------------------------- output


def sum_tallies(tallies: list[Tally]) -> Tally:
    total = Tally()
    for t in tallies:
        total.tp, total.fp, total.fn = total.tp + t.tp, total.fp + t.fp, total.fn + t.fn
        total.exact, total.frames = total.exact + t.exact, total.frames + t.frames
    return total


def markdown(result: dict[str, Any]) -> str:
    lines = [f"Measured {result['date']} on {result['machine']} ({result['note']}).", "",
             "Person counts per frame (all clips of ../shared/footage) and rule outcomes (violations vs "
             "ground truth; scenes: the six sample scenes, cases: benchmarks/cases on real footage).", "",
             "| detector | confidence | low (2nd association) | counts P / R | exact frames | scenes P / R | "
             "cases P / R | rule errors |",
             "|---|---|---|---|---|---|---|---|"]
    for d in result["detectors"]:
        for row in d["sweep"]:
            c = row.get("counts")
            counts = f"{c['precision']:.3f} / {c['recall']:.3f}" if c else "skipped"
            exact = f"{c['exact_frames']}/{c['frames']}" if c else "-"
            sc, ca = row["scenes"], row.get("cases")
            cases = f"{ca['precision']:.2f} / {ca['recall']:.2f}" if ca else "skipped"
            errs = "; ".join(row.get("rule_errors", [])[:4]) or "none"
            low = "off" if row["low_confidence"] >= row["confidence"] else f"{row['low_confidence']:.2f}"
            lines.append(f"| {d['name']} | {row['confidence']:.2f} | {low} | {counts} | {exact} | "
                         f"{sc['precision']:.2f} / {sc['recall']:.2f} | {cases} | {errs} |")
    if result.get("anchors"):
        lines += ["", f"Zone anchors ({result['anchors']['detector']}, confidence "
                      f"{result['anchors']['confidence']}, low {result['anchors']['low_confidence']}): rule "
                      "outcomes with every zone of the kinds named set to one anchor.", "",
                  "| zone kinds | anchor | scenes P / R | cases P / R | rule errors |", "|---|---|---|---|---|"]
        for row in result["anchors"]["rows"]:
            sc, ca = row["scenes"], row.get("cases")
            cases = f"{ca['precision']:.2f} / {ca['recall']:.2f}" if ca else "skipped"
            errs = "; ".join(row.get("rule_errors", [])[:4]) or "none"
            lines.append(f"| {', '.join(row['kinds'])} | {row['anchor']} | {sc['precision']:.2f} / "
                         f"{sc['recall']:.2f} | {cases} | {errs} |")
    if result.get("roi"):
        r = result["roi"]
        lines += ["", f"Zone-focused inference ({r['detector']}, footage cases): `detector.roi`.", "",
                  "| roi | teller_area / counter anchors | cases P / R | detector calls | ms per call | regions |",
                  "|---|---|---|---|---|---|"]
        for x in r["rows"]:
            label = f"{x['roi']}, {x['anchors']} anchors"
            regions = "; ".join(f"{c.split(':')[1]}: {v[label]['regions']}" for c, v in r["cases"].items())
            lines.append(f"| {x['roi']} | {x['anchors']} | {x['precision']:.2f} / {x['recall']:.2f} | "
                         f"{x['inference_calls']} | {x['ms_per_call']} | {regions} |")
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    lows: list[float] = []
    for d in result["detectors"]:
        for second, style in ((True, "-o"), (False, "--x")):
            rows = [r for r in d["sweep"] if (r["low_confidence"] < r["confidence"]) == second]
            if not rows:
                continue
            label = d["name"] + ("" if second else " (2nd association off)")
            conf = [r["confidence"] for r in rows]
            if all(r.get("counts") for r in rows) and second:
                points = [(r["counts"]["recall"], r["counts"]["precision"]) for r in rows]
                line = _curve(axes[0], points, conf, style, label)
                lows += [p for xy in points for p in xy]
            rules = [sum_tallies([_tally(r["scenes"]), *([_tally(r["cases"])] if r.get("cases") else [])])
                     for r in rows]
            points = [(t.recall, t.precision) for t in rules]
            line = _curve(axes[1], points, conf, style, label, color=None if second else line.get_color())
            lows += [p for xy in points for p in xy]
    axes[0].set_title("person counts per frame (../shared/footage)", fontsize=10)
    axes[1].set_title("rule outcomes (6 sample scenes + footage cases)", fontsize=10)
    lo = min([0.9, *lows]) - 0.02
    for ax in axes:
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_xlim(lo, 1.01)
        ax.set_ylim(lo, 1.01)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    fig.suptitle(f"Precision / recall per detector; point labels: detector.confidence "
                 f"(low_confidence {result['low_confidence']})", fontsize=10)
    fig.text(0.01, 0.01, f"{result['date']}, {result['machine']}. Footage: Intel Corporation, CC BY 4.0 "
             "(intel-iot-devkit/sample-videos)", fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def _curve(ax: Any, points: list[tuple[float, float]], conf: list[float], style: str, label: str,
           color: Any = None) -> Any:
    """One detector's curve; confidences that land on the same point share one label."""
    (line,) = ax.plot([p[0] for p in points], [p[1] for p in points], style, label=label, color=color,
                      markersize=6 if "o" in style else 8)
    groups: dict[tuple[float, float], list[float]] = {}
    for p, c in zip(points, conf, strict=True):
        groups.setdefault(p, []).append(c)
    for (x, y), cs in groups.items():
        text = f"{cs[0]:.2f}" if len(cs) == 1 else f"{min(cs):.2f}-{max(cs):.2f}"
        ax.annotate(text, (x, y), textcoords="offset points", xytext=(-6, -12 if "x" in style else 5),
                    fontsize=7, color=line.get_color(), ha="right")
    return line


def _tally(d: dict[str, Any]) -> Tally:
    return Tally(tp=d["tp"], fp=d["fp"], fn=d["fn"])


# --------------------------------------------------------------------------- main


def parse_detector(spec: str) -> tuple[str, str, Path | None]:
    kind, _, model = spec.partition("=")
    path = Path(model) if model else None
    name = kind if path is None else f"{kind} ({path.name})"
    return name, kind, path


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--detector", action="append", help="TYPE or TYPE=MODEL_PATH (repeat); default ssd-mobilenet")
    ap.add_argument("--confidence", type=float, nargs="+", default=list(DEFAULT_CONFIDENCES))
    ap.add_argument("--low", type=float, default=DetectorConfig().low_confidence,
                    help="low_confidence for the second association (each point also runs with it off)")
    ap.add_argument("--off-at", type=float, nargs="*",
                    help="run the second-association-off variant only at these confidences (default: all)")
    ap.add_argument("--merge", type=Path, nargs="+",
                    help="combine the JSON results of earlier runs (one detector each) into one table and plot")
    ap.add_argument("--anchors", action="store_true", help="also compare zone anchors (first detector, defaults)")
    ap.add_argument("--roi", action="store_true",
                    help="also run the footage cases with detector.roi: zones (first detector, defaults)")
    ap.add_argument("--scenes", nargs="*", help="only these sample scenes / cases (names without .yaml)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "accuracy.json")
    ap.add_argument("--plot", type=Path, default=ROOT / "docs" / "accuracy_pr.png")
    ap.add_argument("--note", default="busy: other work shared the two cores")
    return ap


Case = tuple[str, Path, Path]


def sweep_points(confidences: list[float], low: float, off_at: list[float] | None) -> list[tuple[float, float]]:
    """(confidence, low_confidence) per sweep point: with the second association at ``low`` where it
    is below the confidence, and off (low = confidence) where ``off_at`` allows or it is not below."""
    points = []
    for conf in confidences:
        off = off_at is None or any(abs(conf - c) < 1e-9 for c in off_at)
        for lo in ([low] if low < conf else []) + ([conf] if off or low >= conf else []):
            points.append((conf, lo))
    return points


def per_case_rows(per_case: dict[str, Tally]) -> dict[str, Any]:
    """The scenes' and (where any ran) the footage cases' summed tallies, and every rule miss."""
    row: dict[str, Any] = {
        "scenes": sum_tallies([v for k, v in per_case.items() if k.startswith("scene:")]).to_json()}
    footage_cases = [v for k, v in per_case.items() if k.startswith("case:")]
    if footage_cases:
        row["cases"] = sum_tallies(footage_cases).to_json()
    row["rule_errors"] = [f"{k}: {m}" for k, v in per_case.items() for m in v.misses]
    return row


def sweep_row(det: Any, cfg: DetectorConfig, counts: dict[float, dict[str, Tally]], cases: list[Case],
              tmp: Path) -> dict[str, Any]:
    conf, low = cfg.confidence, cfg.low_confidence
    per_case: dict[str, Any] = {}
    worst = 0.0
    for case, config, truth in cases:
        tally, err = rule_outcome(load_case(config, cfg), truth, det, tmp / "data")
        per_case[case] = tally
        worst = max(worst, err)
    row: dict[str, Any] = {"confidence": conf, "low_confidence": low}
    if conf in counts and counts[conf]:
        row["counts"] = sum_tallies(list(counts[conf].values())).to_json()
        row["counts_per_clip"] = {k: v.to_json() for k, v in counts[conf].items()}
    tallies = per_case_rows(per_case)
    row["scenes"] = tallies["scenes"]
    if "cases" in tallies:
        row["cases"] = tallies["cases"]
    row["max_timing_error_s"] = round(worst, 2)
    row["rule_errors"] = tallies["rule_errors"]
    return row


def run_detector(spec: tuple[str, str, Path | None], args: argparse.Namespace, confidences: list[float],
                 labels: list[Any], cases: list[Case], tmp: Path) -> tuple[dict[str, Any], CachedDetector]:
    """One detector's sweep: its result entry and its cached detector (for the anchor / ROI runs)."""
    name, kind, model = spec
    t0 = time.perf_counter()
    floor = min([*confidences, args.low])
    inner_cfg = DetectorConfig(type=kind, model=model, confidence=floor, low_confidence=floor)
    base = CachedDetector(build_detector(inner_cfg), {})
    counts = person_counts(base, labels, confidences) if labels else {}
    sweep = []
    for conf, low in sweep_points(confidences, args.low, args.off_at):
        cfg = DetectorConfig(type=kind, model=model, confidence=conf, low_confidence=low)
        row = sweep_row(base.with_thresholds(conf, low), cfg, counts, cases, tmp)
        sweep.append(row)
        print(f"{name} conf {conf:.2f} low {low:.2f}: scenes {row['scenes']['precision']:.2f}/"
              f"{row['scenes']['recall']:.2f} cases "
              f"{row.get('cases', {}).get('precision', '-')}/{row.get('cases', {}).get('recall', '-')}"
              f" {row['rule_errors'][:3]}", file=sys.stderr, flush=True)
    entry = {
        "name": name, "type": kind, "model": str(model) if model else None, "has_low": True,
        "inference_calls": base.calls, "inference_s": round(base.infer_s, 1),
        "ms_per_frame": round(1000 * base.infer_s / max(1, base.calls), 1),
        "wall_s": round(time.perf_counter() - t0, 1), "sweep": sweep,
    }
    return entry, base


def anchor_rows(name: str, base: CachedDetector, cfg: DetectorConfig, cases: list[Case], tmp: Path
                ) -> dict[str, Any]:
    """Rule outcomes with each zone anchor on the seated and on the floor zone kinds."""
    det = base.with_thresholds(cfg.confidence, cfg.low_confidence)
    rows = []
    for kinds in (SEATED_KINDS, FLOOR_KINDS):
        for anchor in ANCHORS:
            per_case = {}
            for case, config, truth in cases:
                app = with_anchor(load_case(config, cfg), kinds, anchor)
                per_case[case], _ = rule_outcome(app, truth, det, tmp / "data")
            tallies = per_case_rows(per_case)
            row = {"kinds": list(kinds), "anchor": anchor, "scenes": tallies["scenes"],
                   "rule_errors": tallies["rule_errors"]}
            if "cases" in tallies:
                row["cases"] = tallies["cases"]
            rows.append(row)
            print(f"anchor {anchor} on {kinds}: {row['rule_errors'][:4]}", file=sys.stderr, flush=True)
    return {"detector": name, "confidence": cfg.confidence, "low_confidence": cfg.low_confidence, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.merge:
        return write(merge([json.loads(p.read_text()) for p in args.merge]), args.out, args.plot)
    have_shared = (SHARED / "footage").is_dir()
    if not have_shared:
        print(f"skipping footage counts and footage cases: {SHARED / 'footage'} is absent", file=sys.stderr)
    labels = count_labels(CASES) if have_shared else []
    cases = rule_cases(have_shared)
    if args.scenes:
        cases = [c for c in cases if c[0].split(":", 1)[1] in args.scenes]
    confidences = sorted(args.confidence)
    specs = [parse_detector(s) for s in (args.detector or ["ssd-mobilenet"])]
    result: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{cpu_model()}, {os.cpu_count()} CPUs",
        "note": args.note,
        "command": "python benchmarks/accuracy.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "low_confidence": args.low,
        "count_clips": [name for name, _ in labels],
        "rule_cases": [name for name, _, _ in cases],
        "detectors": [],
    }
    with tempfile.TemporaryDirectory(prefix="tw-accuracy-") as tmpdir:
        tmp = Path(tmpdir)
        first: tuple[str, CachedDetector, DetectorConfig] | None = None
        for name, kind, model in specs:
            if model is not None and not model.is_file():
                print(f"skipping {name}: model file {model} is absent", file=sys.stderr)
                result.setdefault("skipped", []).append(f"{name}: {model} is absent")
                continue
            entry, base = run_detector((name, kind, model), args, confidences, labels, cases, tmp)
            result["detectors"].append(entry)
            if first is None:
                first = (name, base, DetectorConfig(type=kind, model=model))
        if args.anchors and first is not None:
            result["anchors"] = anchor_rows(*first, cases, tmp)
        if args.roi and first is not None:
            result["roi"] = roi_effect(first[1], first[2], [c for c in cases if c[0].startswith("case:")], tmp)
    return write(result, args.out, args.plot)


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One result from runs of one detector each (run side by side to share a busy machine)."""
    out = dict(results[0])
    out["detectors"] = [d for r in results for d in r["detectors"]]
    out["command"] = " ; ".join(r["command"] for r in results)
    for key in ("anchors", "roi"):
        found = [r[key] for r in results if r.get(key)]
        if found:
            out[key] = found[0]
    return out


def write(result: dict[str, Any], out: Path, plot_path: Path | None) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md = markdown(result)
    out.with_suffix(".md").write_text(md, encoding="utf-8")
    if plot_path:
        plot(result, plot_path)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
