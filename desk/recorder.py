"""Journal writes that must not be lost: each is tried now, and one that fails (database locked,
read-only disk) waits in order and is written before the next one.

The desk's session, the numbers query and the outage re-runs all record through one `Recorder`,
so a busy disk never loses a confirmation already made and never reorders the journal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from desk.journal import JournalError

__all__ = ["Recorder"]

_log = logging.getLogger("madoguchi.desk")
T = TypeVar("T")


class Recorder:
    def __init__(self) -> None:
        self._waiting: list[Callable[[], object]] = []
        self.error: JournalError | None = None  # the last failure, for the status line

    @property
    def waiting(self) -> int:
        """How many writes are waiting for the journal."""
        return len(self._waiting)

    def record(self, write: Callable[[], T]) -> T | None:
        """Run `write` after every earlier write that waits; None when the journal refused it."""
        self._waiting.append(write)
        result: object = None
        try:
            while self._waiting:
                result = self._waiting[0]()
                self._waiting.pop(0)
        except JournalError as exc:
            self.error = exc
            _log.warning("journal write deferred: %s", exc.title)
            return None
        self.error = None
        return result  # type: ignore[return-value]  # the last write run is `write` itself

    def flush(self) -> bool:
        """Retry the waiting writes; True when nothing is left."""
        if self._waiting:
            self.record(self._waiting.pop())  # record() puts it back at the end of the queue
        return not self._waiting
