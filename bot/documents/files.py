"""The two files every channel hands over for a document, built in memory, named alike."""

from __future__ import annotations

from dataclasses import dataclass

from bot.documents.pdf import document_pdf
from bot.documents.text import document_text, file_stem
from bot.engine.conversation import Document


@dataclass(frozen=True, slots=True)
class DocumentFile:
    filename: str
    """Safe as it is in a header or a path: the flow checker allows only [a-z0-9_-] in a
    document's file name, and the time stamp adds digits and a hyphen."""
    data: bytes
    mime: str


def document_files(document: Document) -> tuple[DocumentFile, DocumentFile]:
    """(the PDF, the text file); an async channel calls this off the event loop."""
    name = file_stem(document)
    return (DocumentFile(f"{name}.pdf", document_pdf(document), "application/pdf"),
            DocumentFile(f"{name}.txt", document_text(document).encode("utf-8"),
                         "text/plain; charset=utf-8"))
