"""Liveness, readiness and metrics, for load balancers and Prometheus."""

from __future__ import annotations

from dependency_injector.wiring import Provide, inject
from quart import Blueprint, Response
from quart_schema import hide

from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.observability import metrics_response
from switchboard.entrypoints.http.responses import json_response
from switchboard.entrypoints.readiness import Readiness

blueprint = Blueprint("health", __name__)


@blueprint.get("/health/live")
@hide
async def live() -> Response:
    return json_response({"status": "ok"})


@blueprint.get("/health/ready")
@hide
@inject
async def ready(readiness: Readiness = Provide[Container.readiness]) -> Response:
    problem = await readiness.check()
    if problem is None:
        return json_response({"status": "ok"})
    return json_response({"status": "unavailable", "detail": problem}, status=503)


@blueprint.get("/metrics")
@hide
async def metrics() -> Response:
    return metrics_response()
