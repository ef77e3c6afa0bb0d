"""The Matrix channel, on matrix-nio with end-to-end encryption (vodozemac; no libolm needed).

A text message in a direct room becomes `Said`; the event id is the event id, so an event
seen twice is handled once. The sync token is saved only after every event of its sync was
handled, so a crash loses nothing. What was written while Lotse was down is not taken as an
answer, as the question may have changed: the person gets the open question again instead.

A room with more than one other member gets a short note and is left: what a person tells
Lotse does not belong in a group. The ids of a conversation's messages are kept, sealed, so that
`forget` can redact them after a restart too (bot/service/sent_messages.py). Keys are shared
with every device of the person, verified or not (see docs/matrix.md for why). Nothing here
logs message text, user ids or room ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from nio import (
    AsyncClient,
    InviteInfo,
    InviteMemberEvent,
    JoinError,
    LocalProtocolError,
    MegolmEvent,
    RoomMessageText,
    RoomSendResponse,
    SendRetryError,
    SyncError,
    SyncResponse,
    UploadResponse,
)

from bot.channels.document_files import document_files
from bot.channels.matrix_events import INPUT, SYNC_FILTER, joined_now, said_text, server_of
from bot.channels.matrix_login import MatrixError, close, log_in, quiet_nio
from bot.channels.matrix_render import Part, joined, message, notice, part, text_html
from bot.channels.plaintext import for_typing
from bot.channels.recent import Recent
from bot.channels.starting import when_reachable
from bot.config import MatrixSettings
from bot.engine.conversation import Document, Ended, Event, Output, Resume, Said, Start
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey
from bot.service.sent_messages import SentMessages
from storage.private_file import write_private

log = logging.getLogger(__name__)

TOKEN_FILE = "sync-token"

ROOM_LIMIT = 10_000
"""How many rooms' event ids are remembered for `forget`; the oldest are dropped first."""
EVENTS_PER_ROOM = 500


@dataclass
class _Room:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Turns of one room run and send in order; other rooms go on meanwhile."""
    events: list[str] = field(default_factory=list)
    """Ids of this conversation's messages, both sides, for `forget`."""
    key: ConversationKey | None = None
    """The conversation of the room, once known: its ids kept from before this start are read."""
    changed: bool = False
    """`events` changed since they were last kept."""

    def seen(self, event_id: str) -> None:
        self.events.append(event_id)
        del self.events[:-EVENTS_PER_ROOM]
        self.changed = True


