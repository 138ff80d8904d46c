"""Journal writes that must not be lost: each is applied to the journal now, or, when the journal
cannot take it (locked, read-only), kept in the outbox on disk (desk/outbox.py) and applied before
the next write or by the next process, in order and exactly once.

The desk's session, the numbers query and the outage re-runs all record through one `Recorder`.
A write counts as recorded once it is in the journal or in the outbox; `OutboxError` means it is
in neither, and the caller must say so (a confirmation is not done until it is recorded).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from desk.journal import JournalConflict, JournalError
from desk.journal_ops import JournalOp
from desk.outbox import Outbox
from desk.ports import JournalPort

__all__ = ["Recorder"]

_log = logging.getLogger("madoguchi.desk")


class Recorder:
    def __init__(self, journal: Callable[[], JournalPort], outbox: Outbox | None = None) -> None:
        """`journal`: the desk's journal as it is now (looked up at each write)."""
        self._journal = journal
        self.outbox = outbox or Outbox(None)
        self.error: JournalError | None = None  # why writes wait, for the status line
        self._waiting = 0
        self._lock = threading.RLock()

    @property
    def waiting(self) -> int:
        """How many writes wait in the outbox for the journal."""
        return self._waiting

    def record(self, op: JournalOp) -> object:
        """Apply `op` after every write that waits; returns its result, or None when it waits in the
        outbox. Raises OutboxError when it can be kept nowhere."""
        with self._lock:
            if self.flush():
                try:
                    result = self._journal().apply(op)
                except JournalConflict as exc:
                    self.outbox.set_aside(op, exc.title)  # refused for good: waiting cannot help
                    self.error = exc
                    return None
                except JournalError as exc:
                    self.error = exc
                else:
                    self.error = None
                    return result
            with self.outbox.locked():
                self.outbox.append(op)
                self._waiting = len(self.outbox.pending())
            _log.warning("journal write kept in the outbox: %s", self.error.title if self.error else "")
            return None

    def flush(self) -> bool:
        """Apply the waiting writes in order; True when nothing waits any more."""
        with self._lock, self.outbox.locked():
            ops = self.outbox.pending()
            done = 0
            try:
                for op in ops:
                    try:
                        self._journal().apply(op)
                    except JournalConflict as exc:
                        self.outbox.set_aside(op, exc.title)  # never applicable: out of the way, kept
                    done += 1
            except JournalError as exc:
                self.error = exc
            if done:
                self.outbox.keep_only(ops[done:])
            self._waiting = len(ops) - done
            return self._waiting == 0
