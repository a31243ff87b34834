"""Durable file writes: fsync files, folders and trees, and write-then-rename in one place.

A rename is only durable once the folder holding it is fsynced, and a file's bytes only once the file is;
without both a power cut can leave a renamed-in name pointing at empty or missing data.
"""
from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    """Make the folder's entries (created, renamed, removed names) durable. Best effort where unsupported."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def fsync_tree(path: Path) -> None:
    """fsync a file, or every file and folder under a folder (e.g. one a library wrote for us)."""
    if not path.is_dir():
        fsync_file(path)
        return
    for root, _dirs, names in os.walk(path):
        for name in names:
            fsync_file(Path(root) / name)
        fsync_dir(Path(root))


def write_atomic(path: Path, data: str | bytes, *, tmp_name: str | None = None) -> None:
    """Replace `path` with `data` so that a crash or power cut leaves either the old or the new content."""
    tmp = path.with_name(tmp_name or f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
