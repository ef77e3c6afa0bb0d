"""The terminal channel: `lotse chat`. Numbered choices, works with piped input too.

The conversation is keyed by the local user name, so a chat closed with Ctrl-C continues in
the next `lotse chat`.
"""

from __future__ import annotations

import getpass
import shutil
import sys
import textwrap
from pathlib import Path
from typing import TextIO

from bot.channels.plaintext import for_typing, render
from bot.engine.conversation import Document, Ended, Output, Resume, Said, Start
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey
from storage.private_file import write_private


def console_key() -> ConversationKey:
    return ConversationKey("console", getpass.getuser())


class Console:
    def __init__(self, service: ConversationService, key: ConversationKey, out_dir: Path,
                 stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        self.service = service
        self.key = key
        self.out_dir = out_dir
        self.stdin = stdin or sys.stdin  # looked up now, not at import: callers may swap them
        self.stdout = stdout or sys.stdout
        self.interactive = self.stdin.isatty() and self.stdout.isatty()
        self.lang = service.bundle.default_language
        self.width = min(shutil.get_terminal_size((88, 24)).columns, 100) - 2

    async def run(self, lang: str | None, flow: str | None) -> int:
        if lang:
            self.lang = lang
        if flow is None and await self.service.has_conversation(self.key):
            first = await self.service.handle(self.key, Resume(lang))
        else:
            first = await self.service.handle(self.key, Start(lang, flow))
        if self.show(first):
            return 0
        while True:
            try:
                line = self.read()
            except (EOFError, KeyboardInterrupt):
                line = None
            if line is None:
                self.pause()
                return 0
            if not line.strip():
                continue
            if self.show(await self.service.handle(self.key, Said(line))):
                return 0

    def pause(self) -> None:
        """Say that the conversation is kept and how to go on (Ctrl-D, Ctrl-C)."""
        lang = self.service.language(self.key) or self.lang
        self.write("\n" + self.service.bundle.text("console.paused", lang))

    def read(self) -> str | None:
        if self.interactive:
            return input("> ")
        line = self.stdin.readline()
        if not line:
            return None
        line = line.rstrip("\r\n")
        self.write(f"> {line}")
        return line

    def show(self, outputs: tuple[Output, ...]) -> bool:
        """Print the outputs; True when the conversation ended."""
        for output in outputs:
            if isinstance(output, Document):
                self.lang = output.lang
                pdf, txt = self.save(output)
                saved = self.service.bundle.text("console.document_saved", self.lang)
                self.write(saved.format(pdf=pdf, txt=txt))
                continue
            if isinstance(output, Ended):
                return True
            text = render(for_typing(output, self.service.bundle))
            if text:
                self.write(self.wrap(text) + "\n")
        return False

    def save(self, document: Document) -> tuple[Path, Path]:
        """Write the PDF and the text file side by side; returns (pdf, txt)."""
        from bot.documents.files import document_files

        self.out_dir.mkdir(parents=True, exist_ok=True)
        pdf, txt = document_files(document)
        for file in (txt, pdf):
            write_private(self.out_dir / file.filename, file.data)
        return self.out_dir / pdf.filename, self.out_dir / txt.filename

    def wrap(self, text: str) -> str:
        lines = []
        for line in text.splitlines():
            indent = len(line) - len(line.lstrip())
            if line.lstrip().startswith(("- ", "• ", "[")):
                indent += 2
            lines.append(textwrap.fill(line, self.width, subsequent_indent=" " * indent,
                                       break_on_hyphens=False) if line else "")
        return "\n".join(lines)

    def write(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()
