"""The ``tellerwatch`` command line (DESIGN.md "Command line").

Every user error (bad config, missing video, unreadable model, bad ground truth) ends as one
line on stderr and exit code 2; tracebacks are for bugs only.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from vision.errors import ConfigError, TellerWatchError

app = typer.Typer(
    name="tellerwatch",
    help="TellerWatch: teller-counter security rules from CCTV, offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
users_app = typer.Typer(help="Logins for the web pages and API.", no_args_is_help=True)
app.add_typer(users_app, name="users")
outbox_app = typer.Typer(
    help="The pipeline's outbox: violation states waiting for the API, and the dead letter of those it refused.",
    no_args_is_help=True,
)
app.add_typer(outbox_app, name="outbox")
models_app = typer.Typer(help="The models TellerWatch knows (models/manifest.yaml) and checking files against it.",
                         no_args_is_help=True)
app.add_typer(models_app, name="models")

err = Console(stderr=True)
out = Console()

ConfigArg = Annotated[Path, typer.Argument(help="the YAML config file", show_default=False)]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="default: $TELLERWATCH_DATA_DIR, else ./data", show_default=False)
]


def data_dir() -> Path:
    return Path(os.environ.get("TELLERWATCH_DATA_DIR", "./data"))


def writable_data_dir() -> Path:
    """The data dir, created and proven writable; one line and exit 2 otherwise."""
    from vision.datadir import DataDirError, check_data_dir

    try:
        return check_data_dir(data_dir())
    except DataDirError as exc:
        fail(str(exc))


def fail(message: str) -> NoReturn:
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _load(config: Path) -> Any:
    from vision.config import load_config

    try:
        return load_config(config)
    except ConfigError as exc:
        for line in exc.problems or [str(exc)]:
            err.print(line, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


@app.command()
def validate(config: ConfigArg) -> None:
    """Check a config file: exit 0 if valid, else 2 with one line per error."""
    cfg = _load(config)
    n_rules = sum(len(c.rules) for c in cfg.cameras)
    out.print(f"{config}: valid ({len(cfg.cameras)} camera(s), {n_rules} rule(s))", markup=False)
    from vision.evidence.retention import short_retention_warnings

    for line in short_retention_warnings({c.id: c.evidence.retention_days for c in cfg.cameras}):
        err.print(line, markup=False, highlight=False, soft_wrap=True)


def _warn_disk(evidence_dir: Path, retention_days: list[float | None]) -> None:
    """Warns (stderr) when the disk cannot hold the retention at the measured evidence rate; the
    privacy exports cache (``DATA/exports``) on that disk is counted (see ``DiskForecast``)."""
    from api.privacy import EXPORT_MAX_AGE_S
    from vision.evidence.retention import capacity_warning

    line = capacity_warning(evidence_dir, retention_days, exports_dir=data_dir() / "exports",
                            exports_max_age_s=EXPORT_MAX_AGE_S)
    if line:
        err.print(line, markup=False, highlight=False, soft_wrap=True)


def _serve_retention(cfg: Any | None) -> list[float | None]:
    """The days ``serve`` keeps evidence (``api.retention.serve_retention_days``); the config's
    cameras' where the settings do not load (``serve`` then stops with their error)."""
    from api.cli_support import load_settings
    from api.retention import serve_retention_days

    try:
        settings = load_settings()
    except TellerWatchError:
        return [c.evidence.retention_days for c in cfg.cameras] if cfg else []
    return [serve_retention_days(settings, cfg)]


def _build_sinks(cfg: Any) -> list[Any]:
    from vision.sinks import build_sinks

    return build_sinks(cfg.sinks, data_dir())


def _progress_run(cfg: Any, **kwargs: Any) -> Any:
    """Runs the pipeline with a progress bar per file camera."""
    from vision.runner import run

    quiet = kwargs.pop("quiet", False)
    show = sys.stderr.isatty() and not quiet
    if not show:
        return run(cfg, **kwargs)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[t]:>7.1f} s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
    )
    tasks: dict[str, Any] = {}

    def on_frame(camera_id: str, frame: Any, source: Any) -> None:
        if camera_id not in tasks:
            total = getattr(source, "duration_s", None)
            tasks[camera_id] = progress.add_task(camera_id, total=total, t=0.0)
        progress.update(tasks[camera_id], completed=frame.t, t=frame.t)

    with progress:
        return run(cfg, on_frame=on_frame, **kwargs)


