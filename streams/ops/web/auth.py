"""Checks of the endpoints that change things: the bearer token of the admin endpoints
(``POST /model/reload``, ``POST /model/promote``) and the HMAC signature of MLflow's
registry webhooks (``POST /hooks/mlflow``).

With no ADMIN_TOKEN configured the admin endpoints are off: they answer 403 with a body
that says how to turn them on, so "forbidden" is never confused with "wrong token"
(401) or "no such path" (404).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import NamedTuple

from pydantic import SecretStr


class Refusal(NamedTuple):
    """Why a request is refused: the HTTP status and a one-line reason."""

    status: int
    reason: str


def check_bearer(authorization: str | None, token: SecretStr | None) -> Refusal | None:
    """None when ``authorization`` carries ``token``; else the refusal to send."""
    if token is None:
        return Refusal(403, "admin endpoints are off: set ADMIN_TOKEN on the worker to enable")
    scheme, _, presented = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return Refusal(401, "missing bearer token: send 'Authorization: Bearer <ADMIN_TOKEN>'")
    # Bytes, not str: compare_digest refuses non-ASCII str, and a header may carry any.
    if not hmac.compare_digest(
        presented.strip().encode("utf-8"), token.get_secret_value().encode("utf-8")
    ):
        return Refusal(401, "wrong bearer token")
    return None


#: A webhook older than this is refused: a captured delivery cannot be replayed later.
WEBHOOK_MAX_AGE_SECONDS = 300


def check_webhook(
    headers: Mapping[str, str], body: bytes, secret: SecretStr | None, now: float
) -> Refusal | None:
    """None when ``body`` carries MLflow's valid signature (``X-MLflow-Signature``: ``v1,``
    and the base64 HMAC-SHA256 of ``{delivery id}.{timestamp}.{body}``) and is recent."""
    if secret is None:
        return Refusal(403, "webhooks are off: set MLFLOW_WEBHOOK_SECRET on the worker")
    delivery = headers.get("X-MLflow-Delivery-Id", "")
    timestamp = headers.get("X-MLflow-Timestamp", "")
    version, _, presented = headers.get("X-MLflow-Signature", "").partition(",")
    if not delivery or not timestamp.isdigit() or version != "v1" or not presented:
        return Refusal(401, "missing or malformed MLflow webhook signature headers")
    if abs(now - int(timestamp)) > WEBHOOK_MAX_AGE_SECONDS:
        return Refusal(401, "webhook timestamp too far from now")
    signed = f"{delivery}.{timestamp}.".encode() + body
    digest = hmac.new(secret.get_secret_value().encode(), signed, hashlib.sha256).digest()
    if not hmac.compare_digest(base64.b64encode(digest), presented.encode("utf-8", "replace")):
        return Refusal(401, "wrong webhook signature")
    return None
