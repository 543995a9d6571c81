"""The Faust app class of the service: Faust's aiohttp web driver minus its ``/`` index.

Faust mounts a ``production_index`` blueprint at ``/`` that answers ``{"status": "OK"}``.
The contract gives ``/`` to our status page, and two GET routes on one path would leave
the winner to registration order, so the index is simply never mounted.
"""

from __future__ import annotations

from typing import ClassVar

import faust
from faust.web import Web
from faust.web.drivers.aiohttp import Web as AiohttpWeb


class StatusPageWeb(AiohttpWeb):
    """aiohttp web driver whose ``/`` is free for the service's own status page."""

    production_blueprints: ClassVar[list[tuple[str, str]]] = []


class ServiceApp(faust.App):
    """``faust.App`` serving HTTP through :class:`StatusPageWeb`."""

    def _new_web(self) -> Web:
        # faust picks the driver from the `web` URL scheme only; overriding the factory is
        # the one hook that takes a class.
        return StatusPageWeb(self)
