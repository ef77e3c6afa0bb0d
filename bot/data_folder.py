"""The data folder and its files, checked before anything opens them: a wrong folder, a
damaged database or a bad secret is one line naming the file and what to do, exit 2, and
nothing is created or changed (docs/operating.md, "When a file is wrong")."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import click

from bot.config import Settings

EXIT_CONFIG = 2


_SQLITE_HEADER = b"SQLite format 3\x00"


def fail(line: str) -> NoReturn:
    """One line on standard error and exit 2: what is wrong with which file, and what to do."""
    click.echo(f"lotse: {line}", err=True)
    sys.exit(EXIT_CONFIG)


def usable_data(settings: Settings, *databases: Path, create: bool = True,
                 write: bool = True, whole: bool = False) -> None:
    """Refuse, before anything is created or opened, a data folder or database Lotse could only
    fail on with a traceback (or, worse, change): a folder that is a file, missing (`create`
    False: `stats` and `purge` make none) or not writable (`write`), a database that is a
    folder, not a regular file or not SQLite, or (`whole`: before `purge` says what it deleted)
    one with a damaged page anywhere."""
    from storage.integrity import readable

    folder = settings.data_dir
    if folder.exists() and not folder.is_dir():
        fail(f"the data folder {folder} is not a folder; set data_dir (or LOTSE_DATA_DIR, "
              "--data-dir) to a folder (see docs/operating.md)")
    if not folder.exists():
        if not create:
            fail(f"there is no data folder {folder}; set data_dir (or LOTSE_DATA_DIR, "
                  "--data-dir) to the folder that holds reports.db (see docs/operating.md)")
        above = next((p for p in folder.absolute().parents if p.exists()), Path("/"))
        if not above.is_dir() or not os.access(above, os.W_OK | os.X_OK):
            fail(f"the data folder {folder} cannot be created in {above}; create it for "
                  f"Lotse's user (mkdir, chown, chmod 700) or set data_dir (or LOTSE_DATA_DIR, "
                  "--data-dir) to another place")
        return
    if write and not os.access(folder, os.W_OK | os.X_OK):
        fail(f"the data folder {folder} is not writable by this user; make it Lotse's: "
              f"chown the folder to Lotse's user and chmod 700 {folder}")
    for path in databases:
        if not path.exists() and not path.is_symlink():
            continue
        if not path.is_file():
            fail(f"{path} is not a database file; move it away (Lotse creates a new one) "
                  "or restore it from a backup")
        try:
            with path.open("rb") as handle:
                head = handle.read(len(_SQLITE_HEADER))
        except OSError as err:
            fail(f"{path} cannot be read ({err.strerror}); make it readable by Lotse's user "
                  f"(chmod 600 {path})")
        if head and head != _SQLITE_HEADER:
            fail(f"{path} is not an SQLite database; restore it from a backup "
                  "(sqlite3 … '.backup'), or move it away and Lotse starts a new one")
        if write and not os.access(path, os.W_OK):
            fail(f"{path} is read-only for this user, and Lotse writes it; make it Lotse's: "
                  f"chown it to Lotse's user and chmod 600 {path}")
    for path in databases:
        if path.is_file() and path.stat().st_size and not readable(path, whole):
            fail(f"{path} is damaged (SQLite cannot read "
                  f"{'every page' if whole else 'its tables'}); nothing was changed; restore it "
                  "from a backup (sqlite3 … '.backup'), or move it away and Lotse starts a new "
                  "one")


@contextlib.contextmanager
def opening(path: Path) -> Iterator[None]:
    """A database that passed `usable_data` but fails to open (a damaged page, a disk error)
    is one line, not a traceback."""
    import sqlite3

    try:
        yield
    except sqlite3.DatabaseError as err:
        fail(f"{path} cannot be used ({err}); restore it from a backup (sqlite3 … '.backup'), "
              "or move it away and Lotse starts a new one")
    except OSError as err:
        fail(f"{path} cannot be opened ({err.strerror or err}); check the data folder "
              "(see docs/operating.md)")


def private_files(settings: Settings, warn: Callable[[str], None]) -> int:
    """From here on every file and folder Lotse creates is its user's alone (umask 077; the
    stores also create theirs 0600 under any umask). An existing data folder or secret.key that
    others may read is told once, not changed: the operator may have reasons. Returns the umask
    to restore."""
    from bot.service.keys import SECRET_FILE
    from storage.private_file import exposed, private_folder

    found = exposed(settings.data_dir, settings.data_dir / SECRET_FILE)
    if found:
        warn(f"{' and '.join(f'{path} (mode {mode:04o})' for path, mode in found)} can be "
             f"read by group or others; make it Lotse's alone: chmod 700 {settings.data_dir}; "
             f"chmod 600 {settings.data_dir / SECRET_FILE} (see docs/operating.md)")
    # The data folder first, so that folders above it it needs are made as the umask says.
    with contextlib.suppress(OSError):  # not possible: the stores say why, as before
        private_folder(settings.data_dir)
    return os.umask(0o077)


def prepared(settings: Settings) -> bytes:
    """The data folder and databases checked and the secret loaded before anything is made, so
    that a mistake in any of them is one line and leaves everything as it was."""
    usable_data(settings, settings.state_db, settings.reports_db)
    keys = settings.state_db.with_suffix(".keys")  # storage/state_keys.py: not SQLite
    if (keys.exists() or keys.is_symlink()) and not keys.is_file():
        fail(f"{keys} is not a file; move it away (running conversations then start again) "
              "or restore it from the backup made with state.db")
    if keys.is_file() and not os.access(keys, os.R_OK | os.W_OK):
        fail(f"{keys} is read-only for this user, and Lotse writes it; make it Lotse's: "
              f"chown it to Lotse's user and chmod 600 {keys}")
    return checked_secret(settings)


def checked_secret(settings: Settings) -> bytes:
    """The key for hashing user ids, or one line naming LOTSE_SECRET or secret.key."""
    from bot.service.keys import SecretError, load_secret

    try:
        return load_secret(settings.data_dir)
    except SecretError as err:
        fail(str(err))
    except OSError as err:
        fail(f"the key file in {settings.data_dir} cannot be read or written "
              f"({err.strerror or err}); see docs/operating.md")
