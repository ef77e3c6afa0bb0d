"""Files only their owner may read (secrets, login tokens, databases, a memory protocol).

`write_private` replaces a file through a temporary file in the same folder, created 0600 and
synced, in one rename, so a reader finds the old file or the new one, never a part.
`private_folder` and `private_database` make the data folder 0700 and a database 0600 before
SQLite opens it: SQLite gives the database's -wal and -shm files the database file's mode, so
they are 0600 too, whatever the process's umask. Existing folders and files keep their mode
(an operator may have chosen it); `exposed` tells which of them others may read.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

OTHERS = 0o077
"""Permission bits for group and others: none of them on anything in the data folder."""


def write_private(path: Path, data: str | bytes) -> None:
    """Replace `path` with `data` (text as UTF-8), readable and writable by the owner only."""
    raw = data.encode() if isinstance(data, str) else data
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".new")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def private_folder(path: Path) -> None:
    """Create `path` if missing, itself 0700 (parents as the umask says); an existing folder
    keeps its mode."""
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)


def private_database(path: Path) -> None:
    """Create `path` (its folder by `private_folder`) as an empty file 0600 unless it exists:
    SQLite reads an empty file as an empty database and gives its -wal and -shm that mode."""
    private_folder(path.parent)
    # There already, or cannot be made (a read-only folder): SQLite opens it or says why.
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def exposed(*paths: Path) -> list[tuple[Path, int]]:
    """Those of `paths` that exist and that group or others may read, write or enter, with their
    permission bits."""
    found = []
    for path in paths:
        with contextlib.suppress(OSError):
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & OTHERS:
                found.append((path, mode))
    return found
