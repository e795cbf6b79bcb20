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
from typing import Annotated, Any

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

err = Console(stderr=True)
out = Console()

ConfigArg = Annotated[Path, typer.Argument(help="the YAML config file", show_default=False)]


def data_dir() -> Path:
    return Path(os.environ.get("TELLERWATCH_DATA_DIR", "./data"))


def writable_data_dir() -> Path:
    """The data dir, created and proven writable; one line and exit 2 otherwise."""
    from vision.datadir import DataDirError, check_data_dir

    try:
        return check_data_dir(data_dir())
    except DataDirError as exc:
        fail(str(exc))
        raise  # unreachable: fail() exits


def fail(message: str) -> None:
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
    writable_data_dir()
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
) -> None:
    """Run CONFIG and score its violations against ground truth."""
    from vision.evaluate import FoundViolation, load_truth, score

    cfg = _load(config)
    try:
        gt = load_truth(truth)
        report = _progress_run(cfg, data_dir=writable_data_dir(), clips=not no_clips)
    except TellerWatchError as exc:
        fail(str(exc))
        return
    found = []
    for v in report.violations:
        cam = report.cameras[v.camera]
        end = v.ended_at or v.started_at
        found.append(FoundViolation(v.id, v.camera, v.rule, v.zone, cam.seconds(v.started_at), cam.seconds(end)))
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

    if config is not None:
        _load(config)
    try:
        check_data_dir(data_dir())
        evidence = os.environ.get("TELLERWATCH_EVIDENCE_DIR")
        if evidence:
            check_data_dir(Path(evidence), "evidence dir")
    except DataDirError as exc:
        fail(str(exc))
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
    """Offline demo: run the sample scenes, serve the pages (login demo / demo)."""
    from vision.demo import demo as run_demo

    try:
        run_demo(host, port, serve_forever=not exit_when_done, say=lambda s: out.print(s, markup=False))
    except (TellerWatchError, ValueError) as exc:
        fail(str(exc))


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(show_default=False)],
    role: Annotated[str, typer.Option(help="operator | branch_head | engineer | admin")],
    site: Annotated[str | None, typer.Option(help="site id (required for branch_head)")] = None,
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
