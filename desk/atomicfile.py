"""Write a file so that readers see either the old content or the new one, never half of it.

The project's one atomic writer: result files, the facility config, the terminal key, the
simulator's card counters and CA keys all go through it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["stage_file", "write_bytes_atomic", "write_text_atomic", "create_once"]


def stage_file(path: Path, data: bytes, *, mode: int = 0o600) -> Path:
    """`data` in a temporary file beside `path`, with `mode`, flushed to disk; the caller renames it
    into place (os.replace) or removes it. Beside `path`, so the rename stays on one file system and
    is atomic; `mode` is set before anything is written, so a private file is never wider."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o600) -> Path:
    """Replace `path` with `data` in one step (temporary file, fsync, rename)."""
    target = Path(path)
    tmp = stage_file(target, data, mode=mode)
    try:
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def write_text_atomic(path: str | os.PathLike[str], text: str, *, mode: int = 0o644) -> Path:
    """`write_bytes_atomic` for UTF-8 text with Unix line ends."""
    return write_bytes_atomic(path, text.encode("utf-8"), mode=mode)


def create_once(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o600) -> bool:
    """Create `path` with `data` unless it exists; True when this call created it. Two processes
    racing to create the same key both end up using the one that got there first (link fails)."""
    target = Path(path)
    tmp = stage_file(target, data, mode=mode)
    try:
        os.link(tmp, target)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
