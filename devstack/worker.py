"""``python -m streams worker`` as a supervised child: for tests, benchmarks and the demo."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from devstack.supervisor import Supervised
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


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """Status and body of a GET (an error status is returned, not raised)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # loopback URLs only
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


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
        while time.monotonic() - started < timeout:
            try:
                _, body = http_get(f"{self.base_url}/ready", timeout=3)
                last = json.loads(body).get("read_models")
                if last and all(
                    model["caught_up"]
                    and model["measured_at"]
                    and dt.datetime.fromisoformat(model["measured_at"]) > since
                    for model in last
                ):
                    return time.monotonic() - started
            except (OSError, ValueError) as exc:
                last = exc
            time.sleep(0.25)
        raise AssertionError(f"read models still behind after {timeout}s: {last!r}")

    def wait_ready(self, timeout: float = 90.0) -> dict[str, Any]:
        """Block until /ready says 200; AssertionError with the log's tail otherwise."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if self.returncode is not None:
                raise AssertionError(f"worker exited with {self.returncode}: {self.tail()}")
            try:
                status, body = http_get(f"{self.base_url}/ready", timeout=3)
                last = body
                if status == 200:
                    return dict(json.loads(body))
            except OSError as exc:
                last = exc
            time.sleep(0.5)
        raise AssertionError(f"worker not ready after {timeout}s: {last!r}\n{self.tail()}")
