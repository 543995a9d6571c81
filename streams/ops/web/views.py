"""The contract's HTTP paths (/, /health, /ready, /metrics, /model, /predictions/{match_id},
POST /model/reload) and the service's own: /status.json and /ratings."""

from __future__ import annotations

from importlib import resources

import faust
from faust.web import Request, Response, View

from streams.handle import WorkerHandle
from streams.ops.ratings import ratings_report, teams_report
from streams.ops.readiness import not_ready_reasons
from streams.ops.status import model_status, status_report
from streams.ops.web.auth import check_bearer

PROMETHEUS_TEXT = "text/plain; version=0.0.4"
STATUS_PAGE = resources.files("streams.ops.web").joinpath("status_page.html").read_text("utf-8")
NO_STORE = {"Cache-Control": "no-store"}


def register_views(app: faust.App, worker: WorkerHandle) -> None:
    """Attach the contract's HTTP paths to ``app`` (whose ``/`` must be free: see
    ``streams.faust_glue.web_driver``)."""

    @app.page("/")
    class StatusPage(View):
        async def get(self, request: Request) -> Response:
            return self.html(STATUS_PAGE, headers=dict(NO_STORE))

    @app.page("/status.json")
    class StatusJson(View):
        async def get(self, request: Request) -> Response:
            report = await status_report(worker)
            return self.bytes(
                report.model_dump_json().encode(),
                content_type="application/json",
                headers=dict(NO_STORE),
            )

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok"})

    @app.page("/ready")
    class Ready(View):
        async def get(self, request: Request) -> Response:
            reasons = await not_ready_reasons(worker)
            # Catching up on results is no reason to stop serving: said, not refused.
            ratings = ratings_report(worker)
            body = {
                "ready": not reasons,
                "reasons": reasons,
                "features": {
                    "version": ratings.features_version,
                    "caught_up": ratings.caught_up,
                    "results_behind": ratings.results_behind,
                },
            }
            return self.json(body, status=200 if not reasons else 503)

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            return self.bytes(worker.metrics.exposition(), content_type=PROMETHEUS_TEXT)

    @app.page("/model")
    class Model(View):
        async def get(self, request: Request) -> Response:
            return self.json(model_status(worker.models), status=200)

    @app.page("/ratings")
    class Ratings(View):
        async def get(self, request: Request) -> Response:
            body = teams_report(worker).model_dump_json().encode()
            return self.bytes(body, content_type="application/json", headers=dict(NO_STORE))

    @app.page("/predictions/{match_id}")
    class LatestPrediction(View):
        async def get(self, request: Request, match_id: str) -> Response:
            try:
                stored = await worker.latest.read(worker.settings.redis_key(match_id))
            except Exception as exc:  # any Redis failure is a 503 with its reason
                return self.json({"error": f"redis unavailable: {exc}"}, status=503)
            if stored is None:
                return self.json({"error": f"no prediction for {match_id!r}"}, status=404)
            return self.bytes(stored, content_type="application/json")

    @app.page("/model/reload")
    class ReloadModel(View):
        async def post(self, request: Request) -> Response:
            refusal = check_bearer(
                request.headers.get("Authorization"), worker.settings.admin_token
            )
            if refusal is not None:
                headers = {"WWW-Authenticate": "Bearer"} if refusal.status == 401 else None
                return self.json({"error": refusal.reason}, status=refusal.status, headers=headers)
            swapped = await worker.models.refresh()
            body = {"swapped": swapped, **model_status(worker.models)}
            # The old model keeps serving when the registry fails; say so with a 503.
            return self.json(body, status=503 if worker.models.last_error else 200)
