"""Bearer-token check of the admin endpoints (``POST /model/reload``).

With no ADMIN_TOKEN configured the admin endpoints are off: they answer 403 with a body
that says how to turn them on, so "forbidden" is never confused with "wrong token"
(401) or "no such path" (404).
"""

from __future__ import annotations

import hmac
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
