"""The bearer check of the admin endpoints and the signature check of MLflow webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from pydantic import SecretStr

from streams.ops.web.auth import WEBHOOK_MAX_AGE_SECONDS, check_bearer, check_webhook

TOKEN = SecretStr("s3cret-token")


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (None, 401),
        ("", 401),
        ("Bearer", 401),
        ("Bearer ", 401),
        ("Basic s3cret-token", 401),
        ("Bearer wrong", 401),
        ("Bearer s3cret-token-and-more", 401),
        ("Bearer sécret", 401),  # non-ASCII must be refused, not crash compare_digest
    ],
)
def test_bearer_refusals(header: str | None, status: int) -> None:
    refusal = check_bearer(header, TOKEN)
    assert refusal is not None and refusal.status == status


@pytest.mark.parametrize(
    "header", ["Bearer s3cret-token", "bearer s3cret-token", " Bearer  s3cret-token "]
)
def test_bearer_accepts_the_token(header: str) -> None:
    assert check_bearer(header, TOKEN) is None


def test_admin_endpoints_are_off_without_a_token() -> None:
    refusal = check_bearer("Bearer anything", None)
    assert refusal is not None and refusal.status == 403 and "ADMIN_TOKEN" in refusal.reason


SECRET = SecretStr("webhook-s3cret")
BODY = b'{"entity": "model_version_alias", "action": "created", "data": {}}'


def signed(body: bytes = BODY, secret: str = "webhook-s3cret", at: int = 1_700_000_000) -> dict:
    """Headers as MLflow's webhook delivery makes them (mlflow/webhooks/delivery.py)."""
    content = f"delivery-1.{at}.".encode() + body
    digest = hmac.new(secret.encode(), content, hashlib.sha256).digest()
    return {
        "X-MLflow-Delivery-Id": "delivery-1",
        "X-MLflow-Timestamp": str(at),
        "X-MLflow-Signature": f"v1,{base64.b64encode(digest).decode()}",
    }


def test_a_webhook_signed_with_the_secret_is_accepted() -> None:
    assert check_webhook(signed(), BODY, SECRET, now=1_700_000_010) is None


@pytest.mark.parametrize(
    "case",
    ["wrong secret", "body changed", "no signature", "other version", "old", "bad timestamp"],
)
def test_webhook_refusals(case: str) -> None:
    headers, body, now = signed(), BODY, 1_700_000_010
    if case == "wrong secret":
        headers = signed(secret="guess")
    elif case == "body changed":
        body = BODY.replace(b"created", b"deleted")
    elif case == "no signature":
        del headers["X-MLflow-Signature"]
    elif case == "other version":
        headers["X-MLflow-Signature"] = headers["X-MLflow-Signature"].replace("v1,", "v0,")
    elif case == "old":
        now = 1_700_000_000 + WEBHOOK_MAX_AGE_SECONDS + 1
    elif case == "bad timestamp":
        headers["X-MLflow-Timestamp"] = "soon"
    refusal = check_webhook(headers, body, SECRET, now=now)
    assert refusal is not None and refusal.status == 401


def test_webhooks_are_off_without_a_secret() -> None:
    refusal = check_webhook(signed(), BODY, None, now=1_700_000_010)
    assert refusal is not None and refusal.status == 403
