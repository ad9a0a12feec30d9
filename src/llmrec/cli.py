"""What every command-line tool shares: a user error ends as one line on stderr and exit code 2."""

from __future__ import annotations

import sys
from collections.abc import Callable

from llmrec.errors import LlmrecError

#: The exit code of every command-line tool for a user error (bad input, impossible value).
USER_ERROR = 2


def run_command(action: Callable[[], str | None], end: str = "\n") -> int:
    """Run one command-line action and print what it returns (nothing for None): a user error ends as
    one line on stderr and exit code :data:`USER_ERROR`, with no traceback."""
    try:
        output = action()
    except LlmrecError as error:
        print(f"error: {error}", file=sys.stderr)
        return USER_ERROR
    if output is not None:
        print(output, end=end)
    return 0
