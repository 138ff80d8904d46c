"""The `desk` sub-commands, one module each (see desk/cli.py)."""

from __future__ import annotations

import sys

__all__ = ["fail"]


def fail(error: Exception, code: int = 1) -> int:
    """Tell the staff what went wrong (the error's Japanese title and message) on stderr."""
    print(f"{getattr(error, 'title', 'エラー')}: {error}", file=sys.stderr)
    return code
