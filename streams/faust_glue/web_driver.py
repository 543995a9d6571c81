"""The Faust app class of the service: Faust's aiohttp web driver minus its ``/`` index.

Faust mounts a ``production_index`` blueprint at ``/`` that answers ``{"status": "OK"}``.
The contract gives ``/`` to our status page, and two GET routes on one path would leave
the winner to registration order, so the index is simply never mounted.

Every response also carries the browser hardening headers: the pages load nothing from
anywhere (their scripts and styles are inline), so the policy allows only that.
"""

from __future__ import annotations

from typing import ClassVar

import faust
from aiohttp import web
from faust.web import Web
from faust.web.drivers.aiohttp import Web as AiohttpWeb

#: No external asset, no framing, no form posts elsewhere; inline script and style only.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


async def _add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


class StatusPageWeb(AiohttpWeb):
    """aiohttp web driver whose ``/`` is free for the service's own status page."""

    production_blueprints: ClassVar[list[tuple[str, str]]] = []

    def __init__(self, app: faust.App, **kwargs: object) -> None:
        super().__init__(app, **kwargs)
        self.web_app.on_response_prepare.append(_add_security_headers)


class ServiceApp(faust.App):
    """``faust.App`` serving HTTP through :class:`StatusPageWeb`."""

    def _new_web(self) -> Web:
        # faust picks the driver from the `web` URL scheme only; overriding the factory is
        # the one hook that takes a class.
        return StatusPageWeb(self)