class MatrixChannel:
    name = "matrix"

    def __init__(self, service: ConversationService, settings: MatrixSettings, data_dir: Path,
                 *, sync_timeout: float = 30.0, max_retry_pause: float = 10.0,
                 drain_timeout: float = 20.0) -> None:
        self.service = service
        self.settings = settings
        self.folder = data_dir / "matrix"
        self.sync_timeout = sync_timeout
        self.max_retry_pause = max_retry_pause
        self.drain_timeout = drain_timeout
        self.client: AsyncClient | None = None
        self._token: str | None = None
        self._rooms: Recent[str, _Room] = Recent(_Room, ROOM_LIMIT)
        self.sent = SentMessages(service.store, service.hasher, EVENTS_PER_ROOM)
        self._leaving: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._saving: asyncio.Task[bool] | None = None
        self._syncing: asyncio.Task[None] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop`; a homeserver not reachable at start is tried again meanwhile."""
        starting = asyncio.create_task(when_reachable(self.name, self.start, _unreachable, stop))
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if starting.done() and starting.result():  # a refused login ends here, with why
                assert self._syncing is not None
                await asyncio.wait({self._syncing, stopping},
                                   return_when=asyncio.FIRST_COMPLETED)
                if self._syncing.done() and not self._syncing.cancelled():
                    self._syncing.result()
        finally:
            for task in (starting, stopping):
                task.cancel()
            await asyncio.gather(starting, stopping, return_exceptions=True)
            await self.stop()

    async def start(self) -> None:
        """Log in, catch up once, then sync in the background; returns when Lotse listens."""
        quiet_nio()
        self.client = await log_in(self.settings, self.folder, sync_timeout=self.sync_timeout,
                                   max_retry_pause=self.max_retry_pause)
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        token_file = self.folder / TOKEN_FILE
        self._token = (token_file.read_text().strip() if token_file.exists() else "") or None
        await self._sync(first=True)
        self._syncing = asyncio.create_task(self._sync_forever())

    async def stop(self) -> None:
        """Stop syncing, let the turns in flight finish (bounded), save the token, close."""
        if self._syncing is not None:
            self._syncing.cancel()
            await asyncio.gather(self._syncing, return_exceptions=True)
            self._syncing = None
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.drain_timeout)
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._saving is not None:
            await asyncio.gather(self._saving, return_exceptions=True)
            self._saving = None
        client, self.client = self.client, None
        if client is not None:
            await close(client)
        self.sent.write()

    async def _sync_forever(self) -> None:
        while True:
            await self._sync(first=False)

    async def _sync(self, first: bool) -> None:
        """One sync, retried until it succeeds; its events handed to turns, keys kept up."""
        client = self.client
        assert client is not None
        failures = 0
        while True:
            try:
                response = await client.sync(
                    timeout=0 if first else int(self.sync_timeout * 1000),
                    sync_filter=SYNC_FILTER, since=self._token, full_state=first or None)
            except (aiohttp.ClientError, TimeoutError) as err:
                response = err
            if isinstance(response, SyncResponse):
                break
            if isinstance(response, SyncError) and response.status_code == "M_UNKNOWN_TOKEN":
                raise MatrixError("Matrix: the homeserver no longer accepts Lotse's access "
                                  "token (its device was logged out); start Lotse again, with "
                                  "the password it logs in as a new device")
            failures += 1
            pause = min(self.max_retry_pause, 0.25 * 2 ** min(failures, 10))
            log.warning("matrix: sync failed (%s), retrying in %.1f s",
                        getattr(response, "status_code", None) or type(response).__name__,
                        pause)
            await asyncio.sleep(pause)
        started = self._token is None
        tasks = self._digest(response, first=first, initial=first and started)
        self._save_after(response.next_batch, tasks)
        self._token = response.next_batch
        await self._keep_keys(client)

    async def _keep_keys(self, client: AsyncClient) -> None:
        """What nio's sync_forever does between syncs: keys up, device lists, key claims."""
        try:
            if client.outgoing_to_device_messages:
                await client.send_to_device_messages()
            if client.should_upload_keys:
                await client.keys_upload()
            if client.should_query_keys:
                await client.keys_query()
            if client.should_claim_keys:
                await client.keys_claim(client.get_users_for_key_claiming())
        except LocalProtocolError:
            pass  # a turn's send did the same just now

    def _save_after(self, token: str, tasks: list[asyncio.Task[None]]) -> None:
        """Write `token` once these turns, and every earlier sync's, are done. A turn cut
        off at shutdown stops the chain: its event comes again at the next start."""
        previous = self._saving
        path = self.folder / TOKEN_FILE

        async def save() -> bool:
            if previous is not None and not await previous:
                return False
            results = await asyncio.gather(*tasks, return_exceptions=True)
            if any(isinstance(r, asyncio.CancelledError) for r in results):
                return False
            write_private(path, token)
            return True

        self._saving = asyncio.create_task(save())

    def _digest(self, response: SyncResponse, first: bool,
                initial: bool) -> list[asyncio.Task[None]]:
        """Turn one sync's rooms into tasks. `first`: what came while Lotse was down, not
        input; `initial`: the very first sync of this account, history not even resumed."""
        client = self.client
        assert client is not None
        me = client.user_id
        tasks = []
        for room_id, invite in response.rooms.invite.items():
            tasks.append(self._spawn(self._invited(room_id, invite)))
        for room_id in response.rooms.leave:
            self._leaving.discard(room_id)
            self._rooms.pop(room_id)
        for room_id, info in response.rooms.join.items():
            room = client.rooms.get(room_id)
            if room_id in self._leaving or room is None:
                continue
            others = [u for u in room.users if u != me]
            if len(others) != 1 or not self._allowed(others[0]):
                self._leaving.add(room_id)
                note = len(others) > 1 and not initial
                tasks.append(self._spawn(self._leave(room_id, note)))
                continue
            if initial:
                continue
            person = others[0]
            events = [e for e in info.timeline.events
                      if e.sender == person and isinstance(e, INPUT)]
            joined_id = joined_now(info, me)
            if joined_id is not None:
                tasks.append(self._spawn(self._greet(room_id, person, joined_id)))
            elif first and events:
                tasks.append(self._spawn(self._turn(room_id, person, Resume(),
                                                    f"resume {events[-1].event_id}")))
            if not first:
                tasks.extend(self._spawn(self._message(room_id, person, e)) for e in events)
        return tasks

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("matrix: a turn failed", exc_info=task.exception())

    def _allowed(self, user_id: str) -> bool:
        allowed = self.settings.allowed_servers
        return not allowed or server_of(user_id) in allowed

    def _text(self, name: str, key: ConversationKey | None) -> str:
        """A note of the channel's own, in the conversation's language, else the default."""
        lang = self.service.language(key) if key is not None else None
        return self.service.bundle.text(name, lang or self.service.bundle.default_language)

    async def _invited(self, room_id: str, invite: InviteInfo) -> None:
        client = self.client
        assert client is not None
        inviter = next((e.sender for e in invite.invite_state
                        if isinstance(e, InviteMemberEvent) and e.state_key == client.user_id
                        and e.membership == "invite"), None)
        if inviter is None:
            return
        if not self._allowed(inviter):
            log.info("matrix: declined an invite from a homeserver not allowed")
            await client.room_leave(room_id)
            return
        response = await client.join(room_id)
        if isinstance(response, JoinError):
            log.warning("matrix: could not join a room (%s)", response.status_code)

    async def _leave(self, room_id: str, note: bool) -> None:
        client = self.client
        assert client is not None
        if note:
            await self._send(room_id, notice(self._text("matrix.only_direct", None)))
        await client.room_leave(room_id)
        await client.room_forget(room_id)
        self._rooms.pop(room_id)
        log.info("matrix: left a room that is not a direct chat with one person")

    async def _greet(self, room_id: str, person: str, event_id: str) -> None:
        key = ConversationKey("matrix", person)
        event: Event = Resume() if await self.service.has_conversation(key) else Start()
        await self._turn(room_id, person, event, f"join {event_id}")

    async def _message(self, room_id: str, person: str, event: Any) -> None:
        memory = self._memory(room_id, person)
        memory.seen(str(event.event_id))
        key = ConversationKey("matrix", person)
        if isinstance(event, RoomMessageText):
            text = said_text(event)
            if text is not None:
                await self._turn(room_id, person, Said(text), str(event.event_id))
            return
        if isinstance(event, MegolmEvent):
            await self._undecryptable(room_id, key, event)
            return
        async with memory.lock, self._keeping(room_id, memory):  # media
            await self._send(room_id, notice(self._text("matrix.text_only", key)), memory)

    async def _undecryptable(self, room_id: str, key: ConversationKey,
                             event: MegolmEvent) -> None:
        """Ask to send it again, and ask the sender's devices for the missing room key."""
        client = self.client
        assert client is not None
        log.info("matrix: a message could not be decrypted")
        with contextlib.suppress(LocalProtocolError):  # asked for this session already
            await client.request_room_key(event)
        memory = self._memory(room_id, key.user)
        async with memory.lock, self._keeping(room_id, memory):
            await self._send(room_id, notice(self._text("matrix.undecryptable", key)), memory)

    async def _turn(self, room_id: str, person: str, event: Event, event_id: str) -> None:
        key = ConversationKey("matrix", person)
        memory = self._memory(room_id, person)
        async with memory.lock, self._keeping(room_id, memory):
            before = self.service.language(key)
            outputs = await self.service.handle(key, event, event_id, room_id)
            if outputs:
                lang = before or self.service.bundle.default_language  # for the note after `forget`
                await self._deliver(room_id, lang, memory, outputs)

    async def push(self, address: str, outputs: tuple[Output, ...], lang: str) -> None:
        """A reminder, into the room it was set in; a room left meanwhile gets nothing. Before
        the first sync (a homeserver still away) it fails, so the reminder stays due."""
        if self.client is None or self._syncing is None:
            raise ConnectionError("Matrix: not connected yet")
        if address not in self.client.rooms:
            log.info("a reminder could not be delivered: the room is gone")
            return
        room = self.client.rooms[address]
        others = [u for u in room.users if u != self.client.user_id]
        memory = self._memory(address, others[0]) if len(others) == 1 else self._rooms[address]
        async with memory.lock, self._keeping(address, memory):
            await self._deliver(address, lang, memory, outputs)

    def _memory(self, room_id: str, person: str) -> _Room:
        """The room's memory; met for the first time since the start, with the ids kept."""
        memory = self._rooms[room_id]
        if memory.key is None:
            memory.key = ConversationKey("matrix", person)
            memory.events = self.sent.of(memory.key, room_id) + memory.events
        return memory

    @contextlib.asynccontextmanager
    async def _keeping(self, room_id: str, memory: _Room) -> AsyncIterator[None]:
        """Keep the room's event ids once the turn in it is done, sent in full or not."""
        try:
            yield
        finally:
            if memory.changed and memory.key is not None:
                memory.changed = False
                self.sent.keep(memory.key, room_id, memory.events)

    async def _deliver(self, room_id: str, lang: str, memory: _Room,
                       outputs: tuple[Output, ...]) -> None:
        erased = any(isinstance(o, Ended) and o.erased for o in outputs)
        if erased:
            await self._erase(room_id, memory)  # first, so the confirmation stays visible
        pending: list[Part] = []
        for output in outputs:
            if isinstance(output, Document):
                await self._send_parts(room_id, memory, pending)
                pending = []
                await self._send_document(room_id, memory, output)
                continue
            block = part(for_typing(output, self.service.bundle))
            if block is not None:
                pending.append(block)
        if erased:
            note = self.service.bundle.text("matrix.erased", lang)
            pending.append(Part(note, f"<p>{text_html(note)}</p>"))
        await self._send_parts(room_id, memory, pending)

    async def _send_parts(self, room_id: str, memory: _Room, parts: list[Part]) -> None:
        for block in joined(parts):
            await self._send(room_id, message(block), memory)

    async def _send(self, room_id: str, content: dict[str, Any],
                    memory: _Room | None = None) -> str | None:
        """Send, encrypted where the room is; the event id, or None when the room is gone."""
        client = self.client
        assert client is not None
        try:
            response = await client.room_send(room_id, "m.room.message", content,
                                              ignore_unverified_devices=True)
        except (LocalProtocolError, SendRetryError) as err:
            log.warning("matrix: could not send (%s)", type(err).__name__)
            return None
        if not isinstance(response, RoomSendResponse):
            log.warning("matrix: could not send (%s)", response.status_code)
            return None
        if memory is not None:
            memory.seen(str(response.event_id))
        return str(response.event_id)

    async def _send_document(self, room_id: str, memory: _Room, document: Document) -> None:
        """Both files, uploaded; if an upload fails the text goes out as a message instead."""
        client = self.client
        assert client is not None
        room = client.rooms.get(room_id)
        encrypt = bool(room is not None and room.encrypted)
        files = await document_files(document)
        for file in files:
            uploaded, keys = await client.upload(
                lambda _429, _timeouts, data=file.data: data, content_type=file.mime,
                filename=file.filename, encrypt=encrypt, filesize=len(file.data))
            if not isinstance(uploaded, UploadResponse):
                log.warning("matrix: upload failed (%s)", uploaded.status_code)
                note = self.service.bundle.text("matrix.upload_failed", document.lang)
                text = files[1].data.decode("utf-8")
                await self._send_parts(room_id, memory, [Part(
                    f"{note}\n\n{text}",
                    f"<p>{text_html(note)}</p><pre>{html.escape(text)}</pre>")])
                return
            content: dict[str, Any] = {"msgtype": "m.file", "body": file.filename,
                                       "filename": file.filename,
                                       "info": {"mimetype": file.mime, "size": len(file.data)}}
            if keys is not None:
                content["file"] = {**keys, "url": uploaded.content_uri}
            else:
                content["url"] = uploaded.content_uri
            await self._send(room_id, content, memory)

    async def _erase(self, room_id: str, memory: _Room) -> None:
        """Redact the conversation's messages this process saw: Lotse's own, and the
        person's where Lotse has the power to (in a DM made by Element it has)."""
        client = self.client
        assert client is not None
        ids, memory.events, memory.changed = memory.events, [], False
        for event_id in ids:
            with contextlib.suppress(LocalProtocolError):
                await client.room_redact(room_id, event_id)
        if memory.key is not None:
            self.sent.erase(memory.key)


def _unreachable(err: BaseException) -> bool:
    """The homeserver did not answer (nio gave up its retries during the login)."""
    return isinstance(err, aiohttp.ClientConnectionError | TimeoutError)
