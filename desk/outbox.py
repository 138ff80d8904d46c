"""The outbox: journal writes that the journal could not take (locked, read-only, damaged) wait
here, on disk, in order, until the next write or the next process applies them.

One JSON line per write (desk/journal_ops.py), appended and fsynced before the desk says the
confirmation is recorded; a file beside the journal, private (0600). Appends and flushes hold an
advisory lock, so two desks on one journal never drop each other's writes. A line that cannot be
read is never dropped silently: the outbox then refuses to flush and says so.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from desk.atomicfile import private_dir, write_bytes_atomic
from desk.journal_ops import JournalOp, parse_op
from reader.staff_facing import StaffFacingError

try:  # POSIX; elsewhere one desk per journal is assumed
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["Outbox", "OutboxError", "outbox_path"]

_log = logging.getLogger("madoguchi.desk")


class OutboxError(StaffFacingError):
    """Neither the journal nor the outbox can keep a write: it is NOT recorded."""

    title = "受付記録を保存できません"


def outbox_path(journal_path: Path) -> Path:
    return journal_path.with_name(journal_path.name + ".outbox")


class Outbox:
    def __init__(self, path: Path | None) -> None:
        """`path` None: in memory only (a process that ends loses what waits; for tests)."""
        self.path = path
        self._memory: list[JournalOp] = []
        self._lock = threading.RLock()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the outbox against other threads and processes (append, or read-apply-rewrite)."""
        with self._lock:
            if self.path is None or fcntl is None:
                yield
                return
            try:
                private_dir(self.path.parent)  # a desk's own folder, made on its first start (0700)
                fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise OutboxError(f"受付記録の一時保存先（{self.path.parent}）を使えません：{exc.strerror or exc}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the lock

    def pending(self) -> list[JournalOp]:
        """The waiting writes, oldest first."""
        if self.path is None:
            return list(self._memory)
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise OutboxError(f"受付記録の一時保存（{self.path}）を読めません：{exc.strerror or exc}") from exc
        lines = data.split(b"\n")
        ops = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                ops.append(parse_op(line.decode("utf-8")))
            except (ValidationError, ValueError, UnicodeDecodeError) as exc:
                if number == len(lines):  # the last line, cut by a crash mid-append: never acknowledged
                    break
                raise OutboxError(
                    f"受付記録の一時保存（{self.path}）の{number}行目が壊れています。ファイルを消さずに管理者に"
                    "連絡してください（中の記録はまだ受付記録に入っていません）。",
                    "受付記録の一時保存が壊れています",
                ) from exc
        return ops

    def append(self, op: JournalOp) -> None:
        """Keep one write; returns once it is on disk. OutboxError when it cannot be kept."""
        if self.path is None:
            with self._lock:
                self._memory.append(op)
            return
        try:
            _append_line(self.path, op.model_dump_json().encode("utf-8") + b"\n")
        except OSError as exc:
            raise OutboxError(
                f"受付記録にも一時保存（{self.path}）にも書き込めません：{exc.strerror or exc}。"
                "この記録は保存されていません。ディスクの空きと権限を確認してください。"
            ) from exc

    def set_aside(self, op: JournalOp, reason: str) -> None:
        """A write the journal refuses for good (not busy: it can never apply, e.g. a re-run already
        recorded): kept beside the outbox for the administrator, no longer blocking the others."""
        if self.path is None:
            return
        aside = self.path.with_name(self.path.name + ".rejected")
        try:
            _append_line(aside, op.model_dump_json().encode("utf-8") + b"\n")
        except OSError as exc:
            raise OutboxError(f"受付記録に入らない記録を {aside} に残せません：{exc.strerror or exc}") from exc
        _log.error("journal refused op %s for good (%s); kept in %s", op.op_id, reason, aside)

    def keep_only(self, ops: list[JournalOp]) -> None:
        """What is left after a flush (call inside `locked`)."""
        if self.path is None:
            self._memory = list(ops)
            return
        try:
            if ops:
                write_bytes_atomic(self.path, b"".join(op.model_dump_json().encode("utf-8") + b"\n" for op in ops))
            else:
                self.path.unlink(missing_ok=True)
        except OSError as exc:
            raise OutboxError(f"受付記録の一時保存（{self.path}）を更新できません：{exc.strerror or exc}") from exc


def _append_line(path: Path, line: bytes) -> None:
    """Append one whole line and fsync it. A tail left by a crash mid-append (never acknowledged)
    is cut off first, so it cannot glue itself to this line; a write that fails part-way is
    undone, so a half line is never left to be mistaken for a kept one."""
    private_dir(path.parent)
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size:
            tail = os.pread(fd, min(size, 65536), max(0, size - 65536))
            if not tail.endswith(b"\n"):
                cut = tail.rfind(b"\n")
                size = max(0, size - len(tail)) + (cut + 1 if cut >= 0 else 0)
                os.ftruncate(fd, size)
        written = 0
        try:
            while written < len(line):
                n = os.pwrite(fd, line[written:], size + written)
                if n <= 0:
                    raise OSError(errno.ENOSPC, "No space left on device", str(path))
                written += n
            os.fsync(fd)
        except OSError:
            os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)
    if created:
        _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be fsynced
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
