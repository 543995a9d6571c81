"""``python -m streams worker`` as a supervised child: for tests, benchmarks and the demo."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp

from devstack.supervisor import Supervised
from streams.backoff import poll_until
from streams.settings import Settings

REPO = Path(__file__).resolve().parents[1]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process build exactly ``settings``."""
    env = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[name.upper()] = str(value)
    return env


async def http_fetch(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """Status and body of a GET (an error status is returned, not raised); a failed
    connection raises an OSError, a timeout TimeoutError."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.get(url) as response,
        ):
            return response.status, await response.read()
    except aiohttp.ClientError as exc:
        if isinstance(exc, OSError):
            raise
        # A server that hangs up mid-answer (a worker stopping) is, to the polls that
        # call this, as absent as one that refuses: OSError, as with urllib.
        raise ConnectionError(str(exc) or type(exc).__name__) from exc


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """:func:`http_fetch` for synchronous code. Called inside a running event loop (an
    async test's helper), it runs on a thread of its own and blocks the caller, as any
    synchronous call would."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(http_fetch(url, timeout))
    with ThreadPoolExecutor(1, thread_name_prefix="http_get") as pool:
        return pool.submit(asyncio.run, http_fetch(url, timeout)).result()


class WorkerProcess(Supervised):
    """A worker with the given settings (as environment), its output in ``log_path``."""

    def __init__(
        self, settings: Settings, log_path: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        super().__init__("worker", log_path)
        self.settings = settings
        self.extra_env = extra_env or {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.web_port}"

    def launch(self, own_session: bool = False) -> WorkerProcess:
        """Start the worker (``own_session``: a terminal's Ctrl-C does not reach it)."""
        self.start(
            [sys.executable, "-m", "streams", "worker"],
            env={**settings_env(self.settings), **self.extra_env},
            cwd=REPO,
            own_session=own_session,
        )
        return self

    def wait_read_models(self, timeout: float = 60.0) -> float:
        """Block until /ready says, in a measurement made after this call began, that
        every read model has applied all the outputs (they wait while the champion has a
        backlog); the seconds it took. AssertionError after ``timeout``."""
        started, since = time.monotonic(), dt.datetime.now(dt.UTC)
        last: Any = None

        def caught_up() -> bool:
            nonlocal last
            try:
                _, body = http_get(f"{self.base_url}/ready", timeout=3)
                last = json.loads(body).get("read_models")
                return bool(last) and all(
                    model["caught_up"]
                    and model["measured_at"]
                    and dt.datetime.fromisoformat(model["measured_at"]) > since
                    for model in last
                )
            except (OSError, ValueError) as exc:
                last = exc
                return False

        if poll_until(caught_up, timeout, 0.25):
            return time.monotonic() - started
        raise AssertionError(f"read models still behind after {timeout}s: {last!r}")

    def wait_ready(self, timeout: float = 90.0) -> dict[str, Any]:
        """Block until /ready says 200; AssertionError with the log's tail otherwise."""
        last: Any = None

        def ready() -> bool:
            nonlocal last
            if self.returncode is not None:
                raise AssertionError(f"worker exited with {self.returncode}: {self.tail()}")
            try:
                status, last = http_get(f"{self.base_url}/ready", timeout=3)
            except OSError as exc:
                last = exc
                return False
            return status == 200

        if poll_until(ready, timeout, 0.5):
            return dict(json.loads(last))
        raise AssertionError(f"worker not ready after {timeout}s: {last!r}\n{self.tail()}")
