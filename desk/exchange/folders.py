"""The folder side of the exchange: hand a file over whole, and wait for one to appear.

A file is written under a temporary dot-name in the same folder, flushed to disk and renamed:
the other side, which only takes names of the exchange's pattern, never sees half of it. The
other side may not be so careful, so `read_settled` reads an answer until it parses, giving a
writer that is still at work time to finish.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from desk.atomicfile import write_bytes_atomic

__all__ = ["ExchangeFolders", "hand_over", "wait_for_any", "read_settled", "Unsettled"]

T = TypeVar("T")


@dataclass(frozen=True)
class ExchangeFolders:
    """The terminal's shared folders, under one root as the 資格確認端末 lays them out."""

    root: Path

    @property
    def req(self) -> Path:
        return self.root / "req"

    @property
    def res(self) -> Path:
        return self.root / "res"

    @property
    def face(self) -> Path:
        return self.root / "face"

    def problems(self) -> list[str]:
        """What keeps the exchange from working, in Japanese (empty when it can)."""
        found = []
        for folder in (self.req, self.res):
            if not folder.is_dir():
                found.append(f"{folder} がありません")
            elif not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
                found.append(f"{folder} に読み書きできません")
        return found


def hand_over(folder: Path, name: str, data: bytes) -> Path:
    """Put `data` into `folder/name` in one step (temporary dot-file, fsync, rename)."""
    return write_bytes_atomic(folder / name, data)


def wait_for_any(
    paths: Iterable[Path], *, timeout_s: float, poll_s: float,
    sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic,
) -> Path | None:
    """The first of `paths` to exist within `timeout_s`, or None."""
    candidates = list(paths)
    deadline = monotonic() + timeout_s
    while True:
        for path in candidates:
            if path.exists():
                return path
        if monotonic() >= deadline:
            return None
        sleep(poll_s)


class Unsettled(Exception):
    """The file never became readable: still half-written, or not what it should be."""

    def __init__(self, last_error: Exception) -> None:
        super().__init__(str(last_error))
        self.last_error = last_error


def read_settled(
    path: Path, parse: Callable[[bytes], T], *, settle_s: float, poll_s: float,
    sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic,
) -> T:
    """`parse(path's bytes)`, re-read while it fails and the file keeps changing. Gives up
    (Unsettled) once it has failed on the same bytes for `settle_s`."""
    last: bytes | None = None
    since = monotonic()
    while True:
        data = path.read_bytes()
        try:
            return parse(data)
        except Exception as exc:  # noqa: BLE001 - any parse failure: maybe the writer is not done
            if data != last:
                last, since = data, monotonic()
            elif monotonic() - since >= settle_s:
                raise Unsettled(exc) from exc
        sleep(poll_s)
