"""Liveness for load balancers and Prometheus exposition."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import JSONResponse, Response

from api import __version__
from api.deps import METRICS_READERS, Principal, get_db, require_user_or_pipeline
from api.metrics import ApiMetrics
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
def healthz(request: Request) -> Response:
    try:
        with get_db(request).session() as session:
            session.execute(text("SELECT 1"))
        body = Health(status="ok", database="ok", version=__version__)
        return JSONResponse(body.model_dump(), status_code=200)
    except SQLAlchemyError:
        body = Health(status="degraded", database="unreachable", version=__version__)
        return JSONResponse(body.model_dump(), status_code=503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
    summary="Prometheus metrics (ingest key as bearer token, or an engineer/admin login)",
)
def metrics(
    request: Request, _: Annotated[Principal, Depends(require_user_or_pipeline(*METRICS_READERS))]
) -> Response:
    m: ApiMetrics = request.app.state.metrics
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
