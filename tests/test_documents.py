"""The memory protocol handed back: text and PDF, fingerprints, `lotse verify`, nothing kept."""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter

from bot.cli import main
from bot.documents import (
    canonical,
    document_pdf,
    document_text,
    fingerprint,
    protocol_text,
    verify_bytes,
)
from bot.documents.text import RULE, grouped
from bot.engine.conversation import Document, Said, Start
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey, KeyHasher
from storage import StateStore

from .helpers import NOW, Talk, bundle_of, on_disk

PROTOCOL = """
flow: protocol
version: 1
title: {de: Gedächtnisprotokoll, en: Memory protocol}
start: when
nodes:
  when:
    input: {de: Wann ist es passiert?, en: When did it happen?}
    type: date
    slot: incident_date
    optional: true
    next: place
  place:
    input: {de: Wo war das?, en: Where was it?}
    slot: place
    optional: true
    next: words
  words:
    input: {de: Was wurde gesagt?, en: What was said?}
    slot: words
    optional: true
    next: witnesses
  witnesses:
    input: {de: Wer war dabei?, en: Who was there?}
    slot: witnesses
    optional: true
    next: feeling
  feeling:
    input: {de: Wie geht es Ihnen jetzt?, en: How do you feel now?}
    slot: feeling
    optional: true
    next: document
  document:
    document: {de: Gedächtnisprotokoll, en: Memory protocol}
    file: gedaechtnisprotokoll
    fields:
      - label: {de: Datum des Vorfalls, en: Date of the incident}
        slot: incident_date
      - label: {de: Ort, en: Place}
        slot: place
      - label: {de: Was gesagt wurde, en: What was said}
        slot: words
      - label: {de: Zeuginnen und Zeugen, en: Witnesses}
        slot: witnesses
      - label: {de: Wie es mir jetzt geht, en: How I feel now}
        slot: feeling
    erase: true
    next: done
  done:
    say: {de: Passen Sie auf sich auf., en: Take care.}
    end: true
"""

WORDS = "„Ich weiß, wo Ihr Auto steht.“ – und dann: Sie zahlen 250 € dafür!"
PLACE = "Bürgerbüro, Obere Königsstraße 8"
WITNESSES = "Frau Öztürk (Tel. 0561 787-1234)\nHerr Weiß, Hausmeister"
ANSWERS = ["gestern", PLACE, WORDS, WITNESSES, "überspringen"]


def protocol_document(tmp_path: Path, answers: list[str] = ANSWERS,
                      lang: str = "de") -> Document:
    talk = Talk(bundle_of(tmp_path, PROTOCOL), lang=lang)
    for answer in answers:
        talk.send(answer)
    documents = [o for o in talk.outputs if isinstance(o, Document)]
    assert len(documents) == 1
    return documents[0]


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def delivered(tmp_path: Path, document: Document) -> tuple[Path, Path]:
    txt, pdf = tmp_path / "protokoll.txt", tmp_path / "protokoll.pdf"
    txt.write_text(document_text(document), encoding="utf-8")
    pdf.write_bytes(document_pdf(document))
    return txt, pdf


def verify(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["verify", str(path)])
    return result.exit_code, result.output


# --- the text file -------------------------------------------------------------------------


def test_the_text_file_holds_the_answers_the_time_and_the_fingerprint(tmp_path: Path) -> None:
    document = protocol_document(tmp_path)
    text = document_text(document)
    assert text.startswith("Gedächtnisprotokoll\nErstellt am 25.11.2026 um 11:30 Uhr "
                           "(UTC+01:00)\n")
    assert "Datum des Vorfalls:\n  24.11.2026\n" in text
    assert f"Was gesagt wurde:\n  {WORDS}\n" in text
    assert "Zeuginnen und Zeugen:\n  Frau Öztürk (Tel. 0561 787-1234)\n  Herr Weiß" in text
    body, footer = text.split(f"\n{RULE}\n")
    assert grouped(fingerprint(body)) in footer
    assert "sicheren Ort" in footer and "lotse verify" in footer


