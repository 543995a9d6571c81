"""Does the registry answer? One bounded request before a long job depends on it.

MLflow's client retries a tracking server that does not answer with exponential backoff
(``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` 7, backoff factor 2: minutes), which a scheduled job
would spend silently after its fit. :func:`check_registry` asks once, with no retries and
a timeout, before the work starts, so an unreachable server is one line at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final
from urllib.parse import urlsplit

from mlflow.exceptions import MlflowException

from models.registry import RegistryError, client

TIMEOUT_SECONDS: Final = 5.0
_REMOTE: Final = frozenset({"http", "https"})


@contextmanager
def _one_try(timeout: float) -> Iterator[None]:
    # MLflow reads these variables at every request, so they bound exactly this block.
    changes = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, round(timeout))),
    }
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def shown_uri(tracking_uri: str) -> str:
    """``tracking_uri`` as logs may show it: a server's without user and password."""
    parts = urlsplit(tracking_uri)
    if parts.scheme not in _REMOTE:
        return tracking_uri
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


def _root_reason(exc: BaseException) -> str:
    # MLflow wraps the connection error in a long line naming the whole request URL; the
    # innermost error says what happened ("Connection refused", a read timeout).
    root = exc
    while (inner := root.__cause__ or root.__context__) is not None:
        root = inner
    text = str(root).strip()
    line = text.splitlines()[0] if text else ""
    return f"{type(root).__name__}: {line}"[:200] if line else type(root).__name__


def check_registry(tracking_uri: str, timeout: float = TIMEOUT_SECONDS) -> None:
    """:class:`RegistryError` unless a tracking server at ``tracking_uri`` answers a
    registry search within ``timeout`` seconds. A local registry (SQLite, files) has
    nothing to reach and passes."""
    if urlsplit(tracking_uri).scheme not in _REMOTE:
        return
    try:
        with _one_try(timeout):
            client(tracking_uri).search_registered_models(max_results=1)
    except MlflowException as exc:
        reason = _root_reason(exc)
        password = urlsplit(tracking_uri).password
        if password:
            reason = reason.replace(password, "***")
        raise RegistryError(
            f"mlflow: no usable answer from {shown_uri(tracking_uri)} within {timeout:.0f}s "
            f"({reason})"
        ) from None
