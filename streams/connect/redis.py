"""The Redis client keywords beyond the URL: TLS files for ``rediss://``.

The user and password travel in REDIS_URL (``rediss://user:password@host:port/0``), which
redis-py reads as an ACL login; the URL is a secret for that reason.
"""

from __future__ import annotations

from typing import Any

from streams.settings import Settings


def redis_options(settings: Settings) -> dict[str, Any]:
    """redis-py keywords: the CA and client certificate, when set (rediss:// only)."""
    files = {
        "ssl_ca_certs": settings.redis_ssl_cafile,
        "ssl_certfile": settings.redis_ssl_certfile,
        "ssl_keyfile": settings.redis_ssl_keyfile,
    }
    if not settings.redis_url.get_secret_value().startswith("rediss://"):
        return {}
    return {name: str(path) for name, path in files.items() if path is not None}