def test_skipped_questions_are_left_out(tmp_path: Path) -> None:
    document = protocol_document(tmp_path)
    assert [label for label, _ in document.fields] == [
        "Datum des Vorfalls", "Ort", "Was gesagt wurde", "Zeuginnen und Zeugen"]
    for data in (document_text(document), pdf_text(document_pdf(document))):
        assert "Wie es mir jetzt geht" not in data and "überspringen" not in data


def test_english_documents_use_english_words_and_dates(tmp_path: Path) -> None:
    document = protocol_document(tmp_path, ["yesterday", "Town hall", "skip", "skip", "skip"],
                                 lang="en")
    text = document_text(document)
    assert text.startswith("Memory protocol\nCreated on 25 November 2026 at 11:30 (UTC+01:00)")
    assert "Date of the incident:\n  24 November 2026" in text
    assert "SHA-256 fingerprint of the text above the line:" in text
    assert "What was said" not in text
    assert verify_bytes(document_pdf(document)).ok


def test_summer_time_is_printed_with_its_offset() -> None:
    summer = Document("Protokoll", "p", (("Ort", "Kassel"),),
                      dt.datetime(2026, 7, 1, 8, 5, tzinfo=dt.UTC), "de")
    assert "Erstellt am 01.07.2026 um 10:05 Uhr (UTC+02:00)" in protocol_text(summer)


# --- the PDF -------------------------------------------------------------------------------


def test_the_pdf_shows_the_answers_with_umlauts_intact_and_the_fingerprint(
        tmp_path: Path) -> None:
    document = protocol_document(tmp_path)
    data = document_pdf(document)
    text = pdf_text(data)
    for expected in ("Gedächtnisprotokoll", "Erstellt am 25.11.2026 um 11:30 Uhr", PLACE,
                     "„Ich weiß, wo Ihr Auto steht.“", "250 €", "Frau Öztürk", "Herr Weiß",
                     grouped(fingerprint(protocol_text(document))), "Seite 1 von 1"):
        assert expected in text, expected
    assert squash(WORDS) in squash(text)  # line breaks are the PDF's own
    reader = PdfReader(io.BytesIO(data))
    assert reader.metadata is not None and reader.metadata.title == "Gedächtnisprotokoll"
    fonts = {str(f.get_object()["/BaseFont"]) for page in reader.pages
             for f in page["/Resources"]["/Font"].values()}
    assert all("DejaVuSans" in name for name in fonts)  # embedded, nothing left to the viewer
    assert reader.attachments["gedaechtnisprotokoll.txt"] == [
        document_text(document).encode("utf-8")]


def test_a_long_protocol_breaks_into_numbered_pages_and_still_verifies() -> None:
    story = "\n\n".join(f"Absatz {i}: Er kam näher und sagte etwas über meine Familie. " * 4
                        for i in range(40))
    document = Document("Gedächtnisprotokoll", "g", (("Was ist passiert?", story),), NOW, "de")
    data = document_pdf(document)
    pages = PdfReader(io.BytesIO(data)).pages
    assert len(pages) >= 3
    assert "Seite 1 von" in pages[0].extract_text()
    assert verify_bytes(data).ok


def test_decomposed_umlauts_from_a_mac_clipboard_verify_too() -> None:
    nfd = "Gedächtnisprotokoll".replace("ä", "a\u0308")
    document = Document(nfd, "p", (("Name", "Mu\u0308ller, Go\u0308tz"),), NOW, "de")
    assert verify_bytes(document_text(document).encode("utf-8")).ok
    data = document_pdf(document)
    assert verify_bytes(data).ok
    assert "Müller, Götz" in pdf_text(data)


def test_characters_the_font_lacks_do_not_break_the_check() -> None:
    odd = "Er schrieb 中文 und 𝄞, dazu\ttabs, ein weiches Trenn\u00adzeichen und {nb}"
    document = Document("Protokoll", "p", (("Nachricht", odd), ("Emoji", "😡🖕")), NOW, "de")
    data = document_pdf(document)
    assert verify_bytes(data).ok
    assert "{nb}" in pdf_text(data)  # no page-count placeholder can be typed into a document


