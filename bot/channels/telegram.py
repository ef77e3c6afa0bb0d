"""The Telegram channel, on python-telegram-bot: inline keyboards, HTML, files, private chats.

The update id is the event id, so an update delivered twice is handled once. Kept, never
message text: per chat the ids of its messages, so `forget` can delete them, in memory and,
sealed, in state.db (bot/service/sent_messages.py), so that it can after a restart too.

Polling and webhook start with `drop_pending_updates`: what was sent while Lotse was down would
otherwise count as the answer to a question that may have changed. `AIORateLimiter` waits out
429s; other network errors are retried in its seam, so a short outage loses no reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

# PTB 22 warns on every 429 (RetryAfter reads its own retry_after as an int) unless durations
# are opted in as timedelta, the coming default. Lotse reads no durations from PTB objects.
os.environ.setdefault("PTB_TIMEDELTA", "1")

from telegram import BotCommand, InputFile, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.channels.document_files import document_files
from bot.channels.errors import ChannelError
from bot.channels.plaintext import render
from bot.channels.recent import Recent
from bot.channels.starting import REFUSED_TOKEN, when_reachable
from bot.channels.telegram_render import (
    SEND,
    Buttons,
    Keyboard,
    contacts_html,
    keyboard,
    messages,
    plain_blocks,
    question_html,
)
from bot.config import TelegramSettings
from bot.engine.conversation import (
    ChecklistView,
    Contacts,
    Document,
    Ended,
    Event,
    Output,
    Picked,
    Question,
    Said,
    Say,
)
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey
from bot.service.sent_messages import SentMessages

log = logging.getLogger(__name__)

CHAT_LIMIT = 10_000
"""How many chats' message ids are remembered for `forget`; the oldest are dropped first."""
MESSAGES_PER_CHAT = 500
DELETE_BATCH = 100
"""deleteMessages takes at most 100 ids."""

MENU = ("start", "help", "emergency", "back", "restart", "language", "stop", "forget",
        "reminders")
"""The command menu, in this order; `system.telegram.menu.<name>` describes each entry."""
MENU_WORDS: dict[str, tuple[str, ...]] = {
    "de": ("start", "hilfe", "notfall", "zurueck", "neustart", "sprache", "stopp", "vergessen",
           "erinnerungen"),
    "en": MENU,
}
"""The menu's commands per language: fixed command words of `bot.flows.words`, not
content (Telegram allows only a-z, 0-9 and _)."""


