"""The Matrix channel against a real Synapse on 127.0.0.1, a matrix-nio client as the employee.

One homeserver for the module (fresh users per test); the homeserver-restart test starts its
own. The shipped flows, the real state store in a temporary folder. Every wait is on a
condition, bounded by a timeout; nothing asserts on time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from nio import (  # type: ignore[import-untyped]
    AsyncClient,
    AsyncClientConfig,
    MegolmEvent,
    RedactedEvent,
    RoomCreateResponse,
    RoomEncryptedFile,
    RoomMessageFile,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)
from nio.crypto import decrypt_attachment  # type: ignore[import-untyped]

from bot.channels.matrix import TOKEN_FILE, MatrixChannel
from bot.channels.matrix_events import said_text
from bot.channels.matrix_login import SESSION_FILE, quiet_nio
from bot.channels.matrix_render import joined, part, question_part
from bot.channels.plaintext import tel_uri
from bot.config import MatrixSettings
from bot.engine.conversation import Option, Question, Say
from bot.flows.model import Bundle
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey, KeyHasher
from storage import StateStore

from .helpers import Q_DANGER, Q_HOW, Q_INJURED, Q_PROTOCOL, Q_WHAT, Q_WHEN, Q_WHO, SECRET
from .synapse import Account, Synapse

TIMEOUT = 60.0

RESUMED = "Hier waren wir stehen geblieben"


# --- the homeserver and the bot ---------------------------------------------------------------


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    server = Synapse(tmp_path_factory.mktemp("synapse"))
    server.start()
    yield server
    server.stop()


def new_service(bundle: Bundle, data: Path) -> ConversationService:
    return ConversationService(bundle, StateStore(data / "state.db"), KeyHasher(SECRET))


def bot_settings(synapse: Synapse, bot: Account, **extra: Any) -> MatrixSettings:
    return MatrixSettings(synapse.url, bot.user_id, password=bot.password, **extra)


@asynccontextmanager
async def running(service: ConversationService, settings: MatrixSettings,
                  data: Path) -> AsyncIterator[MatrixChannel]:
    channel = MatrixChannel(service, settings, data, sync_timeout=5, max_retry_pause=0.5)
    await channel.start()
    try:
        yield channel
    finally:
        await channel.stop()


# --- the employee -----------------------------------------------------------------------------


@dataclass
class Seen:
    """A message as the employee's client shows it."""

    event_id: str
    sender: str
    body: str
    html: str
    encrypted: bool
    source: dict[str, Any]
    file: bytes | None = None


