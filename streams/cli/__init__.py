"""The ``python -m streams`` commands that talk to a running pipeline: replay, request, demo."""

from __future__ import annotations


class CommandError(Exception):
    """A failure a person can act on: ``str()`` is one line, ``exit_code`` the status."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
