"""The contract's HTTP paths (/, /health, /ready, /metrics, /model, /predictions/{match_id},
POST /model/reload, POST /model/promote, POST /hooks/mlflow, the match pages of
:mod:`streams.ops.web.matches`) and the service's own: /status.json and /ratings."""

from __future__ import annotations

import time
from importlib import resources
from typing import Any

import faust
from faust.web import Request, Response, View
from pydantic import ValidationError

from streams.evaluation.promoter import PromotionRefused
from streams.handle import WorkerHandle
from streams.ops.evaluation import evaluation_report
from streams.ops.ratings import ratings_report, teams_report
from streams.ops.read_models import read_model_lags
from streams.ops.readiness import not_ready_reasons
from streams.ops.status import model_status, status_report
from streams.ops.web.auth import Refusal, check_bearer, check_webhook
from streams.ops.web.hooks import PromoteRequest, WebhookEvent
from streams.ops.web.matches import register_match_views

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
            # Catching up on results, or read models behind the outputs, is no reason to
            # stop serving predictions: said, not refused.
            ratings = ratings_report(worker)
            body = {
                "ready": not reasons,
                "reasons": reasons,
                "features": {
                    "version": ratings.features_version,
                    "caught_up": ratings.caught_up,
                    "results_behind": ratings.results_behind,
                },
                "read_models": [m.model_dump() for m in read_model_lags(worker)],
            }
            return self.json(body, status=200 if not reasons else 503)

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            return self.bytes(worker.metrics.exposition(), content_type=PROMETHEUS_TEXT)

    def model_body() -> dict[str, Any]:
        report = evaluation_report(worker.board, worker.models, worker.promoter)
        return {**model_status(worker.models), "evaluation": report.model_dump(mode="json")}

    @app.page("/model")
    class Model(View):
        async def get(self, request: Request) -> Response:
            return self.json(model_body(), status=200)

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

    def refused(view: View, refusal: Refusal) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if refusal.status == 401 else None
        return view.json({"error": refusal.reason}, status=refusal.status, headers=headers)

    def admin(request: Request) -> Refusal | None:
        return check_bearer(request.headers.get("Authorization"), worker.settings.admin_token)

    @app.page("/model/reload")
    class ReloadModel(View):
        async def post(self, request: Request) -> Response:
            if (refusal := admin(request)) is not None:
                return refused(self, refusal)
            swapped = await worker.models.refresh()
            body = {"swapped": swapped, **model_body()}
            # The old model keeps serving when the registry fails; say so with a 503.
            return self.json(body, status=503 if worker.models.last_error else 200)

    @app.page("/model/promote")
    class PromoteModel(View):
        async def post(self, request: Request) -> Response:
            if (refusal := admin(request)) is not None:
                return refused(self, refusal)
            try:
                asked = PromoteRequest.model_validate_json(await request.read())
            except ValidationError as exc:
                reason = exc.errors(include_url=False)[0]["msg"]
                return self.json({"error": f"bad request: {reason}"}, status=400)
            try:
                done = await worker.promoter.promote(asked.version, "manual")
            except PromotionRefused as exc:
                return self.json({"error": str(exc)}, status=404)
            except Exception as exc:  # the registry is down: nothing moved
                return self.json({"error": f"registry: {type(exc).__name__}: {exc}"}, status=503)
            return self.json({"promotion": done.model_dump(), **model_body()})

    @app.page("/hooks/mlflow")
    class MlflowWebhook(View):
        async def post(self, request: Request) -> Response:
            body = await request.read()
            refusal = check_webhook(
                request.headers, body, worker.settings.mlflow_webhook_secret, time.time()
            )
            if refusal is not None:
                return self.json({"error": refusal.reason}, status=refusal.status)
            try:
                event = WebhookEvent.model_validate_json(body)
            except ValidationError:
                return self.json({"error": "not an MLflow webhook payload"}, status=400)
            watched = {worker.models.alias, *worker.models.challenger_aliases}
            if not event.moves_alias(worker.settings.model_name, watched):
                return self.json({"reloaded": False, "reason": "not an alias of this model"})
            swapped = await worker.models.refresh()
            return self.json({"reloaded": True, "swapped": swapped})

    register_match_views(app, worker)
