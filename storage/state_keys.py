"""One key per stored conversation, kept where erasing it is a single overwrite: a privacy feature.

Erasing a conversation, or the typed text in it, must make every older version of its state
unreadable, and SQLite leaves old row versions where no DELETE reaches them (the WAL, free pages,
a backup copied meanwhile). So each state is sealed with its own key (ChaCha20-Poly1305), and
erasing overwrites that key with zeros in this file: every copy sealed with it is noise from then
on. Typed text never reaches the database files in the clear.

The file is an array of 32-byte records; an all-zero record is free. One process at a time takes
a record (a POSIX lock); any may erase one (`lotse purge` beside the bot). Every open store holds
a shared lock for its lifetime, so a store can tell it is alone: then no turn is half written
anywhere, and every key no row refers to can go (tidying up after a crash).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

KEY_BYTES = 32
NONCE_BYTES = 12
_ZERO = bytes(KEY_BYTES)


class StateKeys:
    """The key file next to the state database; `path=None` keeps the keys in memory (tests)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._fd: int | None = None
        self.alone = True
        """No other store has this file open."""
        if path is not None:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.alone = False
            fcntl.flock(self._fd, fcntl.LOCK_SH)
            size = os.fstat(self._fd).st_size
            data = os.pread(self._fd, size, 0)
            whole = size - size % KEY_BYTES  # a torn last record is no key
            records = [data[i:i + KEY_BYTES] for i in range(0, whole, KEY_BYTES)]
        else:
            records = []
        self._records: list[bytes] = records
        self._free = [i for i, r in enumerate(records) if r == _ZERO][::-1]
        self._held: set[int] = set()
        """Records overwritten with zeros while a row still names them (`burn`): not taken again
        until that row is gone, so that no two rows ever share a record."""
        self.written = False
        """A key was written since the last `sync()` (for power-cut durability)."""

    def new(self) -> int:
        """Take a free record for a fresh random key; returns its number."""
        key = os.urandom(KEY_BYTES)
        if self._fd is None:
            slot = self._free.pop() if self._free else len(self._records)
            self._put(slot, key)
            return slot
        fcntl.lockf(self._fd, fcntl.LOCK_EX)
        try:
            while True:
                slot = self._free.pop() if self._free else self._end()
                # Another process may have taken it since we read the file: look on disk.
                on_disk = os.pread(self._fd, KEY_BYTES, slot * KEY_BYTES)
                if on_disk in (b"", _ZERO):
                    break
                self._put(slot, on_disk, write=False)
            self._put(slot, key)
        finally:
            fcntl.lockf(self._fd, fcntl.LOCK_UN)
        return slot

    def _end(self) -> int:
        assert self._fd is not None
        return max(len(self._records), -(-os.fstat(self._fd).st_size // KEY_BYTES))

    def _put(self, slot: int, key: bytes, write: bool = True) -> None:
        if slot >= len(self._records):
            self._records.extend([_ZERO] * (slot + 1 - len(self._records)))
        self._records[slot] = key
        if write and self._fd is not None:
            os.pwrite(self._fd, key, slot * KEY_BYTES)
            self.written = True

    def erase(self, slot: int) -> None:
        """Overwrite the key with zeros: everything sealed with it is unreadable from now on."""
        if slot in self._held:  # burnt before; its row is gone now
            self._held.discard(slot)
            self._free.append(slot)
            return
        if not self.usable(slot):
            return
        self._put(slot, _ZERO)
        self._free.append(slot)

    def burn(self, slot: int) -> None:
        """Overwrite the key with zeros now, in place (no new space on a full disk), while a row
        may still name it: the record is held until `erase` says the row is gone."""
        if slot in self._free:
            self._free.remove(slot)
        self._put(slot, _ZERO)
        self._held.add(slot)

    def hold(self, slots: set[int]) -> None:
        """Of these records, named by rows, hold the ones already zeros (burnt, and the commit
        that was to delete their rows failed): taking them again would make two rows share one."""
        held = {s for s in slots if s < len(self._records) and self._records[s] == _ZERO}
        self._held |= held
        self._free = [s for s in self._free if s not in held]

    def kept(self) -> set[int]:
        return {i for i, r in enumerate(self._records) if r != _ZERO}

    def usable(self, slot: int) -> bool:
        """Whether record `slot` still holds a key, as the file says: `lotse purge` in another
        process may have erased it since this store read it."""
        if slot >= len(self._records) or self._records[slot] == _ZERO:
            return False
        if self._fd is not None and os.pread(self._fd, KEY_BYTES, slot * KEY_BYTES) == _ZERO:
            self._records[slot] = _ZERO
            return False
        return True

    def seal(self, slot: int, text: str, owner: str) -> bytes:
        """The text encrypted with record `slot`, bound to `owner` (the row's key)."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + ChaCha20Poly1305(self._records[slot]).encrypt(nonce, text.encode(),
                                                                     owner.encode())

    def open(self, slot: int, sealed: bytes, owner: str) -> str | None:
        """The text, or None when the key was erased (or lost in a power cut) or the bytes
        were changed."""
        if not self.usable(slot):
            return None
        cipher = ChaCha20Poly1305(self._records[slot])
        try:
            plain = cipher.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], owner.encode())
        except InvalidTag:
            return None
        return plain.decode()

    def sync(self) -> None:
        """Make the written and erased keys survive a power cut."""
        if self._fd is not None and self.written:
            os.fsync(self._fd)
        self.written = False

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
