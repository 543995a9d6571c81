"""``python -m streams demo`` end to end: it trains, serves, plays a tournament with a
pre-match request before each kick-off, prints, stops on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from devstack.supervisor import free_port
from devstack.worker import REPO, http_get, settings_env
from streams.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
PREDICTION = re.compile(r"^\S+\s+(\d+' (live|halftime|finished))\s+\d+-\d+\s+H\s+[\d.]+%.* v1$")
PRE_MATCH = re.compile(r"^\S+\s+pre-match\s+0-0\s+H\s+[\d.]+%.* v1$")
MATCHES = 6  # the first slot's four simultaneous kick-offs and two of the next


def test_demo_runs_and_stops_cleanly_on_ctrl_c(isolated_settings: Settings) -> None:
    # A registry with no champion yet (the test's own SQLite file): the demo must train one.
    settings = Settings(**{**isolated_settings.model_dump(), "web_port": free_port()})
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams", "demo", "--matches", str(MATCHES), "--speed", "600"],
        cwd=REPO,
        env={**os.environ, **settings_env(settings), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Ctrl-C must reach the demo even when the suite runs as a background job, whose
        # children inherit SIGINT ignored (the shell's rule for asynchronous commands).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines: list[str] = []
    done = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if "tournament replayed" in line:
                done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert done.wait(180), "demo never finished its replay:\n" + "\n".join(lines)
        url = f"http://127.0.0.1:{settings.web_port}/"
        assert any(url in line for line in lines), "the status page address is printed"
        assert any(f"{url}matches" in line for line in lines), "the match pages address too"
        status, body = http_get(url)
        assert status == 200 and b"SoccerPredict Stream" in body, "the worker serves the page"

        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)  # the demo prints its threads' stacks
            time.sleep(2)
            output = "\n".join(lines)
            raise AssertionError(f"demo still running 60 s after Ctrl-C:\n{output}") from None
        reader.join(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    output = "\n".join(lines)
    assert code == 0, output
    assert "Traceback" not in output
    assert "model: none yet; training" in output
    predictions = [line for line in lines if PREDICTION.match(line)]
    # At least kick-off, half- and full time per match, and one pre-match answer each.
    assert len(predictions) >= MATCHES * 3, output
    assert sum("finished" in line for line in predictions) == MATCHES
    pre_match = [line for line in lines if PRE_MATCH.match(line)]
    assert len(pre_match) == MATCHES, output
    assert {line.split()[0] for line in pre_match} == {line.split()[0] for line in predictions}
    assert "Group A: United States" in output, "the draw is shown before the first kick-off"
    assert "python -m streams stack down" in output.splitlines()[-1]
    # The worker is gone with the demo: nothing answers on its port any more.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            http_get(url, timeout=1)
        except OSError:
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the worker still serves after the demo stopped")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--year", "2022"], "give --data"),
        (["--data", "/no/such/folder"], "no such file or directory"),
        (["--seed", "0"], "expected a positive integer"),
    ],
)
def test_a_bad_demo_argument_is_one_error_line(arguments: list[str], message: str) -> None:
    # Refused before anything starts: no stack, no training, no worker.
    done = subprocess.run(
        [sys.executable, "-m", "streams", "demo", *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("error: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
