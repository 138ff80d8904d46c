"""Write a file so that readers see either the old content or the new one, never half of it.

The project's one atomic writer: result files, the facility config, the terminal key, the
simulator's card counters and CA keys all go through it.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

__all__ = ["private_dir", "stage_file", "write_bytes_atomic", "write_text_atomic", "create_once"]


def private_dir(path: Path) -> Path:
    """`path` as a folder, every level this call creates private to its owner (0700), whatever the
    umask: patient data lives below. Folders that already exist are left as they are."""
    missing = []
    level = path
    while not level.exists():
        missing.append(level)
        if level.parent == level:
            break
        level = level.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # another process made it meanwhile
            continue
        os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask; this is not
    if not path.is_dir():
        raise NotADirectoryError(20, "Not a directory", str(path))
    return path


def stage_file(path: Path, data: bytes, *, mode: int = 0o600) -> Path:
    """`data` in a temporary file beside `path`, with `mode`, flushed to disk; the caller renames it
    into place (os.replace) or removes it. Beside `path`, so the rename stays on one file system and
    is atomic; `mode` is set before anything is written, so a private file is never wider."""
    private_dir(path.parent)
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
    """Replace `path` with `data` in one step (temporary file, fsync, rename). Only a regular file
    is ever replaced: a folder, a device or a socket named as the target is refused."""
    target = Path(path)
    if target.exists() and not target.is_file():
        raise OSError(errno.EISDIR if target.is_dir() else errno.EINVAL, "not a regular file", str(target))
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
