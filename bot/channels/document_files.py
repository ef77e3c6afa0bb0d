"""A document's files for a channel, built away from the event loop.

fpdf2 takes half a second or more to import and a PDF some milliseconds to lay out. Both
happen in a worker thread: done on the event loop, the first document after a start held every
conversation on every channel for that half second. Imported on first use, as before: most
chats make no document.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from bot.conversation import Document

if TYPE_CHECKING:
    from bot.documents.files import DocumentFile


async def document_files(document: Document) -> tuple[DocumentFile, DocumentFile]:
    """The PDF and the text file, in memory."""
    return await asyncio.to_thread(_build, document)


def _build(document: Document) -> tuple[DocumentFile, DocumentFile]:
    from bot.documents.files import document_files as build

    return build(document)
