"""Crash-safe file replacement: write a temp file in the same directory, fsync, rename, fsync the directory."""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Existing:
    """What a file held before a deploy, to restore it and to keep its owner and mode."""

    content: bytes
    mode: int
    uid: int
    gid: int


def read_existing(path: Path) -> Existing | None:
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            return Existing(
                content=handle.read(), mode=info.st_mode & 0o7777, uid=info.st_uid, gid=info.st_gid
            )
    except FileNotFoundError:
        return None


def atomic_write(
    path: Path, content: bytes, *, mode: int, uid: int | None = None, gid: int | None = None
) -> None:
    """Replace `path` with `content` so a reader sees the old file or the new one, never a torn one.

    The mode (and owner, when given) is set on the temp file before any byte is written, so a key is never
    readable by others even for an instant.
    """
    path = Path(path)
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        if uid is not None and gid is not None and (uid, gid) != (os.geteuid(), os.getegid()):
            os.fchown(fd, uid, gid)
        with os.fdopen(fd, "wb") as handle:
            fd = -1
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        if fd != -1:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    fsync_directory(directory)


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
