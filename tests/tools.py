"""The one rule for a test that needs an external program: :func:`require_tool`.

A tool that ``scripts/bootstrap.sh`` installs (helm, promtool, chromium) is part of a
working checkout, so its absence is a broken machine: the test fails and names the
bootstrap. Docker is genuinely optional (the project runs, and is tested, without it; the
compose file is also checked against the published Compose schema, which needs no tool), so
a test that needs a Docker tool skips and says why, even though the bootstrap installs
Debian's ``docker-compose`` where it can. A tool in neither list is a mistake in the test,
not on the machine.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

#: Tool -> how ``scripts/bootstrap.sh`` installs it.
BOOTSTRAPPED: dict[str, str] = {
    "helm": "builds it with `go install helm.sh/helm/v3/cmd/helm@...` into $(go env GOPATH)/bin",
    "promtool": "installs it with the Debian package `prometheus`",
    "chromium": "installs it with the Debian package `chromium`",
}
#: Tools of the optional Docker setup (docker-compose.kafka.yml, Dockerfile).
OPTIONAL: frozenset[str] = frozenset({"docker", "docker-compose"})


@cache
def _go_bin() -> Path | None:
    """``$(go env GOPATH)/bin``, where ``go install`` puts programs (often not on PATH)."""
    go = shutil.which("go")
    if go is None:
        return None
    gopath = subprocess.run(
        [go, "env", "GOPATH"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    return Path(gopath or Path.home() / "go") / "bin"


def find_tool(name: str) -> str | None:
    """The path of ``name`` on PATH or in Go's bin folder, or None."""
    found = shutil.which(name)
    if found is None and (go_bin := _go_bin()) is not None:
        found = shutil.which(name, path=str(go_bin))
    return found


def require_tool(name: str) -> str:
    """The path of the external tool ``name``. Missing, it fails the test if the bootstrap
    installs it and skips it if it is an optional Docker tool."""
    if name not in BOOTSTRAPPED and name not in OPTIONAL:
        raise ValueError(f"{name!r} is neither bootstrapped nor optional: add it to tests/tools.py")
    path = find_tool(name)
    if path is not None:
        return path
    if name in BOOTSTRAPPED:
        pytest.fail(
            f"{name} is missing: run scripts/bootstrap.sh (`make setup`), which "
            f"{BOOTSTRAPPED[name]}",
            pytrace=False,
        )
    pytest.skip(f"{name} is not installed (Docker is optional for this project)")