@app.command("run")
def run_cmd(
    config: ConfigArg,
    events_jsonl: Annotated[Path | None, typer.Option(help="write each violation's final state here")] = None,
    frames_jsonl: Annotated[Path | None, typer.Option(help="write one line per analysed frame here")] = None,
    no_clips: Annotated[bool, typer.Option("--no-clips", help="no snapshots or clips")] = False,
    max_seconds: Annotated[
        float | None, typer.Option(min=0, help="stop each camera after this much media time")
    ] = None,
    no_motion_gating: Annotated[
        bool, typer.Option("--no-motion-gating", help="run the detector on every analysed frame")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Run every camera in CONFIG; files run to their end, then exit 0."""
    cfg = _load(config)
    _warn_disk(writable_data_dir() / "evidence", [c.evidence.retention_days for c in cfg.cameras])
    try:
        sinks = _build_sinks(cfg)
    except TellerWatchError as exc:
        fail(str(exc))
        return
    try:
        report = _progress_run(
            cfg,
            data_dir=data_dir(),
            events_jsonl=events_jsonl,
            frames_jsonl=frames_jsonl,
            clips=not no_clips,
            max_seconds=max_seconds,
            sinks=sinks,
            motion_gating=False if no_motion_gating else None,
            quiet=quiet,
            journal=True,
        )
    except TellerWatchError as exc:
        fail(str(exc))
        return
    finally:
        for sink in sinks:
            if not sink.flush(10.0):
                err.print(f"{type(sink).__name__}: undelivered events stay queued for the next run", markup=False)
            sink.close()
    failed = [r for r in report.cameras.values() if r.error]
    for r in report.cameras.values():
        line = f"{r.camera}: {r.frames} frames analysed ({r.detections_run} detector runs), {len(r.gaps)} gap(s)"
        if r.error:
            line += f"; stopped: {r.error}"
        err.print(line, markup=False, highlight=False)
    if report.recovered:
        err.print(f"{len(report.recovered)} violation(s) left open by a run that stopped were closed as "
                  "interrupted", markup=False)
    err.print(f"{len(report.violations)} violation(s) in {report.wall_s:.1f} s", markup=False)
    if failed and len(failed) == len(report.cameras):
        fail(failed[0].error or "every camera failed")


@app.command("eval")
def eval_cmd(
    config: ConfigArg,
    truth: Annotated[Path, typer.Argument(help="ground truth JSON", show_default=False)],
    json_out: Annotated[Path | None, typer.Option("--json", help="write the score as JSON here")] = None,
    no_clips: Annotated[bool, typer.Option("--no-clips/--clips")] = True,
    events_jsonl: Annotated[Path | None, typer.Option(help="also write each violation state change here")] = None,
    frames_jsonl: Annotated[Path | None, typer.Option(help="also write one line per analysed frame here")] = None,
) -> None:
    """Run CONFIG and score its violations against ground truth."""
    from vision.evaluate import FoundViolation, load_truth, score

    cfg = _load(config)
    try:
        gt = load_truth(truth)
        report = _progress_run(cfg, data_dir=writable_data_dir(), clips=not no_clips, events_jsonl=events_jsonl,
                               frames_jsonl=frames_jsonl)
    except TellerWatchError as exc:
        fail(str(exc))
        return
    found = []
    for v in report.violations:
        cam = report.cameras[v.camera]
        end = v.ended_at or v.started_at
        kind = v.details.get("kind")
        found.append(FoundViolation(v.id, v.camera, v.rule, v.zone, cam.seconds(v.started_at), cam.seconds(end),
                                    kind if isinstance(kind, str) else None))
    s = score(gt, found)
    table = Table(title=f"tellerwatch eval {config.name} vs {truth.name} (tolerance {gt.tolerance_s} s)")
    for col in ("precision", "recall", "TP", "FP", "FN", "mean start err s", "mean end err s", "max err s"):
        table.add_column(col)
    table.add_row(f"{s.precision:.3f}", f"{s.recall:.3f}", str(s.true_positives), str(s.false_positives),
                  str(s.false_negatives), f"{s.mean_start_error_s:.2f}", f"{s.mean_end_error_s:.2f}",
                  f"{s.max_timing_error_s:.2f}")
    out.print(table)
    for f in s.unmatched_found:
        out.print(f"false positive: {f.camera} {f.rule} {f.zone} {f.start_s:.1f}-{f.end_s:.1f} s", markup=False)
    for t in s.unmatched_truth:
        out.print(f"missed: {t.camera} {t.rule} {t.zone} {t.start_s:.1f}-{t.end_s:.1f} s", markup=False)
    if json_out:
        json_out.write_text(json.dumps(s.to_json_dict(), indent=2), encoding="utf-8")


@app.command("bench")
def bench_cmd(
    config: ConfigArg,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the report as JSON here")] = None,
    cameras: Annotated[int, typer.Option(min=1, max=64, help="run every camera this many times over")] = 1,
    no_clips: Annotated[bool, typer.Option("--no-clips")] = False,
    no_motion_gating: Annotated[bool, typer.Option("--no-motion-gating")] = False,
    max_seconds: Annotated[float | None, typer.Option(min=0)] = None,
) -> None:
    """Per-stage latency (p50/p95/p99), throughput, CPU and memory of a run of CONFIG."""
    from vision.bench import bench

    cfg = _load(config)
    try:
        result = bench(cfg, data_dir=writable_data_dir(), copies=cameras, clips=not no_clips,
                       motion_gating=False if no_motion_gating else None, max_seconds=max_seconds)
    except TellerWatchError as exc:
        fail(str(exc))
        return
    table = Table(title=f"tellerwatch bench {config.name}: {result['cameras']} camera(s), {result['detector']}, "
                        f"motion gating {'on' if result['motion_gating'] else 'off'}")
    for col in ("stage", "p50 ms", "p95 ms", "p99 ms", "count"):
        table.add_column(col, justify="right" if col != "stage" else "left")
    for name, st in result["stages"].items():
        table.add_row(name, f"{st['p50_ms']:.2f}", f"{st['p95_ms']:.2f}", f"{st['p99_ms']:.2f}", str(st["count"]))
    out.print(table)
    out.print(
        f"fps {result['fps']}  real-time factor {result['realtime_factor']}  CPU {result['cpu_percent']}% "
        f"of {result['cpu_count']} cores  peak RSS {result['peak_rss_mb']} MB  "
        f"non-model/detector p50 {result['non_model_share_of_detector']}",
        markup=False,
    )
    if result.get("motion"):
        m = result["motion"]
        out.print(
            f"motion gate: {m['gate_p50_ms']:.2f} ms p50 per frame ({m['gate_total_s']:.2f} s over "
            f"{m['frames_checked']} frames); detector runs saved {m['detector_runs_saved']} of {result['frames']} "
            f"({100 * m['saved_share']:.1f}%), ~{m['detector_s_saved']:.2f} s of detector time, net "
            f"{m['net_s_saved']:.2f} s",
            markup=False,
            soft_wrap=True,
        )
    if json_out:
        json_out.write_text(json.dumps(result, indent=2), encoding="utf-8")


@app.command()
def enroll(
    images: Annotated[Path, typer.Argument(help="folder of staff crops (jpg/png)", show_default=False)],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="profile / gallery file to write")],
    method: Annotated[str, typer.Option(help="uniform or reid")] = "uniform",
    reid_model: Annotated[Path | None, typer.Option(help="re-ID ONNX model (method reid)")] = None,
) -> None:
    """Enrol the staff uniform (or a re-ID gallery) from example crops."""
    from vision.staff import enroll as do_enroll

    if method not in ("uniform", "reid"):
        fail(f"--method must be 'uniform' or 'reid', not {method!r}")
    try:
        do_enroll(method, images, out_path, reid_model)
    except (TellerWatchError, ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    out.print(f"wrote {out_path}", markup=False)


@app.command()
def serve(
    config: Annotated[Path | None, typer.Option(help="config whose cameras the zone editor shows")] = None,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
) -> None:
    """Serve the API and web pages."""
    from api.cli_support import serve as do_serve
    from vision.datadir import DataDirError, check_data_dir

    cfg = _load(config) if config is not None else None
    try:
        check_data_dir(data_dir())
        evidence = os.environ.get("TELLERWATCH_EVIDENCE_DIR")
        if evidence:
            check_data_dir(Path(evidence), "evidence dir")
    except DataDirError as exc:
        fail(str(exc))
    _warn_disk(Path(evidence) if evidence else data_dir() / "evidence", _serve_retention(cfg))
    try:
        do_serve(config, host, port)
    except (TellerWatchError, ValueError) as exc:
        fail(str(exc))


@app.command()
def demo(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    exit_when_done: Annotated[bool, typer.Option("--exit", help="stop once the scenes are processed")] = False,
) -> None:
    """Offline demo: run the sample scenes, serve the pages (logins demo, demo-operator, demo-branch,
    demo-engineer; password demo)."""
    from tellerwatch.demo import demo as run_demo

    try:
        run_demo(host, port, serve_forever=not exit_when_done, say=lambda s: out.print(s, markup=False))
    except (TellerWatchError, ValueError) as exc:
        fail(str(exc))


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(show_default=False)],
    role: Annotated[str, typer.Option(help="operator | branch_head | engineer | admin")],
    site: Annotated[str | None, typer.Option(help="a known site id (required for branch_head)")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from stdin")] = False,
) -> None:
    """Create a login."""
    from api.cli_support import users_add as do_add

    if not password_stdin:
        fail("pass --password-stdin and give the password on standard input")
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        fail("empty password on standard input")
    try:
        do_add(name, role, site, password)
    except (TellerWatchError, ValueError) as exc:
        fail(str(exc))
    out.print(f"user {name!r} ({role}) created", markup=False)


@app.command()
def verify(
    folder: DataDirOpt = None,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", help="default: $TELLERWATCH_DATABASE_URL, else the SQLite file in the data dir",
        show_default=False)] = None,
) -> None:
    """Check the API's evidence folder against the database: exit 0 if every clip and snapshot is
    there and matches its recorded SHA-256, 1 with one line per file that differs or is missing."""
    from api.cli_support import verify_evidence

    try:
        report = verify_evidence(folder, database_url)
    except (TellerWatchError, ValueError) as exc:
        fail(str(exc))
    for problem in report.problems:
        out.print(problem.line(), markup=False, highlight=False, soft_wrap=True)
    summary = (f"{report.matched} file(s) match their SHA-256, {report.unhashed} without a recorded SHA-256, "
               f"{len(report.problems)} problem(s)")
    out.print(summary, markup=False, highlight=False)
    if not report.ok:
        raise typer.Exit(1)


def _open_outbox(folder: Path | None) -> Any:
    import sqlite3

    from vision.sinks.http import OUTBOX_FILE, Outbox

    path = (folder or data_dir()) / OUTBOX_FILE
    if not path.is_file():
        fail(f"no outbox at {path}; point TELLERWATCH_DATA_DIR (or --data-dir) at the pipeline's data dir")
    try:
        return Outbox(path)
    except sqlite3.Error as exc:
        fail(f"{path} is not a readable outbox: {exc}")


def _dead_id(box: Any, wanted: str) -> str:
    """The dead letter ``wanted`` names: its violation id, or a prefix of it that is unique."""
    ids = [d.id for d in box.dead_letters()]
    if wanted in ids:
        return wanted
    matches = sorted({i for i in ids if wanted and i.startswith(wanted)})
    if len(matches) == 1:
        return matches[0]
    box.close()
    if matches:
        fail(f"{wanted!r} matches {len(matches)} dead letters ({', '.join(matches[:5])}); give more of the id")
    fail(f"no dead letter with id {wanted!r} (see `tellerwatch outbox list`)")


@outbox_app.command("list")
def outbox_list(
    folder: DataDirOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per dead letter")] = False,
) -> None:
    """Show the dead letter (states the API refused for good) and how many states wait to be sent."""
    import datetime

    box = _open_outbox(folder)
    try:
        dead, pending = box.dead_letters(), box.pending_count()
    finally:
        box.close()
    if as_json:
        for d in dead:
            line = {"id": d.id, "code": d.code, "error": d.error, "at": d.at, "record": d.record,
                    "evidence": d.evidence}
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        return
    out.print(f"{pending} waiting to be sent, {len(dead)} in the dead letter", markup=False)
    if not dead:
        return
    table = Table("id", "camera", "rule", "state", "refused at", "answer", "files")
    for d in dead:
        at = datetime.datetime.fromtimestamp(d.at, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        r = d.record
        table.add_row(d.id, str(r.get("camera", "")), str(r.get("rule", "")), str(r.get("state", "")), at,
                      d.error[:120], ", ".join(sorted(d.evidence)) or "-")
    out.print(table)


@outbox_app.command("retry")
def outbox_retry(
    violation_id: Annotated[str | None, typer.Argument(metavar="[ID]", help="a dead letter's id (or a unique prefix)",
                                                       show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="every dead letter")] = False,
    folder: DataDirOpt = None,
) -> None:
    """Queue dead letters again, once the cause is fixed; the running pipeline (or the next run) sends them."""
    if (violation_id is None) == (not all_):
        fail("give one dead letter's id or --all, not both" if all_ else "give a dead letter's id or --all")
    box = _open_outbox(folder)
    try:
        ids = None if all_ else [_dead_id(box, violation_id or "")]
        queued = box.retry_dead(ids)
    finally:
        box.close()
    out.print(f"{len(queued)} queued again; a running pipeline sends them within seconds, "
              "otherwise the next `tellerwatch run` does", markup=False)


@outbox_app.command("drop")
def outbox_drop(
    violation_id: Annotated[str, typer.Argument(metavar="ID", help="a dead letter's id (or a unique prefix)",
                                                show_default=False)],
    folder: DataDirOpt = None,
) -> None:
    """Forget one dead letter for good (its evidence files stay where they are)."""
    box = _open_outbox(folder)
    try:
        vid = _dead_id(box, violation_id)
        box.drop_dead(vid)
    finally:
        box.close()
    out.print(f"dropped {vid}", markup=False)


@models_app.command("list")
def models_list(
    as_json: Annotated[bool, typer.Option("--json", help="the manifest's models as one JSON array")] = False,
) -> None:
    """Every model in the manifest: files, SHA-256, licence, input layout, which config uses it."""
    from tellerwatch.models import load_manifest

    manifest = load_manifest()
    if as_json:
        sys.stdout.write(json.dumps([m.model_dump(exclude_none=True) for m in manifest.models], ensure_ascii=False,
                                    indent=2) + "\n")
        return
    table = Table("model", "file", "SHA-256", "licence", "used by", show_lines=True,
                  caption="input layouts, sources, full SHA-256: --json or models/README.md")
    for m in manifest.models:
        table.add_row(m.id, "\n".join(f.name for f in m.files), "\n".join(f.sha256[:12] for f in m.files),
                      m.licence.split(" (")[0], "\n".join(m.used_by) or "none (not loadable yet)")
    out.print(table)


@models_app.command("verify")
def models_verify(
    path: Annotated[Path, typer.Argument(help="a model file, or a folder of them", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per file")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="a file the manifest does not know fails too")] = False,
) -> None:
    """Check each file's SHA-256 against the manifest: ok, differs (a known name, other bytes) or unknown.
    Exit 0 if none differs, 1 if one does (or, with --strict, one is unknown), 2 on a bad PATH."""
    from tellerwatch.models import Status, load_manifest, verify

    checks = verify(path, load_manifest())
    for c in checks:
        if as_json:
            sys.stdout.write(json.dumps(c.as_dict(), ensure_ascii=False) + "\n")
        else:
            out.print(f"{c.status.value:<8} {c.path}  {c.detail()}", markup=False, highlight=False, soft_wrap=True)
    count = {s: sum(c.status is s for c in checks) for s in Status}
    summary = f"{count[Status.ok]} ok, {count[Status.differs]} differ, {count[Status.unknown]} unknown"
    err.print(summary, markup=False, highlight=False)
    if count[Status.differs] or (strict and count[Status.unknown]):
        raise typer.Exit(1)


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("TELLERWATCH_LOG_LEVEL", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        app()
    except TellerWatchError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(2)
