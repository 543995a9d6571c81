"""The one error the stack raises: its message is the single line the CLI prints."""


class StackError(RuntimeError):
    """A local-stack problem a person can act on (missing tool, port taken, timeout)."""
