"""JSON and text views: /health, /ready, /metrics, /model, /predictions/{match_id}."""

from __future__ import annotations

import json
from typing import Any

import faust
from faust.web import Request, Response, View

from streams.pipeline import Pipeline
from streams.readiness import not_ready_reasons

PROMETHEUS_TEXT = "text/plain; version=0.0.4"


def register_views(app: faust.App, pipeline: Pipeline) -> None:
    """Attach the contract's HTTP paths to ``app``."""

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok"})

    @app.page("/ready")
    class Ready(View):
        async def get(self, request: Request) -> Response:
            reasons = await not_ready_reasons(pipeline)
            body = {"ready": not reasons, "reasons": reasons}
            return self.json(body, status=200 if not reasons else 503)

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            return self.bytes(pipeline.metrics.exposition(), content_type=PROMETHEUS_TEXT)

    @app.page("/model")
    class Model(View):
        async def get(self, request: Request) -> Response:
            return self.json(model_status(pipeline), status=200)

    @app.page("/predictions/{match_id}")
    class LatestPrediction(View):
        async def get(self, request: Request, match_id: str) -> Response:
            try:
                stored = await pipeline.latest.read(pipeline.settings.redis_key(match_id))
            except Exception as exc:  # any Redis failure is a 503 with its reason
                return self.json({"error": f"redis unavailable: {exc}"}, status=503)
            if stored is None:
                return self.json({"error": f"no prediction for {match_id!r}"}, status=404)
            return self.bytes(stored, content_type="application/json")


def model_status(pipeline: Pipeline) -> dict[str, Any]:
    """The serving model and the challenger, as /model and the status page show them."""
    server = pipeline.models
    serving = server.current
    body: dict[str, Any] = {
        "serving": None,
        "challenger": json.loads(server.challenger.model_dump_json())
        if server.challenger
        else None,
        "last_checked": server.last_checked.isoformat() if server.last_checked else None,
        "last_error": server.last_error,
    }
    if serving is not None:
        body["serving"] = {
            **json.loads(serving.ref.model_dump_json()),
            "loaded_at": serving.loaded_at.isoformat(),
        }
        body.update(body["serving"])  # contract: name, version, alias, run_id, loaded_at at top
    return body
