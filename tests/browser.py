"""Headless Chromium for the page tests, driven by Playwright.

Playwright launches Debian's ``chromium`` through ``executable_path``; it never downloads a
browser (``playwright install`` cannot reach its download host here), and
scripts/bootstrap.sh installs chromium on every machine that runs the suite. Each page
records its console errors, uncaught exceptions, failed requests and HTTP errors, so a
test can assert that it loads and refreshes cleanly.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from playwright.async_api import (
    ConsoleMessage,
    Error,
    Page,
    Request,
    Response,
    async_playwright,
    expect,
)

from devstack.worker import REPO
from tests.tools import require_tool

ARTIFACTS = REPO / "test-artifacts"


def chromium_path() -> str:
    """Debian's chromium. Without it a page test fails, never skips: bootstrap installs it."""
    return require_tool("chromium")


@contextlib.asynccontextmanager
async def open_page(
    url: str, width: int = 1400, height: int = 1000
) -> AsyncIterator[tuple[Page, list[str]]]:
    """A fresh headless Chromium with ``url`` loaded in a ``width`` by ``height`` viewport;
    yields the page and the list of problems it reports, then quits the browser."""
    async with async_playwright() as driver:
        # Playwright starts Chromium with --no-sandbox unless asked for the sandbox, which
        # is what lets the tests run as root.
        browser = await driver.chromium.launch(executable_path=chromium_path())
        try:
            page = await browser.new_page(viewport={"width": width, "height": height})
            problems = watch(page)
            await page.goto(url)
            yield page, problems
        finally:
            await browser.close()


def watch(page: Page) -> list[str]:
    """The list that collects, as they happen, what a clean page never reports."""
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        # Chromium's own log entries (a resource that failed to load) arrive as errors here.
        if message.type in {"error", "assert"}:
            problems.append(f"console.{message.type}: {message.text}")

    def request_failed(request: Request) -> None:
        # ERR_ABORTED is a request the page or the closing browser cancelled.
        if request.failure != "net::ERR_ABORTED":
            problems.append(f"request failed: {request.failure} {request.url}")

    def response(answer: Response) -> None:
        if answer.status >= 400:
            problems.append(f"HTTP {answer.status}: {answer.url}")

    def page_error(error: Error) -> None:
        problems.append(f"exception: {error}")

    page.on("console", console)
    page.on("pageerror", page_error)
    page.on("requestfailed", request_failed)
    page.on("response", response)
    return problems


async def wait_for_text(page: Page, *needles: str, timeout: float = 20.0) -> str:
    """The page's visible text once it shows every needle (Playwright retries the check)."""
    body = page.locator("body")
    for needle in needles:
        # innerText, as a reader sees it: CSS text-transform applied, hidden text left out.
        await expect(body).to_contain_text(needle, use_inner_text=True, timeout=timeout * 1000)
    return await body.inner_text()


async def screenshot(page: Page, name: str) -> Path:
    """The whole page as test-artifacts/``name``, for a reader to look at."""
    path = ARTIFACTS / name
    await page.screenshot(path=path, full_page=True)
    return path