@dataclass
class _Chat:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Turns of one chat run and send in order; other chats go on meanwhile."""
    messages: list[int] = field(default_factory=list)
    keyboards: list[int] = field(default_factory=list)
    choosing: dict[int, tuple[Question, set[str]]] = field(default_factory=dict)
    """A multiple-choice question on screen (by message id) and what is ticked so far."""
    loaded: bool = False
    """The ids kept from before this start were read."""
    changed: bool = False
    """`messages` changed since they were last kept."""

    def sent(self, message_id: int) -> None:
        self.messages.append(message_id)
        del self.messages[:-MESSAGES_PER_CHAT]
        self.changed = True


class _Retrying(AIORateLimiter):
    """AIORateLimiter (waits out 429) that also retries network errors a few times."""

    def __init__(self, retries: int = 3, pause: float = 0.5) -> None:
        super().__init__(max_retries=3)
        self._retries = retries
        self._pause = pause

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        for attempt in range(self._retries + 1):
            try:
                return await super().process_request(callback, args, kwargs, endpoint, data,
                                                     rate_limit_args)
            except BadRequest:
                raise  # our mistake or a gone message: sending it again will not help
            except NetworkError as err:
                if attempt == self._retries:
                    raise
                log.warning("%s failed (%s), retrying", endpoint, err)
                await asyncio.sleep(self._pause * 2 ** attempt)
        raise AssertionError("unreachable")


class TelegramChannel:
    name = "telegram"

    def __init__(self, service: ConversationService, settings: TelegramSettings,
                 poll_timeout: float = 10.0, retry_pause: float = 0.5) -> None:
        self.service = service
        self.settings = settings
        self.poll_timeout = poll_timeout
        self.buttons = Buttons()
        self.sent = SentMessages(service.store, service.hasher, MESSAGES_PER_CHAT)
        self._chats: Recent[int, _Chat] = Recent(_Chat, CHAT_LIMIT)
        self._told_groups: set[int] = set()
        self.application: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(settings.token)
            .base_url(f"{settings.api_url}/bot")
            .base_file_url(f"{settings.api_url}/file/bot")
            .rate_limiter(_Retrying(pause=retry_pause))
            .concurrent_updates(True)
            .build())
        self.application.add_handler(TypeHandler(Update, self.on_update))
        self.application.add_error_handler(self.on_error)

    async def start(self) -> None:
        if self.settings.webhook_url and not self.settings.webhook_secret:
            # bot.config refuses this already; a channel built another way must not run open.
            raise ChannelError("telegram.webhook_url needs telegram.webhook_secret "
                               "(LOTSE_TELEGRAM_WEBHOOK_SECRET)")
        try:
            await self._start()
        except InvalidToken:
            await self._clean_up()
            raise ChannelError(REFUSED_TOKEN) from None
        except BaseException:
            await self._clean_up()
            raise

    async def _clean_up(self) -> None:
        """After a failed start, so that a start can be tried again; the first error counts."""
        with contextlib.suppress(Exception):
            await self.stop()

    async def _start(self) -> None:
        app = self.application
        await app.initialize()
        await self.register_commands()
        await app.start()
        updater = app.updater
        assert updater is not None
        if self.settings.webhook_url:
            host, _, port = self.settings.webhook_listen.rpartition(":")
            path = self.settings.webhook_url.split("://", 1)[-1].partition("/")[2]
            await updater.start_webhook(listen=host or "127.0.0.1", port=int(port), url_path=path,
                                        webhook_url=self.settings.webhook_url,
                                        secret_token=self.settings.webhook_secret,
                                        drop_pending_updates=True,
                                        allowed_updates=Update.ALL_TYPES)
        else:
            await updater.start_polling(timeout=dt.timedelta(seconds=self.poll_timeout),
                                        drop_pending_updates=True,
                                        allowed_updates=Update.ALL_TYPES)

    async def stop(self) -> None:
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        self.sent.write()

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop`; a server not reachable at start is tried again meanwhile."""
        if not await when_reachable(self.name, self.start, _unreachable, stop):
            return
        try:
            await stop.wait()
        finally:
            await self.stop()

    async def register_commands(self) -> None:
        bot = self.application.bot
        bundle = self.service.bundle
        for lang, words in MENU_WORDS.items():
            listed = [BotCommand(word, bundle.text(f"telegram.menu.{name}", lang))
                      for word, name in zip(words, MENU, strict=True)]
            await bot.set_my_commands(listed, language_code=lang)
            if lang == bundle.default_language:
                await bot.set_my_commands(listed)  # for every other app language

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update failed", exc_info=context.error)

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None or chat.type == ChatType.CHANNEL:
            return
        if chat.type != ChatType.PRIVATE:
            await self.only_private(chat.id, user.language_code)
            return
        if chat.id != user.id:
            # A private chat is always the sender's own: anything else is forged (the person
            # would be taken from `from`, the answers sent to `chat`). Nothing is done with it.
            log.warning("ignored an update whose chat is not its sender's private chat")
            return
        event = self.event(update, user.language_code)
        if event is None:
            return
        memory = self.chat(chat.id)
        async with memory.lock, self.keeping(chat.id, memory):
            if update.message is not None:
                memory.sent(update.message.message_id)
            query = update.callback_query
            if query is not None and isinstance(query.message, Message):
                assert isinstance(event, Picked)
                ticked = await self.tick(chat.id, memory, query.message.message_id,
                                         query.data or "", event, query.id,
                                         user.language_code)
                if ticked is None:
                    return  # a tick, not an answer yet: nothing goes to the conversation
                event = ticked
            outputs = await self.service.handle(ConversationKey("telegram", str(user.id)),
                                                event, str(update.update_id), str(chat.id))
            if query is not None:
                with contextlib.suppress(BadRequest):
                    await self.call("answerCallbackQuery", callback_query_id=query.id)
                if isinstance(query.message, Message):
                    await self.drop_keyboard(chat.id, query.message.message_id, memory)
            if outputs:
                for message_id in list(memory.keyboards):
                    await self.drop_keyboard(chat.id, message_id, memory)
                await self.deliver(chat.id, memory, outputs)

    async def tick(self, chat_id: int, memory: _Chat, message_id: int, data: str,
                   picked: Picked, query_id: str, lang: str | None) -> Event | None:
        """A tap on a multiple-choice keyboard ticks or unticks in place (None); the send
        button gives the ticked answers as if typed ("1, 3"). Any other tap: the event as is."""
        choosing = memory.choosing.get(message_id)
        if choosing is None:
            return picked
        question, chosen = choosing
        words = self.words(chat_id, lang)
        bundle = self.service.bundle
        if data == SEND:
            if not chosen:
                with contextlib.suppress(BadRequest):
                    await self.call("answerCallbackQuery", callback_query_id=query_id,
                                    text=bundle.text("telegram.choose_first", words))
                return None
            numbers = [str(o.number) for o in question.options if o.id in chosen]
            return Said(", ".join(numbers), lang)
        if (picked.flow, picked.node) != (question.flow, question.node):
            return picked
        chosen.symmetric_difference_update({picked.choice})
        with contextlib.suppress(BadRequest):
            await self.call("answerCallbackQuery", callback_query_id=query_id)
            await self.call("editMessageReplyMarkup", chat_id=chat_id, message_id=message_id,
                            reply_markup=keyboard(
                                question, self.buttons,
                                bundle.text("telegram.send_selection", words), frozenset(chosen)))
        return None

    def words(self, chat_id: int, lang: str | None) -> str:
        """The language for the channel's own words: the conversation's, else the app's."""
        spoken = self.service.language(ConversationKey("telegram", str(chat_id)))
        return self.service.bundle.pick_language(spoken or lang)

    def event(self, update: Update, lang: str | None) -> Event | None:
        query = update.callback_query
        if query is not None:
            return self.buttons.picked(query.data or "", lang)
        message = update.message
        if message is None:
            return None  # edits, reactions, member changes: nothing to answer
        text = message.text or message.caption
        return Said(text, lang) if text else None

    def chat(self, chat_id: int) -> _Chat:
        """The chat's memory; met for the first time since the start, with the ids kept."""
        memory = self._chats[chat_id]
        if not memory.loaded:
            kept = self.sent.of(_key(chat_id), str(chat_id))
            memory.messages = [int(i) for i in kept if i.isdigit()] + memory.messages
            memory.loaded = True
        return memory

    @contextlib.asynccontextmanager
    async def keeping(self, chat_id: int, memory: _Chat) -> AsyncIterator[None]:
        """Keep the chat's message ids once the turn in it is done, sent in full or not."""
        try:
            yield
        finally:
            if memory.changed:
                memory.changed = False
                self.sent.keep(_key(chat_id), str(chat_id), [str(i) for i in memory.messages])

    async def only_private(self, chat_id: int, lang: str | None) -> None:
        if chat_id in self._told_groups:
            return
        self._told_groups.add(chat_id)
        bundle = self.service.bundle
        text = bundle.text("telegram.only_private", bundle.pick_language(lang))
        with contextlib.suppress(Forbidden, BadRequest):  # removed from the group meanwhile
            await self.call("sendMessage", chat_id=chat_id, text=text)

    async def call(self, endpoint: str, **data: object) -> Any:
        """A Bot API call whose answer is used raw: no telegram objects are built from it.
        `Bot._post` still applies PTB's defaults and serialisation and the rate limiter."""
        return await self.application.bot._post(endpoint, data)

    async def push(self, address: str, outputs: tuple[Output, ...], lang: str) -> None:
        """A reminder; one to a user who blocked the bot counts as delivered: nobody to tell."""
        chat_id = int(address)
        memory = self.chat(chat_id)
        async with memory.lock, self.keeping(chat_id, memory):
            for message_id in list(memory.keyboards):
                await self.drop_keyboard(chat_id, message_id, memory)
            try:
                await self.deliver(chat_id, memory, outputs)
            except Forbidden:
                log.info("a reminder could not be delivered: the user blocked the bot")

    async def deliver(self, chat_id: int, memory: _Chat, outputs: tuple[Output, ...]) -> None:
        if any(isinstance(o, Ended) and o.erased for o in outputs):
            await self.erase(chat_id, memory)  # first, so the confirmation stays visible
        words: str | None = None  # looked up once, and only for a send button
        for output in outputs:
            if isinstance(output, Question):
                if output.multiple:
                    words = words or self.words(chat_id, None)
                send = self.service.bundle.text("telegram.send_selection", words) if words else ""
                markup = keyboard(output, self.buttons, send)
                sent = await self.send(chat_id, memory, question_html(output), markup)
                if markup is not None:
                    memory.keyboards.append(sent)
                    if output.multiple:
                        memory.choosing[sent] = (output, set())
            elif isinstance(output, Contacts):
                for text in messages(contacts_html(output)):
                    await self.send(chat_id, memory, text)
            elif isinstance(output, Say | ChecklistView):
                for text in messages(plain_blocks(render(output))):
                    await self.send(chat_id, memory, text)
            elif isinstance(output, Document):
                await self.send_document(chat_id, memory, output)

    async def send(self, chat_id: int, memory: _Chat, text: str,
                   markup: Keyboard | None = None) -> int:
        message = await self.call("sendMessage", chat_id=chat_id, text=text,
                                  parse_mode=ParseMode.HTML, reply_markup=markup)
        message_id = int(message["message_id"])
        memory.sent(message_id)
        return message_id

    async def send_document(self, chat_id: int, memory: _Chat, document: Document) -> None:
        """The PDF and the text file, built in memory and uploaded; nothing touches the disk."""
        pdf, txt = await document_files(document)
        bot = self.application.bot
        for file, caption in ((pdf, document.title), (txt, None)):
            message = await bot.send_document(
                chat_id, InputFile(file.data, filename=file.filename), caption=caption)
            memory.sent(message.message_id)

    async def drop_keyboard(self, chat_id: int, message_id: int, memory: _Chat) -> None:
        memory.choosing.pop(message_id, None)
        if message_id in memory.keyboards:
            memory.keyboards.remove(message_id)
        with contextlib.suppress(BadRequest):  # already gone, or not modified
            await self.call("editMessageReplyMarkup", chat_id=chat_id, message_id=message_id)

    async def erase(self, chat_id: int, memory: _Chat) -> None:
        """Delete the conversation's messages where Telegram allows it (in private chats: those
        younger than 48 hours); the rest stay, and the user can delete them in the app."""
        ids = sorted(set(memory.messages))
        memory.messages.clear()
        memory.keyboards.clear()
        memory.choosing.clear()
        memory.changed = False
        for start in range(0, len(ids), DELETE_BATCH):
            batch = ids[start:start + DELETE_BATCH]
            try:
                await self.call("deleteMessages", chat_id=chat_id, message_ids=batch)
            except BadRequest:
                for message_id in batch:  # one too old fails the batch: try each on its own
                    with contextlib.suppress(BadRequest):
                        await self.call("deleteMessage", chat_id=chat_id, message_id=message_id)
        self.sent.erase(_key(chat_id))


def _unreachable(err: BaseException) -> bool:
    """A network error (a refused connection, a timeout, a 5xx); BadRequest is one to PTB."""
    return isinstance(err, NetworkError) and not isinstance(err, BadRequest)


def _key(chat_id: int) -> ConversationKey:
    """A private chat's id is its user's: the conversation's key (`on_update` checks it)."""
    return ConversationKey("telegram", str(chat_id))