# --- lotse verify ----------------------------------------------------------------------------


def test_verify_accepts_both_files_as_delivered(tmp_path: Path) -> None:
    txt, pdf = delivered(tmp_path, protocol_document(tmp_path))
    for path in (txt, pdf):
        code, output = verify(path)
        assert code == 0, output
        assert "fingerprint OK" in output


def test_verify_rejects_a_text_file_with_one_character_changed(tmp_path: Path) -> None:
    txt, _ = delivered(tmp_path, protocol_document(tmp_path))
    changed = txt.read_text(encoding="utf-8").replace("Auto steht", "Auto stand", 1)
    assert changed != txt.read_text(encoding="utf-8")
    copy = tmp_path / "copy.txt"
    copy.write_text(changed, encoding="utf-8")
    code, output = verify(copy)
    assert code == 1 and "fingerprint does not match" in output
    one_char = txt.read_text(encoding="utf-8").replace("Öztürk", "Özturk", 1)
    copy.write_text(one_char, encoding="utf-8")
    assert verify(copy)[0] == 1


def test_verify_survives_what_editors_do_to_line_ends(tmp_path: Path) -> None:
    txt, _ = delivered(tmp_path, protocol_document(tmp_path))
    text = txt.read_text(encoding="utf-8")
    windows = tmp_path / "windows.txt"
    windows.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "  \r\n").encode("utf-8"))
    assert verify(windows)[0] == 0


def _tounicode(font: object) -> dict[str, bytes]:
    """char -> 2-byte glyph code, from a font's ToUnicode map (fpdf2 writes bfchar pairs)."""
    cmap = font["/ToUnicode"].get_object().get_data().decode("ascii")  # type: ignore[index]
    codes = {}
    for code, uni in re.findall(r"<([0-9A-F]{4})> <([0-9A-F]{4,8})>", cmap):
        codes[bytes.fromhex(uni).decode("utf-16-be")] = bytes.fromhex(code)
    return codes


def _escaped(raw: bytes) -> bytes:
    """How fpdf2 writes bytes inside a PDF string literal."""
    return (raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
            .replace(b"\r", b"\\r"))


