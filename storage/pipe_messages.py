"""Messages between the bot and its writer process: a length, then a pickle.

Pickle, because both ends are this package's own code, started by it, on one machine; the
messages are tuples of text and numbers (and the exceptions the writer answers with).
"""

from __future__ import annotations

import pickle
import struct
from typing import Any, BinaryIO

LENGTH = struct.Struct("<I")


def frame(message: object) -> bytes:
    data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    return LENGTH.pack(len(data)) + data


def read_message(stream: BinaryIO) -> Any:
    """The next message, or None when the pipe closed (or closed mid-message: the other side
    died while writing it, and nothing of it counts)."""
    head = stream.read(LENGTH.size)
    if len(head) < LENGTH.size:
        return None
    (size,) = LENGTH.unpack(head)
    body = stream.read(size)
    if len(body) < size:
        return None
    return pickle.loads(body)
