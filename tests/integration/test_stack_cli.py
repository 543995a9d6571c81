"""``stack up`` against a running stack is a no-op; ``status`` reports both servers ready."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.local_stack import LocalStack
from tests.conftest import RunningStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
REPO = Path(__file__).parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(os.environ),
        timeout=60,
        check=False,
    )


def test_second_up_is_a_no_op(stack: RunningStack) -> None:
    local = LocalStack(stack.settings)
    if local.kafka.pid() is None or local.redis.pid() is None:
        # The servers answering belong to another STATE_DIR (e.g. a developer's own
        # stack): `up` here would rightly refuse their ports.
        pytest.skip("the running stack was started from another STATE_DIR")
    result = run_cli("stack", "up")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert all("ready" in line and "already running" in line for line in lines), lines


def test_status_reports_ready(stack: RunningStack) -> None:
    result = run_cli("stack", "status")
    assert result.returncode == 0, result.stdout + result.stderr
    assert {line.split()[0] for line in result.stdout.splitlines()} == {"kafka", "redis"}
