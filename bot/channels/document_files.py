"""A document's files for a channel, built away from the event loop.

fpdf2 takes half a second or more to import and a PDF about 0.3 s to lay out. Both happen in
a worker thread: the import on the event loop held every conversation on every channel for
that half second at the first document after a start. In the thread it still takes the
interpreter's lock most of the time, so the loop goes on in slices of a few milliseconds
rather than freely, once. Imported on first use, as before: most chats make no document.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from bot.engine.conversation import Document

if TYPE_CHECKING:
    from bot.documents.files import DocumentFile


async def document_files(document: Document) -> tuple[DocumentFile, DocumentFile]:
    """The PDF and the text file, in memory."""
    return await asyncio.to_thread(_build, document)


def _build(document: Document) -> tuple[DocumentFile, DocumentFile]:
    from bot.documents.files import document_files as build

    return build(document)
