"""The bearer check of the admin endpoints."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from streams.ops.web.auth import check_bearer

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
