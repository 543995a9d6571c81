"""A headless Chromium driven over the Chrome DevTools Protocol, for page tests.

No browser download and no driver package: the Debian ``chromium`` binary, started with
``--remote-debugging-port=0``, and its DevTools websocket through aiohttp (already a
Faust dependency). Collects console errors, uncaught exceptions and failed requests, so
a test can assert a page loads cleanly.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

FLAGS = (
    "--headless",
    "--no-sandbox",  # tests run as root, where the sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
)
LISTENING = re.compile(rb"DevTools listening on (ws://\S+)")


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Page:
    """One tab: send CDP commands, read what the page reported."""

    ws: aiohttp.ClientWebSocketResponse
    problems: list[str] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _waiting: dict[int, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _events: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self._ids)
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = answer
        await self.ws.send_str(json.dumps({"id": call_id, "method": method, "params": params}))
        reply = await asyncio.wait_for(answer, 30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def read_loop(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self._waiting:
                self._waiting.pop(data["id"]).set_result(data)
                continue
            self._note(data)
            await self._events.put(data)

    def _note(self, event: dict[str, Any]) -> None:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
            texts = [str(a.get("value", a.get("description", ""))) for a in params["args"]]
            self.problems.append(f"console.{params['type']}: {' '.join(texts)}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            self.problems.append(f"exception: {text}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            self.problems.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            self.problems.append(f"request failed: {params.get('errorText')}")
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            response = params["response"]
            self.problems.append(f"HTTP {response['status']}: {response['url']}")

    async def wait_for_event(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                event = await self._events.get()
                if event.get("method") == method:
                    return event

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def text(self) -> str:
        return str(await self.evaluate("document.body.innerText") or "")

    async def wait_for_text(self, *needles: str, timeout: float = 20.0) -> str:
        """The page's visible text once it contains every needle (polls the live DOM)."""
        text = ""
        try:
            async with asyncio.timeout(timeout):
                while not all(n in text for n in needles):
                    await asyncio.sleep(0.25)
                    text = await self.text()
        except TimeoutError:
            missing = [n for n in needles if n not in text]
            raise AssertionError(f"page never showed {missing}; it shows:\n{text}") from None
        return text

    async def resize(self, width: int, height: int) -> None:
        """Lay the page out as a window ``width`` by ``height`` CSS pixels would."""
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    async def screenshot(self, path: Path) -> Path:
        result = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        await asyncio.to_thread(_write, path, base64.b64decode(result["data"]))
        return path


@contextlib.asynccontextmanager
async def open_page(
    url: str, profile_dir: Path, width: int = 1400, height: int = 1000
) -> AsyncIterator[Page]:
    """Start Chromium with a fresh profile, load ``url`` in a tab, yield it; then quit."""
    binary = chromium_path()
    if binary is None:
        raise RuntimeError("chromium is not installed (scripts/bootstrap.sh installs it)")
    proc = await asyncio.create_subprocess_exec(
        binary,
        *FLAGS,
        f"--user-data-dir={profile_dir}",
        f"--window-size={width},{height}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    drain: asyncio.Task[None] | None = None
    try:
        browser_ws = await _devtools_url(proc)
        # Keep reading stderr so a chatty browser never blocks on a full pipe.
        drain = asyncio.create_task(_drain(proc))
        port = browser_ws.split("/")[2]
        async with aiohttp.ClientSession() as session:
            async with session.put(f"http://{port}/json/new?about:blank") as response:
                target = await response.json()
            async with session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                page = Page(ws)
                reader = asyncio.create_task(page.read_loop())
                try:
                    for domain in ("Runtime", "Log", "Network", "Page"):
                        await page.send(f"{domain}.enable")
                    await page.resize(width, height)
                    await page.send("Page.navigate", url=url)
                    await page.wait_for_event("Page.loadEventFired")
                    yield page
                finally:
                    reader.cancel()
    finally:
        if proc.returncode is None:
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        if drain is not None:
            drain.cancel()


async def _devtools_url(proc: asyncio.subprocess.Process, timeout: float = 30.0) -> str:
    assert proc.stderr is not None
    seen = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            while line := await proc.stderr.readline():
                seen.append(line)
                if match := LISTENING.search(line):
                    return match.group(1).decode()
    raise RuntimeError(f"chromium did not start: {b''.join(seen).decode(errors='replace')}")


async def _drain(proc: asyncio.subprocess.Process) -> None:
    assert proc.stderr is not None
    while await proc.stderr.read(65536):
        pass


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