def change_on_page(data: bytes, old: str, new: str) -> bytes:
    """The PDF with the shown text `old` replaced by `new` (same length, glyphs in the subset)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    page = writer.pages[0]
    contents = page.get_contents()
    assert contents is not None
    stream = contents.get_data()
    for font in page["/Resources"]["/Font"].values():
        codes = _tounicode(font.get_object())
        if all(ch in codes for ch in old + new):
            before = _escaped(b"".join(codes[ch] for ch in old))
            after = _escaped(b"".join(codes[ch] for ch in new))
            if stream.count(before) == 1:
                contents.set_data(stream.replace(before, after))
                page.replace_contents(contents)
                out = io.BytesIO()
                writer.write(out)
                return out.getvalue()
    raise AssertionError(f"{old!r} not found once on the first page")


def change_attachment(data: bytes, old: str, new: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    names = writer.root_object["/Names"]["/EmbeddedFiles"]["/Names"]
    stream = names[1].get_object()["/EF"]["/F"].get_object()
    text = stream.get_data().decode("utf-8")
    assert old in text
    stream.set_data(text.replace(old, new, 1).encode("utf-8"))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_verify_rejects_a_pdf_with_one_character_changed_on_the_page(tmp_path: Path) -> None:
    _, pdf = delivered(tmp_path, protocol_document(tmp_path))
    changed = change_on_page(pdf.read_bytes(), "Auto", "Aute")
    assert "Aute steht" in pdf_text(changed)  # the forgery is what a reader would see
    copy = tmp_path / "copy.pdf"
    copy.write_bytes(changed)
    code, output = verify(copy)
    assert code == 1 and "fingerprint does not match" in output
    assert "pages differs" in output


def test_verify_rejects_a_pdf_whose_embedded_text_was_changed(tmp_path: Path) -> None:
    _, pdf = delivered(tmp_path, protocol_document(tmp_path))
    copy = tmp_path / "copy.pdf"
    copy.write_bytes(change_attachment(pdf.read_bytes(), "Öztürk", "Öztürc"))
    code, output = verify(copy)
    assert code == 1 and "embedded text was changed" in output


def test_verify_rejects_a_pdf_with_a_changed_fingerprint(tmp_path: Path) -> None:
    document = protocol_document(tmp_path)
    data = document_pdf(document)
    digest = fingerprint(protocol_text(document))
    other = "0" if digest[0] != "0" else "1"
    copy = tmp_path / "copy.pdf"
    copy.write_bytes(change_on_page(data, digest[:8], other + digest[1:8]))
    assert verify(copy)[0] == 1


def test_verify_calls_a_file_it_cannot_read_unreadable(tmp_path: Path) -> None:
    cases = {
        "missing.txt": None,
        "random.bin": bytes(range(256)) * 4,
        "letter.txt": b"Sehr geehrte Damen und Herren,\nkein Fingerabdruck hier.\n",
        "broken.pdf": b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer garbage",
    }
    for name, data in cases.items():
        path = tmp_path / name
        if data is not None:
            path.write_bytes(data)
        code, output = verify(path)
        assert code == 2, (name, output)
        assert "cannot check" in output and "Traceback" not in output


def test_a_pdf_stripped_of_its_embedded_text_is_not_accepted(tmp_path: Path) -> None:
    document = protocol_document(tmp_path)
    reader = PdfReader(io.BytesIO(document_pdf(document)))
    writer = PdfWriter()
    for page in reader.pages:
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    verdict = verify_bytes(out.getvalue())
    assert not verdict.ok and "no longer carries" in verdict.reason


def test_verify_as_a_process_exits_with_the_documented_codes(tmp_path: Path) -> None:
    txt, _ = delivered(tmp_path, protocol_document(tmp_path))
    bad = tmp_path / "bad.txt"
    bad.write_text(txt.read_text(encoding="utf-8").replace("Weiß", "Weis", 1), encoding="utf-8")
    codes = []
    for path in (txt, bad, tmp_path / "nowhere.pdf"):
        run = subprocess.run([sys.executable, "-m", "bot", "verify", str(path)],
                             capture_output=True, text=True, timeout=60)
        assert "Traceback" not in run.stderr
        codes.append(run.returncode)
    assert codes == [0, 1, 2]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=30), st.text(max_size=200)),
                min_size=1, max_size=4))
def test_any_answers_give_a_text_file_that_verifies(fields: list[tuple[str, str]]) -> None:
    fields = [(label, value) for label, value in fields if label.strip() and value.strip()]
    document = Document("Protokoll", "p", tuple(fields), NOW, "de")
    text = document_text(document)
    assert verify_bytes(text.encode("utf-8")).ok
    assert canonical(canonical(text)) == canonical(text)


@settings(max_examples=8, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=300))
@example("؟ـ")  # found by hypothesis: an Arabic run comes back from the page right to left
@example("Er sagte: مرحبا بالعالم 123, dann ging er.")
def test_any_answer_gives_a_pdf_that_verifies(value: str) -> None:
    if not value.strip():
        return
    document = Document("Protokoll", "p", (("Antwort", value),), NOW, "de")
    assert verify_bytes(document_pdf(document)).ok


# --- nothing is kept -------------------------------------------------------------------------


TYPED = ["Rathaus-Foyer-Kanarienvogel", "Worte-Kanarienvogel-Öl", "Zeuge-Kanarienvogel-Weiß",
         "Gefühl-Kanarienvogel"]


async def deliver_through_the_service(tmp_path: Path) -> tuple[StateStore, Path]:
    """A whole protocol through the real service and a file store; returns the open store."""
    bundle = bundle_of(tmp_path, PROTOCOL)
    path = tmp_path / "data" / "state.db"
    store = StateStore(path)
    svc = ConversationService(bundle, store, KeyHasher(b"k" * 32), lambda: NOW)
    key = ConversationKey("test", "employee")
    await svc.handle(key, Start(flow="protocol"))
    outputs: tuple[object, ...] = ()
    for text in ["gestern", *TYPED]:
        outputs = await svc.handle(key, Said(text))
    documents = [o for o in outputs if isinstance(o, Document)]
    assert documents and "Worte-Kanarienvogel-Öl" in documents[0].fields[2][1]
    return store, path


def assert_no_typed_text(raw: bytes) -> None:
    assert b"Kanarienvogel" not in raw
    for text in TYPED:
        assert text.encode("utf-8") not in raw


async def test_after_delivery_and_shutdown_no_file_holds_the_typed_text(tmp_path: Path) -> None:
    store, path = await deliver_through_the_service(tmp_path)
    store.close()
    assert_no_typed_text(on_disk(path.parent))


async def test_right_after_delivery_neither_database_nor_wal_holds_the_typed_text(
        tmp_path: Path) -> None:
    store, path = await deliver_through_the_service(tmp_path)
    try:
        wal = path.with_name("state.db-wal")
        raw = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        assert_no_typed_text(raw)  # scanned while the service runs, not only after a close
    finally:
        store.close()


@pytest.mark.parametrize("lang", ["de", "en"])
def test_console_saves_pdf_and_text_and_prints_both_paths(tmp_path: Path, lang: str) -> None:
    answers = ["gestern" if lang == "de" else "yesterday", "Kassel", WORDS,
               "überspringen" if lang == "de" else "skip", "überspringen" if lang == "de"
               else "skip"]
    run = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--flows", str(_flow_file(tmp_path)),
         "--lang", lang, "--data-dir", str(tmp_path / "data"), "--out-dir",
         str(tmp_path / "docs")],
        input="".join(f"{a}\n" for a in answers), capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    pdfs = list((tmp_path / "docs").glob("gedaechtnisprotokoll-*.pdf"))
    txts = list((tmp_path / "docs").glob("gedaechtnisprotokoll-*.txt"))
    assert len(pdfs) == 1 and len(txts) == 1
    assert str(pdfs[0]) in run.stdout and str(txts[0]) in run.stdout
    assert verify_bytes(pdfs[0].read_bytes()).ok and verify_bytes(txts[0].read_bytes()).ok
    assert "Auto steht" in pdf_text(pdfs[0].read_bytes())


def _flow_file(tmp_path: Path) -> Path:
    path = tmp_path / "protocol.yaml"
    path.write_text(PROTOCOL, encoding="utf-8")
    return path


def test_the_fonts_and_their_license_ship_inside_the_package() -> None:
    import bot
    import bot.documents.pdf as pdf

    assert pdf.FONTS.is_relative_to(Path(bot.__file__).parent)
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "LICENSE-DejaVu.txt"):
        assert (pdf.FONTS / name).is_file()
    assert "Bitstream" in (pdf.FONTS / "LICENSE-DejaVu.txt").read_text(encoding="utf-8")


LOOP_STAYS_FREE = """
import asyncio, datetime as dt, sys, threading
from bot.channels.document_files import document_files
from bot.engine.conversation import Document

importing = {}
def watch(event, args):
    if event == "import" and args[0] == "fpdf":
        importing.setdefault("fpdf", threading.current_thread() is threading.main_thread())
sys.addaudithook(watch)
assert "fpdf" not in sys.modules
document = Document("Protokoll", "p", (("Ort", "Kassel"),),
                    dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC), "de")
pdf, txt = asyncio.run(document_files(document))
assert pdf.data.startswith(b"%PDF") and txt.filename.endswith(".txt")
where = importing.get("fpdf")  # None: never imported here, only in the render worker
print("on the event loop's thread" if where else
      "in the worker process" if where is None else "in a worker thread")
"""


def test_a_channel_builds_its_first_document_without_holding_the_event_loop() -> None:
    """fpdf2 takes half a second to import: on the event loop, every conversation on every
    channel would wait for the first document after a start. Documents are rendered in one
    worker process (#26, item 13), so the main process never imports it at all."""
    done = subprocess.run([sys.executable, "-c", LOOP_STAYS_FREE], capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "in the worker process"
