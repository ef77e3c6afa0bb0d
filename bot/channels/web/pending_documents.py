"""Documents waiting for their download, each person's apart from everyone else's.

A document's files wait in memory only, under one-time tokens bound to the session they were
made for. Each session keeps its newest few; the number of files held for everyone is bounded
too, and when that bound is reached the oldest document of whoever holds the most goes: the
client (address) with the most files, and of its sessions the one with the most. So one client
printing in a loop only ever pushes out its own documents, never another person's.

Who may have documents made at all, and how many, is `DocumentRation`'s business: token buckets
per client address and per conversation, so that printing in a loop cannot take the CPU.
"""

from __future__ import annotations

import hmac
import itertools
import secrets
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bot.service.ratelimit import RateLimit, Verdict

DOCUMENT_TTL = 600.0
"""Seconds a document waits for its download."""
DOCUMENTS_PER_SESSION = 4
"""Documents (two files each) one session keeps at once; a newer one pushes out its oldest."""
DOCUMENTS_LIMIT = 2_000
"""Files held at once for all sessions (a PDF is about 30 KB: some 60 MB at most)."""
DOCUMENT_WINDOW = 600.0
"""Seconds in which `web.documents_per_address` and `DOCUMENTS_PER_CONVERSATION` refill."""
DOCUMENTS_PER_CONVERSATION = 10
"""Documents one conversation may have made at once, refilled over `DOCUMENT_WINDOW` (one a
minute): a person prints a checklist after ticking a few items, not every second."""
TRACKED = 10_000
"""Addresses and conversations whose documents are counted at once (bounded memory)."""


@dataclass(frozen=True, slots=True)
class PendingFile:
    data: bytes
    filename: str
    content_type: str


@dataclass(slots=True)
class _Document:
    session: str
    client: str
    expires: float
    files: dict[str, PendingFile] = field(default_factory=dict)
    """token → file, until fetched."""


class PendingDocuments:
    """The documents waiting for download, by session; `len()` is the files held."""

    def __init__(self, clock: Callable[[], float], per_session: int = DOCUMENTS_PER_SESSION,
                 limit: int = DOCUMENTS_LIMIT, ttl: float = DOCUMENT_TTL) -> None:
        self.clock = clock
        self.per_session = per_session
        self.limit = limit
        self.ttl = ttl
        self._documents: dict[int, _Document] = {}
        """In the order made, which is the order they expire in (one TTL for all)."""
        self._numbers = itertools.count()
        self._tokens: dict[str, int] = {}
        self._sessions: dict[str, list[int]] = {}
        """session → its documents' numbers, oldest first."""
        self._held: Counter[str] = Counter()
        """client → files held."""

    def add(self, session: str, client: str, files: Iterable[PendingFile]) -> list[str]:
        """Keep one document's files; their one-time tokens, in the same order. `client` is
        whom the document counts for when the bound is reached (the address's keyed hash, or
        the session itself when the address is unknown, e.g. behind a proxy)."""
        self._expire()
        files = list(files)
        while len(self._sessions.get(session, ())) >= self.per_session:
            self._remove(self._sessions[session][0])  # this session's oldest, no one else's
        while self._documents and len(self._tokens) + len(files) > self.limit:
            self._remove(self._fairest_to_drop())
        document = _Document(session, client, self.clock() + self.ttl)
        number = next(self._numbers)
        for file in files:
            token = secrets.token_urlsafe(24)
            document.files[token] = file
            self._tokens[token] = number
        self._documents[number] = document
        self._sessions.setdefault(session, []).append(number)
        self._held[client] += len(files)
        return list(document.files)

    def take(self, token: str, session: str | None) -> PendingFile | None:
        """The file, once, and only to the session it was made for; else None."""
        self._expire()
        number = self._tokens.get(token)
        if number is None or session is None:
            return None
        document = self._documents[number]
        if not hmac.compare_digest(document.session, session):
            return None
        del self._tokens[token]
        self._held[document.client] -= 1
        file = document.files.pop(token)
        if not document.files:
            self._remove(number)
        return file

    def drop(self, session: str) -> None:
        """Everything of a session (`forget`, the quick exit)."""
        for number in list(self._sessions.get(session, ())):
            self._remove(number)

    def clear(self) -> None:
        for number in list(self._documents):
            self._remove(number)

    def __len__(self) -> int:
        return len(self._tokens)

    def _fairest_to_drop(self) -> int:
        """The oldest document of the session holding the most files, of the client holding
        the most: a flood is cut from itself first."""
        client = max(self._held, key=lambda c: self._held[c])
        sessions = {self._documents[numbers[0]].session: numbers
                    for numbers in self._sessions.values()
                    if self._documents[numbers[0]].client == client}
        if not sessions:  # cannot be: a client holds files only through its sessions
            return next(iter(self._documents))
        largest = max(sessions.values(), key=lambda numbers: sum(
            len(self._documents[n].files) for n in numbers))
        return largest[0]

    def _expire(self) -> None:
        now = self.clock()
        while self._documents:
            number, document = next(iter(self._documents.items()))
            if document.expires >= now:
                break
            self._remove(number)

    def _remove(self, number: int) -> None:
        document = self._documents.pop(number)
        for token in document.files:
            del self._tokens[token]
        self._held[document.client] -= len(document.files)
        if self._held[document.client] <= 0:
            del self._held[document.client]
        numbers = self._sessions[document.session]
        numbers.remove(number)
        if not numbers:
            del self._sessions[document.session]


class DocumentRation:
    """How many documents may be made: a token bucket per client address (`per_address`, 0:
    none) and one per conversation, both refilled over `DOCUMENT_WINDOW`. Asked before a
    document is rendered, so a refused one costs no CPU."""

    def __init__(self, per_address: int, clock: Callable[[], float],
                 per_conversation: int = DOCUMENTS_PER_CONVERSATION) -> None:
        self._addresses = RateLimit(per_address, per_address / DOCUMENT_WINDOW,
                                    tracked=TRACKED, clock=clock) if per_address > 0 else None
        self._conversations = RateLimit(per_conversation, per_conversation / DOCUMENT_WINDOW,
                                        tracked=TRACKED, clock=clock)

    def allows(self, client: str | None, session: str) -> bool:
        """Whether a document may be made now for this session from this client (None: the
        address is a proxy's or unknown, so only the conversation is counted). The
        conversation is asked first: a person over their own allowance spends nothing of
        their office's."""
        if self._conversations.check(session) is not Verdict.ALLOW:
            return False
        return (self._addresses is None or client is None
                or self._addresses.check(client) is Verdict.ALLOW)
