"""Pipeline ingest: ``POST /events`` with the violation record, as JSON or multipart with files."""

from __future__ import annotations

import time
from typing import IO, Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api import strict
from api.deps import PipelineDep, get_db, get_settings
from api.ingest import EvidenceInvalid, IngestOutcome, ingest
from api.live import LiveMessage
from api.metrics import ApiMetrics
from api.schemas import IngestResult, ViolationIn

router = APIRouter(tags=["ingest"])

MULTIPART_SCHEMA = {
    "type": "object",
    "required": ["record"],
    "properties": {
        "record": {"type": "string", "description": "the violation record as JSON"},
        "snapshot": {"type": "string", "format": "binary", "description": "JPEG snapshot"},
        "clip": {"type": "string", "format": "binary", "description": "H.264 MP4 clip"},
    },
}
REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/ViolationIn"}},
        "multipart/form-data": {"schema": MULTIPART_SCHEMA},
    },
}


def _invalid(metrics: ApiMetrics, errors: list[dict[str, Any]]) -> RequestValidationError:
    metrics.ingest.labels("invalid").inc()
    return RequestValidationError(errors)


def _parse_record(metrics: ApiMetrics, data: Any, loc: tuple[str, ...]) -> ViolationIn:
    try:
        return ViolationIn.model_validate(data)
    except ValidationError as exc:
        errors = []
        for e in exc.errors(include_url=False):
            item: dict[str, Any] = {**e, "loc": (*loc, *e["loc"])}
            if "ctx" in e:  # exception objects in ctx are not JSON
                item["ctx"] = {k: str(v) for k, v in e["ctx"].items()}
            errors.append(item)
        raise _invalid(metrics, errors) from None


def _json(metrics: ApiMetrics, raw: bytes | str, loc: tuple[str, ...]) -> Any:
    try:
        return strict.loads(raw, "record")
    except strict.StrictInputError as exc:
        raise _invalid(metrics, [{"type": "json_invalid", "loc": loc, "msg": str(exc), "input": None}]) from None


@router.post(
    "/events",
    response_model=IngestResult,
    openapi_extra={"requestBody": REQUEST_BODY},
    responses={
        201: {"description": "a new violation was stored", "model": IngestResult},
        403: {"description": "the API key is bound to another site (or the id is another site's violation)"},
        409: {"description": "the id belongs to a violation of another site, camera, rule or zone"},
        413: {"description": "body larger than TELLERWATCH_MAX_UPLOAD_BYTES"},
        415: {"description": "neither JSON nor multipart"},
    },
    summary="Store a violation record (idempotent on id)",
)
async def post_event(request: Request, response: Response, pipeline: PipelineDep) -> IngestResult:
    """A later state of the same id updates the row; re-sending a state already stored answers
    ``unchanged`` and an older one ``stale``, both 200, so an outbox can forget either."""
    metrics: ApiMetrics = request.app.state.metrics
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    t0 = time.perf_counter()
    if ctype == "multipart/form-data":
        async with request.form(max_files=2, max_fields=4) as form:
            unknown = sorted(set(form.keys()) - {"record", "snapshot", "clip"})
            if unknown:
                raise _invalid(
                    metrics,
                    [
                        {
                            "type": "extra_forbidden",
                            "loc": ("body", unknown[0]),
                            "msg": "unexpected form field",
                            "input": None,
                        }
                    ],
                )
            raw = form.get("record")
            if not isinstance(raw, str):
                raise _invalid(
                    metrics,
                    [
                        {
                            "type": "missing",
                            "loc": ("body", "record"),
                            "msg": "the record field (JSON text) is required",
                            "input": None,
                        }
                    ],
                )
            record = _parse_record(metrics, _json(metrics, raw, ("body", "record")), ("body", "record"))
            uploads: dict[str, IO[bytes]] = {}
            for kind in ("snapshot", "clip"):
                part = form.get(kind)
                if isinstance(part, UploadFile):
                    uploads[kind] = part.file
                elif part is not None:
                    raise _invalid(
                        metrics,
                        [
                            {
                                "type": "file_expected",
                                "loc": ("body", kind),
                                "msg": f"{kind} must be a file upload",
                                "input": None,
                            }
                        ],
                    )
            pipeline.check_site(record.site)
            outcome = await _store(request, record, uploads, pipeline.site)
    elif ctype in ("application/json", ""):
        body = await request.body()
        record = _parse_record(metrics, _json(metrics, body, ("body",)), ("body",))
        pipeline.check_site(record.site)
        outcome = await _store(request, record, {}, pipeline.site)
    else:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send application/json or multipart/form-data"
        )
    metrics.ingest.labels(outcome.result).inc()
    metrics.ingest_seconds.observe(time.perf_counter() - t0)
    if outcome.result in ("created", "updated"):
        v = outcome.violation
        request.app.state.live.publish(LiveMessage(v.site, v.camera, "violation", v.model_dump(mode="json")))
    if outcome.result == "created":
        response.status_code = status.HTTP_201_CREATED
    return IngestResult(id=record.id, result=outcome.result, state=outcome.violation.state)  # type: ignore[arg-type]


async def _store(
    request: Request, record: ViolationIn, uploads: dict[str, IO[bytes]], writer_site: str | None
) -> IngestOutcome:
    metrics: ApiMetrics = request.app.state.metrics
    settings = get_settings(request)
    db = get_db(request)

    def work() -> IngestOutcome:
        with db.session() as session:
            return ingest(session, settings, record, uploads, writer_site)

    try:
        return await run_in_threadpool(work)
    except EvidenceInvalid as exc:
        raise _invalid(
            metrics, [{"type": "value_error", "loc": ("body", exc.field), "msg": str(exc), "input": None}]
        ) from None
    except HTTPException as exc:
        if exc.status_code == status.HTTP_409_CONFLICT:
            metrics.ingest.labels("conflict").inc()
        raise
