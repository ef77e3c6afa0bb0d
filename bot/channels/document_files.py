"""A document's files for a channel, built in a worker thread: importing fpdf2 and laying out
a PDF on the event loop would hold every conversation on every channel meanwhile. Imported on
first use, as most chats make no document."""

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
