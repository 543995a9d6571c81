"""The real processes a chaos run drives: its own broker, Redis, registry and workers.

Everything runs on free ports under one directory, so a fault (a SIGSTOP, a broker
restart) never touches another run or the local stack. Faults are real signals to real
processes: SIGKILL and SIGTERM to workers, SIGSTOP/SIGCONT to redis-server, a stop and a
start of the broker and of ``mlflow server``.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from devstack.local_stack import private_broker
from devstack.mlflow_server import MlflowServer
from devstack.redis_server import RedisServer
from devstack.supervisor import free_port
from devstack.worker import WorkerProcess
from streams.settings import Settings

#: Broker heap: one broker for a run of a few thousand records a second.
BROKER_HEAP = "384m"


class Servers:
    """One broker, one redis-server and one ``mlflow server``, private to a chaos bench."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.broker = private_broker(home, BROKER_HEAP)
        port = free_port()
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        self.redis = RedisServer(home, "127.0.0.1", port, self.redis_url)
        self.registry = MlflowServer(home / "mlflow")

    def start(self) -> None:
        """All three side by side: each mostly waits on its own start."""
        with ThreadPoolExecutor(3) as pool:
            started = [
                pool.submit(self.broker.start),
                pool.submit(self.redis.start),
                pool.submit(self.registry.start),
            ]
            for future in started:
                future.result()

    def stop(self) -> None:
        self.resume_redis()
        for stop in (self.registry.stop, self.redis.stop, self.broker.stop):
            try:
                stop()
            except Exception as exc:  # stop the others whatever one did
                print(f"[chaos] stopping: {type(exc).__name__}: {exc}", flush=True)

    def restart_broker(self) -> None:
        self.broker.stop()
        self.broker.start()

    def pause_redis(self, seconds: float) -> threading.Timer:
        """SIGSTOP redis-server now and SIGCONT it ``seconds`` later (from a timer, so the
        run goes on meanwhile)."""
        pid = self.redis.pid()
        if pid is None:
            raise RuntimeError("redis-server is not running")
        os.kill(pid, signal.SIGSTOP)
        timer = threading.Timer(seconds, self.resume_redis)
        timer.start()
        return timer

    def resume_redis(self) -> None:
        pid = self.redis.pid()
        if pid is not None:
            os.kill(pid, signal.SIGCONT)

    @property
    def registry_uri(self) -> str:
        return self.registry.uri


class Workers:
    """The workers of one run: started, killed and stopped by index."""

    def __init__(self, settings: Settings, logs: Path) -> None:
        self.settings = settings
        self.logs = logs
        self.running: list[WorkerProcess] = []
        self.started = 0

    def start(self, wait: bool = True) -> WorkerProcess:
        """One more worker of the group, on a port and state directory of its own."""
        n = self.started
        self.started += 1
        own = Settings(
            **self.settings.model_dump()
            | {"web_port": free_port(), "state_dir": self.logs / f"state-{n}"}
        )
        worker = WorkerProcess(own, self.logs / f"worker-{n}.log").launch()
        self.running.append(worker)
        if wait:
            worker.wait_ready(timeout=180)
        return worker

    def kill(self, index: int) -> WorkerProcess:
        """SIGKILL: no commit, no goodbye; the group notices once its session times out."""
        worker = self.running.pop(index % len(self.running))
        worker.kill()
        return worker

    def stop(self, index: int) -> WorkerProcess:
        """SIGTERM: a clean leave (scale-in)."""
        worker = self.running.pop(index % len(self.running))
        worker.stop()
        return worker

    def stop_all(self) -> None:
        for worker in self.running:
            worker.stop()
        self.running = []

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        for worker in self.running:
            worker.wait_ready(timeout=max(deadline - time.monotonic(), 1.0))
