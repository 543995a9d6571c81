"""The one error the stack raises: its message is the single line the CLI prints."""

from streams.cli import CommandError


class StackError(CommandError):
    """A local-stack problem a person can act on (missing tool, port taken, timeout)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=2)