class Employee:
    """A matrix-nio client with its own device and crypto store, syncing in the background."""

    def __init__(self, synapse: Synapse, account: Account, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.account = account
        self.client = AsyncClient(synapse.url, account.user_id, account.device_id,
                                  store_path=str(folder),
                                  config=AsyncClientConfig(encryption_enabled=True,
                                                           store_sync_tokens=True,
                                                           max_timeout_retry_wait_time=0.5))
        self.client.restore_login(account.user_id, account.device_id, account.access_token)
        self.seen: list[Seen] = []
        self.undecryptable = 0
        self.room_id = ""
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.client.add_event_callback(self._on_text, RoomMessageText)
        self.client.add_event_callback(self._on_file, (RoomMessageFile, RoomEncryptedFile))
        self.client.add_event_callback(self._on_megolm, MegolmEvent)
        self.client.add_response_callback(self._on_sync, SyncResponse)

    async def start(self) -> None:
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        await self.client.sync(timeout=0, full_state=True)
        self._task = asyncio.create_task(self.client.sync_forever(timeout=1000))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.client.close()
        self.client.store.database.close()

    def _note(self, seen: Seen) -> None:
        self.seen.append(seen)
        self._changed.set()

    async def _on_text(self, room: Any, event: RoomMessageText) -> None:
        if event.sender != self.account.user_id:
            self._note(Seen(event.event_id, event.sender, event.body,
                            event.formatted_body or "", event.decrypted, event.source))

    async def _on_file(self, room: Any, event: Any) -> None:
        answer = await self.client.download(event.url)
        data = answer.body
        if isinstance(event, RoomEncryptedFile):
            data = decrypt_attachment(data, event.key["k"], event.hashes["sha256"], event.iv)
        self._note(Seen(event.event_id, event.sender, event.body, "", event.decrypted,
                        event.source, data))

    async def _on_sync(self, response: SyncResponse) -> None:
        self._changed.set()  # room state may have changed: conditions are checked again

    async def _on_megolm(self, room: Any, event: MegolmEvent) -> None:
        self.undecryptable += 1
        self._changed.set()

    async def wait_for(self, condition: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
        async with asyncio.timeout(timeout):
            while not (result := condition()):
                self._changed.clear()
                await self._changed.wait()
        return result

    async def open_dm(self, bot: str, encrypted: bool) -> str:
        state = [{"type": "m.room.encryption", "state_key": "",
                  "content": {"algorithm": "m.megolm.v1.aes-sha2"}}] if encrypted else []
        created = await self.client.room_create(is_direct=True, invite=[bot],
                                                preset=_trusted_private_chat(),
                                                initial_state=state)
        assert isinstance(created, RoomCreateResponse), created
        self.room_id = created.room_id
        return str(created.room_id)

    async def send(self, text: str, room_id: str | None = None) -> str:
        room = room_id or self.room_id
        await self.wait_for(lambda: room in self.client.rooms)
        sent = await self.client.room_send(room, "m.room.message",
                                           {"msgtype": "m.text", "body": text},
                                           ignore_unverified_devices=True)
        assert isinstance(sent, RoomSendResponse), sent
        return str(sent.event_id)

    def after(self, index: int) -> list[Seen]:
        return self.seen[index:]

    async def said(self, text: str, since: int = 0, timeout: float = TIMEOUT) -> Seen:
        """Wait for a message from the bot that contains `text`, after the first `since`."""
        def found() -> Seen | None:
            return next((s for s in self.seen[since:] if text in s.body), None)
        result: Seen = await self.wait_for(found, timeout)
        return result

    async def answer(self, question: str, reply: str) -> Seen:
        """Wait until `question` was asked, answer `reply`; returns the question."""
        asked = await self.said(question)
        await self.send(reply)
        return asked

    async def write(self, text: str, expect: str) -> Seen:
        since = len(self.seen)
        await self.send(text)
        return await self.said(expect, since)


def _trusted_private_chat() -> Any:
    from nio.api import RoomPreset  # type: ignore[import-untyped]

    return RoomPreset.trusted_private_chat


@asynccontextmanager
async def employee(synapse: Synapse, folder: Path,
                   account: Account | None = None) -> AsyncIterator[Employee]:
    person = Employee(synapse, account or synapse.register(), folder)
    await person.start()
    try:
        yield person
    finally:
        await person.close()


@asynccontextmanager
async def lotse_and_anna(synapse: Synapse, shipped: Bundle, tmp_path: Path
                         ) -> AsyncIterator[tuple[Account, Employee]]:
    """Lotse running on a new bot account, and Anna's client beside it."""
    bot = synapse.register()
    async with running(new_service(shipped, tmp_path), bot_settings(synapse, bot), tmp_path), \
            employee(synapse, tmp_path / "anna") as anna:
        yield bot, anna


# --- the conversation -------------------------------------------------------------------------


PROTOCOL_BY_TEXT = [
    "gegen 10:30 Uhr",
    "Bürgerbüro Mitte, Schalter 3",
    "Er wollte nicht warten und wurde laut.",
    "Ich weiß, wo Ihr Auto steht.",
    "überspringen", "überspringen", "überspringen", "überspringen", "überspringen",
    "überspringen",
]


async def first_questions(anna: Employee) -> None:
    await anna.answer(Q_DANGER, "Nein")
    await anna.answer(Q_WHO, "1")  # it happened to me, by number
    await anna.answer(Q_INJURED, "nein")


async def whole_conversation(anna: Employee) -> list[Seen]:
    """From the greeting to the document; returns the two files."""
    await first_questions(anna)
    await anna.answer(Q_WHAT, "Drohung")
    await anna.answer(Q_HOW, "Persönlich")
    await anna.write("heute", Q_PROTOCOL)
    await anna.answer(Q_PROTOCOL, "Ja")
    for text in PROTOCOL_BY_TEXT:
        since = len(anna.seen)
        await anna.send(text)
        await anna.wait_for(lambda s=since: len(anna.seen) > s)  # type: ignore[misc]
    await anna.send("1")  # the review: everything is right
    files: list[Seen] = await anna.wait_for(
        lambda: len(f := [s for s in anna.seen if s.file is not None]) >= 2 and f)
    return files


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_a_whole_conversation_in_a_direct_message_ends_with_the_document_as_files(
        shipped: Bundle, tmp_path: Path, synapse: Synapse, encrypted: bool) -> None:
    bot = synapse.register()
    service = new_service(shipped, tmp_path)
    async with running(service, bot_settings(synapse, bot), tmp_path), \
            employee(synapse, tmp_path / "anna") as anna:
        await anna.open_dm(bot.user_id, encrypted)
        greeting = await anna.said(Q_DANGER)  # the bot joins and greets by itself
        files = await whole_conversation(anna)
    # The question: HTML with a numbered list, a plain body with the numbers too.
    assert "<ol>" in greeting.html and "<li>Nein</li>" in greeting.html
    assert "1)" in greeting.body and "die Nummer oder die Worte einer Antwort" in greeting.body
    assert "Tippen Sie" not in greeting.body  # no buttons to tap on Matrix
    assert all(s.source["content"].get("format") == "org.matrix.custom.html"
               for s in anna.seen if s.file is None)
    assert all(s.encrypted == encrypted for s in anna.seen)
    assert anna.undecryptable == 0
    pdf, txt = sorted(files, key=lambda s: s.body)
    assert pdf.body.startswith("gedaechtnisprotokoll-") and pdf.body.endswith(".pdf")
    assert txt.body.endswith(".txt")
    assert pdf.file is not None and pdf.file.startswith(b"%PDF")
    assert txt.file is not None and "Ich weiß, wo Ihr Auto steht." in txt.file.decode()
    assert ("file" in pdf.source["content"]) == encrypted  # encrypted upload in an e2e room


async def test_an_english_hello_gets_english(
        shipped: Bundle, tmp_path: Path, synapse: Synapse) -> None:
    async with lotse_and_anna(synapse, shipped, tmp_path) as (bot, anna):
        await anna.open_dm(bot.user_id, encrypted=False)
        greeting = await anna.said(Q_DANGER)  # German: Matrix names no language
        await anna.send("Hello")
        english = await anna.said("Are you in danger right now?")
    assert "english" in greeting.body
    assert "in English" in english.body


async def test_emergency_contacts_come_with_tel_links(
        shipped: Bundle, tmp_path: Path, synapse: Synapse) -> None:
    async with lotse_and_anna(synapse, shipped, tmp_path) as (bot, anna):
        await anna.open_dm(bot.user_id, encrypted=False)
        await anna.answer(Q_DANGER, "Ja")
        card = await anna.said("Polizei")
    assert '<a href="tel:110">110</a>' in card.html
    assert "110" in card.body


# --- restarts ---------------------------------------------------------------------------------


async def test_a_restart_mid_conversation_reuses_the_device_and_resumes_instead_of_guessing(
        shipped: Bundle, tmp_path: Path, synapse: Synapse) -> None:
    bot, admin = synapse.register(), synapse.register(admin=True)
    settings = bot_settings(synapse, bot)
    async with employee(synapse, tmp_path / "anna") as anna:
        async with running(new_service(shipped, tmp_path), settings, tmp_path):
            await anna.open_dm(bot.user_id, encrypted=True)
            await first_questions(anna)
            await anna.said(Q_WHAT)
        device = json.loads((tmp_path / "matrix" / SESSION_FILE).read_text())["device_id"]
        devices = {d["device_id"] for d in synapse.devices(admin, bot.user_id)}
        token = (tmp_path / "matrix" / TOKEN_FILE).read_text()
        await anna.send("5")  # "physical attack", written while Lotse was down
        since = len(anna.seen)
        async with running(new_service(shipped, tmp_path), settings, tmp_path):
            resumed = await anna.said(RESUMED, since)
            assert Q_WHAT in resumed.body  # the open question again, not an answer to "5"
            await anna.write("Drohung", Q_HOW)
        later = " ".join(s.body for s in anna.after(since))
    assert anna.after(since)[0] is resumed and "nicht verstanden" not in later
    assert all(s.encrypted for s in anna.seen) and anna.undecryptable == 0
    assert json.loads((tmp_path / "matrix" / SESSION_FILE).read_text())["device_id"] == device
    after = {d["device_id"] for d in synapse.devices(admin, bot.user_id)}
    assert after == devices and device in devices  # no new device for the restart
    assert (tmp_path / "matrix" / TOKEN_FILE).read_text() != token


async def test_after_a_homeserver_restart_the_conversation_goes_on(
        shipped: Bundle, tmp_path: Path, synapse: Synapse) -> None:
    """The module's homeserver is restarted (on the same port and database): a fresh one
    would cost its first start, and the tests run one after the other."""
    async with lotse_and_anna(synapse, shipped, tmp_path) as (bot, anna):
        await anna.open_dm(bot.user_id, encrypted=True)
        await first_questions(anna)
        await anna.said(Q_WHAT)
        try:
            await asyncio.to_thread(synapse.stop)
        finally:
            await asyncio.to_thread(synapse.start)
        await anna.write("Drohung", Q_HOW)
        await anna.write("Persönlich", Q_WHEN)
    assert anna.undecryptable == 0


# --- rooms ------------------------------------------------------------------------------------


async def test_in_a_group_room_it_says_why_and_leaves_keeping_nothing(
        shipped: Bundle, tmp_path: Path, synapse: Synapse) -> None:
    bot, colleague = synapse.register(), synapse.register()
    service = new_service(shipped, tmp_path)
    async with running(service, bot_settings(synapse, bot), tmp_path), \
            employee(synapse, tmp_path / "anna") as anna:
        created = await anna.client.room_create(name="Team Bürgerbüro",
                                                invite=[colleague.user_id, bot.user_id])
        assert isinstance(created, RoomCreateResponse)
        note = await anna.said("nur im Direktchat")
        room = anna.client.rooms[created.room_id]
        await anna.wait_for(lambda: bot.user_id not in room.users)
        await anna.send("Ich wurde bedroht", created.room_id)
        # A direct room that a third person joins later is left too.
        await anna.open_dm(bot.user_id, encrypted=False)
        await anna.said(Q_DANGER)
        await anna.client.room_invite(anna.room_id, colleague.user_id)
        await anna.said("nur im Direktchat", anna.seen.index(note) + 1)
        assert not await service.has_conversation(ConversationKey("matrix", colleague.user_id))
    notes = [s for s in anna.seen if "Direktchat" in s.body]
    assert len(notes) == 2 and "<p>" in notes[0].html


async def test_invites_from_other_homeservers_are_declined_when_servers_are_listed(
        shipped: Bundle, tmp_path: Path, synapse: Synapse) -> None:
    bot = synapse.register()
    settings = bot_settings(synapse, bot, allowed_servers=("stadt.example",))
    async with running(new_service(shipped, tmp_path), settings, tmp_path), \
            employee(synapse, tmp_path / "anna") as anna:
        room_id = await anna.open_dm(bot.user_id, encrypted=False)
        await anna.wait_for(lambda: room_id in anna.client.rooms)
        room = anna.client.rooms[room_id]
        await anna.wait_for(lambda: bot.user_id not in room.users)
    assert anna.seen == []


# --- what it cannot read ----------------------------------------------------------------------


async def test_a_message_it_cannot_decrypt_gets_a_request_to_send_it_again(
        shipped: Bundle, tmp_path: Path, synapse: Synapse) -> None:
    async with lotse_and_anna(synapse, shipped, tmp_path) as (bot, anna):
        await anna.open_dm(bot.user_id, encrypted=True)
        await anna.said(Q_DANGER)
        # Anna's client withholds the room key from Lotse's device: Lotse cannot read this.
        olm = anna.client.olm
        bot_device = next(iter(anna.client.device_store.active_user_devices(bot.user_id)))
        anna.client.blacklist_device(bot_device)
        olm.outbound_group_sessions.pop(anna.room_id, None)
        since = len(anna.seen)
        await anna.send("Nein")
        again = await anna.said("noch einmal", since)
        assert "nicht entschlüsseln" in again.body
        anna.client.unblacklist_device(bot_device)
        olm.outbound_group_sessions.pop(anna.room_id, None)
        await anna.write("Nein", Q_WHO)


async def test_pictures_and_files_get_a_note_that_only_text_is_read(
        shipped: Bundle, tmp_path: Path, synapse: Synapse) -> None:
    async with lotse_and_anna(synapse, shipped, tmp_path) as (bot, anna):
        await anna.open_dm(bot.user_id, encrypted=False)
        await anna.said(Q_DANGER)
        since = len(anna.seen)
        await anna.client.room_send(anna.room_id, "m.room.message", {
            "msgtype": "m.image", "body": "foto.jpg", "url": "mxc://lotse.test/nothing"})
        await anna.said("nur Text", since)
        await anna.write("Nein", Q_WHO)  # the question is still open


# --- robustness -------------------------------------------------------------------------------


async def test_rate_limited_sends_are_retried_and_every_reply_arrives(
        shipped: Bundle, tmp_path: Path, synapse: Synapse,
        caplog: pytest.LogCaptureFixture) -> None:
    bot, admin = synapse.register(), synapse.register(admin=True)
    synapse.override_ratelimit(admin, bot.user_id, per_second=2, burst=1)
    async with running(new_service(shipped, tmp_path), bot_settings(synapse, bot), tmp_path), \
            employee(synapse, tmp_path / "anna") as anna:
        await anna.open_dm(bot.user_id, encrypted=False)
        await anna.said(Q_DANGER)
        since = len(anna.seen)
        with caplog.at_level(logging.WARNING, logger="nio"):
            for _ in range(3):
                await anna.send("hilfe")  # three answers at once: over the limit
            await anna.wait_for(lambda: len([s for s in anna.after(since)
                                             if "Diese Wörter" in s.body]) == 3)
    assert any("429" in r.getMessage() for r in caplog.records)


async def test_forget_removes_the_conversation_from_the_room_too(
        shipped: Bundle, tmp_path: Path, synapse: Synapse) -> None:
    bot = synapse.register()
    service = new_service(shipped, tmp_path)
    async with running(service, bot_settings(synapse, bot), tmp_path), \
            employee(synapse, tmp_path / "anna") as anna:
        await anna.open_dm(bot.user_id, encrypted=True)
        await first_questions(anna)
        await anna.said(Q_WHAT)
        await anna.write("vergessen", "gelöscht")
        assert not await service.has_conversation(ConversationKey("matrix", anna.account.user_id))
        timeline = await anna.client.room_messages(anna.room_id, start="", limit=100)
    redacted = [e for e in timeline.chunk if isinstance(e, RedactedEvent)]
    assert len(redacted) >= 7  # four questions asked and three answers given
    with sqlite3.connect(tmp_path / "state.db") as db:
        assert db.execute("SELECT count(*) FROM conversations").fetchone() == (0,)


# --- lotse run --------------------------------------------------------------------------------


async def test_lotse_run_serves_matrix_from_the_environment_and_logs_no_ids(
        tmp_path: Path, synapse: Synapse) -> None:
    bot = synapse.register()
    env = {**os.environ, "LOTSE_MATRIX_HOMESERVER": synapse.url,
           "LOTSE_MATRIX_USER_ID": bot.user_id, "LOTSE_MATRIX_PASSWORD": bot.password,
           "LOTSE_SECRET": "x" * 32, "LOTSE_DATA_DIR": str(tmp_path),
           "LOTSE_WEB_ENABLED": "false", "LOTSE_LOG_LEVEL": "debug"}
    async with employee(synapse, tmp_path / "anna") as anna:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=env, stderr=asyncio.subprocess.PIPE)
        try:
            await anna.open_dm(bot.user_id, encrypted=True)  # accepted once it is up
            await anna.answer(Q_DANGER, "Nein")
            await anna.said(Q_WHO)
        finally:
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                _, stderr = await process.communicate()
    log = stderr.decode()
    assert process.returncode == 0, log
    assert bot.password not in log and "Nein" not in log
    assert anna.account.user_id not in log and bot.user_id not in log and anna.room_id not in log
    assert (tmp_path / "matrix" / SESSION_FILE).stat().st_mode & 0o077 == 0


async def test_when_its_device_was_logged_out_it_logs_in_as_a_new_one_and_still_answers(
        shipped: Bundle, tmp_path: Path, synapse: Synapse) -> None:
    bot = synapse.register()
    settings = bot_settings(synapse, bot)
    session = tmp_path / "matrix" / SESSION_FILE
    async with employee(synapse, tmp_path / "anna") as anna:
        async with running(new_service(shipped, tmp_path), settings, tmp_path):
            await anna.open_dm(bot.user_id, encrypted=True)
            await anna.said(Q_DANGER)
        old = json.loads(session.read_text())
        logout = httpx.post(f"{synapse.url}/_matrix/client/v3/logout", timeout=10,
                            headers={"Authorization": f"Bearer {old['access_token']}"})
        assert logout.status_code == 200
        async with running(new_service(shipped, tmp_path), settings, tmp_path):
            await anna.write("Nein", Q_WHO)
    assert json.loads(session.read_text())["device_id"] != old["device_id"]
    assert all(s.encrypted for s in anna.seen) and anna.undecryptable == 0


# --- rendering and reading, without a homeserver ----------------------------------------------


def test_phone_numbers_become_tel_uris() -> None:
    assert tel_uri("110") == "tel:110"
    assert tel_uri("+49 (0)561 787-0") == "tel:+495617870"
    assert tel_uri("0561 282070") == "tel:0561282070"
    assert tel_uri("0800 111 0 111, 0800 111 0 222") == "tel:08001110111"
    assert tel_uri("—") is None


def test_a_question_shows_numbered_choices_and_the_hint_for_typing() -> None:
    question = Question("Sind Sie <verletzt>?", "employee", "injured",
                        (Option(1, "yes", "Ja"), Option(2, "no", "Nein")), hint="Tippen Sie")
    shown = question_part(dataclasses.replace(question, hint="Antworten Sie mit der Nummer"))
    assert shown.html == ("<p>Sind Sie &lt;verletzt&gt;?</p><ol><li>Ja</li><li>Nein</li></ol>"
                          "<p><i>Antworten Sie mit der Nummer</i></p>")
    assert "1) Ja" in shown.body and "Tippen" not in shown.body


def test_long_output_is_cut_into_messages_that_fit_and_short_ones_are_joined() -> None:
    short = [part(Say(f"Satz {i}")) for i in range(3)]
    assert len(joined([p for p in short if p is not None])) == 1
    long = part(Say("\n".join(f"Zeile {i} " + "x" * 80 for i in range(300))))
    assert long is not None
    messages = joined([long], limit=6000)
    assert len(messages) > 1
    assert all(len(m.body) + len(m.html) <= 6000 for m in messages)
    assert "\n".join(m.body for m in messages).count("Zeile") == 300


def test_a_reply_is_read_without_the_quoted_text_and_an_edit_is_not_read() -> None:
    def text(content: dict[str, Any]) -> str | None:
        event = RoomMessageText.from_dict({
            "type": "m.room.message", "event_id": "$1", "sender": "@anna:lotse.test",
            "origin_server_ts": 1, "content": {"msgtype": "m.text", **content}})
        return said_text(event)

    assert text({"body": "Nein"}) == "Nein"
    assert text({"body": "> <@lotse:lotse.test> Sind Sie verletzt?\n\nNein",
                 "m.relates_to": {"m.in_reply_to": {"event_id": "$0"}}}) == "Nein"
    assert text({"body": "* Ja", "m.new_content": {"msgtype": "m.text", "body": "Ja"},
                 "m.relates_to": {"rel_type": "m.replace", "event_id": "$0"}}) is None


def test_matrix_ids_are_removed_from_nio_log_records(caplog: pytest.LogCaptureFixture) -> None:
    quiet_nio()
    logger = logging.getLogger("nio.crypto.log")
    with caplog.at_level(logging.WARNING, logger="nio"):
        logger.warning("Sharing key with %s in !abc:lotse.test", "@anna:stadt.example")
    assert caplog.records[-1].getMessage() == "Sharing key with <id> in <id>"


async def test_a_reminder_arrives_in_the_encrypted_direct_message_and_stop_ends_them(
        shipped: Bundle, tmp_path: Path, synapse: Synapse) -> None:
    import datetime as dt

    from bot.config import ReminderSettings
    from bot.service.reminders import ReminderScheduler
    from storage.reminder_store import ReminderStore

    bot = synapse.register()
    store = StateStore(tmp_path / "state.db")
    reminders = ReminderStore(store)
    service = ConversationService(shipped, store, KeyHasher(SECRET), reminders=reminders)
    async with running(service, bot_settings(synapse, bot), tmp_path) as channel, \
            employee(synapse, tmp_path / "anna") as anna:
        room = await anna.open_dm(bot.user_id, encrypted=True)
        await anna.said(Q_DANGER)
        listing = await anna.write("erinnerungen", "Erinnerungen")
        assert "keine Erinnerungen" in listing.body  # Matrix can remind; none set yet
        hashed = service.hasher(ConversationKey("matrix", anna.account.user_id))
        due = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
        reminders.add(hashed, "matrix", room, int(due.timestamp()), "employee.checkin", "de")
        reminders.add(hashed, "matrix", room, int(due.timestamp()) + 86400 * 60,
                      "employee.deadline", "de")
        store.commit()
        rounds = ReminderScheduler(service, {"matrix": channel}, ReminderSettings(),
                                   lambda: due + dt.timedelta(minutes=1), pause=0)
        since = len(anna.seen)
        assert await rounds.tick() == 1
        shown = await anna.said("Wie soll es weitergehen?", since)
        assert "Wie geht es Ihnen inzwischen?" in shown.body and shown.encrypted
        await anna.write("stopp", "Alle Erinnerungen sind beendet")
        assert reminders.count() == 0


async def test_a_refused_login_stops_lotse_run_with_a_message_and_exit_2(
        tmp_path: Path, synapse: Synapse) -> None:
    bot = synapse.register()
    env = {**os.environ, "LOTSE_MATRIX_HOMESERVER": synapse.url,
           "LOTSE_MATRIX_USER_ID": bot.user_id, "LOTSE_MATRIX_PASSWORD": "not-the-password",
           "LOTSE_SECRET": "x" * 32, "LOTSE_DATA_DIR": str(tmp_path),
           "LOTSE_WEB_ENABLED": "false"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(60):
        _, stderr = await process.communicate()
    log = stderr.decode()
    assert process.returncode == 2, log
    assert "lotse run:" in log and "Traceback" not in log
    assert "not-the-password" not in log


async def test_a_new_user_gets_the_reminders_asked_for_at_their_time_and_none_after_stop(
        shipped: Bundle, tmp_path: Path, synapse: Synapse) -> None:
    import datetime as dt

    from bot.config import ReminderSettings
    from bot.engine.conversation import state_from_json
    from bot.flows.model import Ask
    from bot.service.reminders import ReminderScheduler
    from storage.reminder_store import ReminderStore

    from .helpers import NOW

    now = [NOW]
    bot = synapse.register()
    store = StateStore(tmp_path / "state.db")
    reminders = ReminderStore(store)
    service = ConversationService(shipped, store, KeyHasher(SECRET), lambda: now[0],
                                  reminders=reminders)
    wanted = {"safety": "no", "role": "self", "injured": "no", "kind": "insult",
              "channel": "phone", "police_offer": "yes"}
    async with running(service, bot_settings(synapse, bot), tmp_path) as channel, \
            employee(synapse, tmp_path / "anna") as anna:
        await anna.open_dm(bot.user_id, encrypted=True)
        await anna.said(Q_DANGER)
        key = ConversationKey("matrix", anna.account.user_id)
        for _ in range(60):  # typed answers, as a person reads the numbered lists
            row = store.load(service.hasher(key))
            assert row is not None and row.state is not None
            here = state_from_json(row.state).here
            if here.node.startswith("reminder_offer"):
                break
            node = shipped.flows[here.flow].nodes[here.node]
            if isinstance(node, Ask):
                ids = [c.id for c in node.choices]
                pick = wanted.get(here.node) if wanted.get(here.node) in ids else next(
                    (i for i in ids if i in ("no", "none", "later")), ids[0])
                answer = str(ids.index(pick) + 1)
            else:
                answer = "gestern" if here.node == "when" else "überspringen"
            before = row.state
            await anna.send(answer)
            await anna.wait_for(  # the answer was taken: the stored conversation moved on
                lambda b=before: (r := store.load(service.hasher(key))) is None  # type: ignore[misc]
                or r.state != b)
        else:
            raise AssertionError("never offered reminders")
        await anna.write("1, 2", "07.02.2027")
        rounds = ReminderScheduler(service, {"matrix": channel},
                                   ReminderSettings(), lambda: now[0], pause=0)
        now[0] = dt.datetime(2026, 11, 28, 16, 0, tzinfo=dt.UTC)  # the check-in's day, 17:00
        since = len(anna.seen)
        assert await rounds.tick() == 1
        await anna.said("Wie geht es Ihnen inzwischen?", since)
        await anna.write("stopp", "Alle Erinnerungen sind beendet")
        now[0] = dt.datetime(2027, 2, 7, 8, 1, tzinfo=dt.UTC)  # 9:01 in Berlin
        assert await rounds.tick() == 0
        assert reminders.count() == 0
