"""devstack.worker's HTTP client against a stdlib HTTP server on the loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devstack.supervisor import free_port
from devstack.worker import http_fetch, http_get


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/cut":
            # Promise 100 bytes, send 5 and hang up: a worker stopping mid-answer.
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"short")
            self.wfile.flush()
            self.close_connection = True
            return
        status, body = (200, b"hello") if self.path == "/ok" else (404, b"no such page")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads answers, not the access log."""


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_get_returns_status_and_body_an_error_status_too(server: str) -> None:
    assert http_get(f"{server}/ok") == (200, b"hello")
    assert http_get(f"{server}/missing") == (404, b"no such page")


async def test_a_get_works_inside_a_running_event_loop(server: str) -> None:
    # An async test's synchronous helper calls http_get with the test's loop running.
    assert http_get(f"{server}/ok") == (200, b"hello")
    assert await http_fetch(f"{server}/ok") == (200, b"hello")


def test_no_server_and_a_cut_answer_are_oserrors(server: str) -> None:
    with pytest.raises(OSError):
        http_get(f"http://127.0.0.1:{free_port()}/ready", timeout=2)
    with pytest.raises(OSError):
        http_get(f"{server}/cut", timeout=2)
