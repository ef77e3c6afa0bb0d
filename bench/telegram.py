"""Telegram turns/s: a hand-written ConversationHandler (a) against Lotse's channel (b).

The same conversation for every user: /start, then ten choice questions answered by tapping an
inline button; after the tenth a closing message. Both sides make the same Bot API calls per tap
(answerCallbackQuery, editMessageReplyMarkup to drop the tapped keyboard, sendMessage with the
next question and its keyboard), through the same request class that answers every call in
memory with valid Bot API JSON: no network, no HTTP. Both Applications are initialized and
started the same way (no updater), and updates are fed the same way: every user a task that
builds each update from its JSON (as polling would) and awaits `application.process_update`,
all users at once (closed loop).

(a) python-telegram-bot's ConversationHandler, ten states, state in memory (no persistence).
(b) Lotse's TelegramChannel, built by its own code with only the request class swapped in, on
    the real ConversationService and StateStore (SQLite in a temporary folder, committed before
    each reply), with a 10-question flow checked from inline YAML over the shipped content.

The channel's AIORateLimiter holds every call with a chat_id to Telegram's 30 messages/s, so
as deployed (b) cannot exceed ~15 turns/s whatever the CPU does. The main (b) run therefore
sets the limiter's overall and group limits to 0 (its retry seam stays); a short run of (b)
exactly as built is printed as well (--deployed-users, 0 to skip).

Target: b/a >= 1.0.
Run: python bench/telegram.py [--users N] [--sync NORMAL|FULL] [--profile FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import json
import logging
import pstats
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from unittest import mock

# This file is named telegram.py: its own folder (sys.path[0] when run as a script) must not
# shadow python-telegram-bot.
sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
)
from telegram.request import BaseRequest, RequestData

import bot.channels.telegram as lotse_telegram
from bot.channels.telegram import TelegramChannel
from bot.config import TelegramSettings
from bot.flows.checker import Sources, check
from bot.flows.model import Bundle
from bot.flows.shipped import shipped_content
from bot.service.conversations import ConversationService
from bot.service.keys import KeyHasher
from storage import StateStore

QUESTIONS = 10
CHOICES = (("a", "Ja"), ("b", "Nein"), ("c", "Weiß nicht"))
FLOW = "bench"
BOT_ID = 4242
TOKEN = "4242:bench"
FIRST_USER = 100_000


# --- the Bot API, answered in memory -------------------------------------------------------


class LocalRequest(BaseRequest):
    """Every Bot API call answered here with the JSON Telegram would send; nothing leaves."""

    def __init__(self) -> None:
        self._message_ids = itertools.count(1)
        self.last_sent: dict[int, int] = {}
        self.last_text: dict[int, str] = {}
        """Per chat, the id of the bot's last message: the one a user taps a button under."""
        self.calls: dict[str, int] = {}

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = None, write_timeout: Any = None,
                         connect_timeout: Any = None, pool_timeout: Any = None,
                         ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        self.calls[endpoint] = self.calls.get(endpoint, 0) + 1
        params = request_data.parameters if request_data is not None else {}
        result: Any = True
        if endpoint == "getMe":
            result = {"id": BOT_ID, "is_bot": True, "first_name": "Bench",
                      "username": "bench_bot", "can_join_groups": False,
                      "can_read_all_group_messages": False, "supports_inline_queries": False}
        elif endpoint == "getUpdates":
            result = []
        elif endpoint in ("sendMessage", "editMessageReplyMarkup", "editMessageText"):
            chat_id = int(params["chat_id"])  # type: ignore[arg-type]
            if endpoint == "sendMessage":
                message_id = next(self._message_ids)
                self.last_sent[chat_id] = message_id
                self.last_text[chat_id] = str(params.get("text"))
            else:
                message_id = int(params["message_id"])  # type: ignore[arg-type]
            result = {"message_id": message_id, "date": int(time.time()),
                      "chat": {"id": chat_id, "type": "private", "first_name": "User"},
                      "from": {"id": BOT_ID, "is_bot": True, "first_name": "Bench",
                               "username": "bench_bot"},
                      "text": params.get("text", "…")}
            markup = params.get("reply_markup")
            if markup:
                result["reply_markup"] = (json.loads(markup) if isinstance(markup, str)
                                          else markup)
        return 200, json.dumps({"ok": True, "result": result}).encode()


# --- what the users do ---------------------------------------------------------------------


class Users:
    """1,000 users, each: /start, then a tap on a button of every question, in order."""

    def __init__(self, count: int, request: LocalRequest,
                 callback_data: Callable[[int, str], str]) -> None:
        self.ids = range(FIRST_USER, FIRST_USER + count)
        self.request = request
        self.callback_data = callback_data
        self._update_ids = itertools.count(1)
        self.turns = 0

    def user(self, user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": "User", "language_code": "de"}

    def start(self, user_id: int) -> dict[str, Any]:
        return {"update_id": next(self._update_ids), "message": {
            "message_id": 1, "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "User"},
            "from": self.user(user_id), "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}

    def tap(self, user_id: int, question: int) -> dict[str, Any]:
        choice = CHOICES[(user_id + question) % len(CHOICES)][0]
        message = {"message_id": self.request.last_sent[user_id], "date": int(time.time()),
                   "chat": {"id": user_id, "type": "private", "first_name": "User"},
                   "from": {"id": BOT_ID, "is_bot": True, "first_name": "Bench"},
                   "text": f"Frage {question + 1}?"}
        return {"update_id": next(self._update_ids), "callback_query": {
            "id": f"cq{user_id}-{question}", "from": self.user(user_id), "chat_instance": "ci",
            "message": message, "data": self.callback_data(question, choice)}}

    async def run(self, application: Application[Any, Any, Any, Any, Any, Any]) -> float:
        """Wall time for all users talking at once."""
        bot = application.bot

        async def talk(user_id: int) -> None:
            await application.process_update(Update.de_json(self.start(user_id), bot))
            for question in range(QUESTIONS):
                await application.process_update(Update.de_json(self.tap(user_id, question), bot))
            self.turns += 1 + QUESTIONS

        started = time.perf_counter()
        await asyncio.gather(*(talk(u) for u in self.ids))
        seconds = time.perf_counter() - started
        ended = sum(self.request.last_text.get(u) == "Ende" for u in self.ids)
        assert ended == len(self.ids), f"only {ended} of {len(self.ids)} conversations ended"
        return seconds


# --- (a) a hand-written ConversationHandler ------------------------------------------------


def question_markup(question: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(f"{n}. {label}",
                                                       callback_data=f"q{question} {choice}")]
                                 for n, (choice, label) in enumerate(CHOICES, 1)])


def handwritten(request: LocalRequest) -> Application[Any, Any, Any, Any, Any, Any]:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, "<b>Frage 1?</b>",
                                       parse_mode="HTML", reply_markup=question_markup(0))
        return 0

    def answer(question: int) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[int]]:
        async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
            query = update.callback_query
            assert query is not None and query.data is not None
            assert context.user_data is not None and update.effective_chat is not None
            context.user_data[f"q{question}"] = query.data.split(" ")[1]
            await query.answer()
            await query.edit_message_reply_markup(None)
            chat_id = update.effective_chat.id
            if question + 1 == QUESTIONS:
                await context.bot.send_message(chat_id, "Ende", parse_mode="HTML")
                return ConversationHandler.END
            await context.bot.send_message(chat_id, f"<b>Frage {question + 2}?</b>",
                                           parse_mode="HTML",
                                           reply_markup=question_markup(question + 1))
            return question + 1
        return handle

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # per_message=False with callback handlers: intended
        conversation = ConversationHandler(
            entry_points=[CommandHandler("start", start)],
            states={q: [CallbackQueryHandler(answer(q), pattern=f"^q{q} ")]
                    for q in range(QUESTIONS)},
            fallbacks=[])
    app = (ApplicationBuilder().token(TOKEN).request(request).get_updates_request(request)
           .concurrent_updates(True).build())
    app.add_handler(conversation)
    return app


# --- (b) Lotse's channel -------------------------------------------------------------------


def flow_yaml() -> str:
    lines = [f"flow: {FLOW}", "version: 1", "title: {de: Bench, en: Bench}", "start: q0",
             "nodes:"]
    for q in range(QUESTIONS):
        lines += [f"  q{q}:", f"    ask: {{de: 'Frage {q + 1}?', en: 'Question {q + 1}?'}}",
                  "    choices:"]
        for choice, label in CHOICES:
            lines += [f"      - id: {choice}", f"        label: {{de: '{label}', en: '{label}'}}"]
        lines.append(f"    next: {'q' + str(q + 1) if q + 1 < QUESTIONS else 'done'}")
    lines += ["  done:", "    say: {de: Ende, en: End}", "    end: true"]
    return "\n".join(lines) + "\n"


def bench_bundle(folder: Path) -> Bundle:
    path = folder / f"{FLOW}.yaml"
    path.write_text(flow_yaml(), encoding="utf-8")
    result = check(Sources((path,), (shipped_content(),), complete=False))
    assert result.bundle is not None, [str(p) for p in result.errors]
    assert result.bundle.default_flow == FLOW
    return result.bundle


def lotse(bundle: Bundle, folder: Path, request: LocalRequest, synchronous: str,
          limits: bool) -> TelegramChannel:
    """The channel as its own code builds it; only the request class is ours."""
    def builder() -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
        return ApplicationBuilder().request(request).get_updates_request(request)

    service = ConversationService(bundle, StateStore(folder / "state.db", synchronous),
                                  KeyHasher(b"bench-secret-0123456789abcdef"))
    with mock.patch.object(lotse_telegram, "ApplicationBuilder", builder):
        channel = TelegramChannel(service, TelegramSettings(TOKEN, "http://bench.invalid"))
    if not limits:
        limiter = channel.application.bot.rate_limiter
        assert isinstance(limiter, lotse_telegram.AIORateLimiter)
        limiter._base_limiter = None  # real Telegram's 30 messages/s
        limiter._group_max_rate = 0
    return channel


# --- running -------------------------------------------------------------------------------


async def measure(app: Application[Any, Any, Any, Any, Any, Any], users: Users,
                  profile: cProfile.Profile | None = None) -> float:
    await app.initialize()
    await app.start()
    try:
        if profile is not None:
            profile.enable()
        seconds = await users.run(app)
        if profile is not None:
            profile.disable()
    finally:
        await app.stop()
        await app.shutdown()
    return seconds


async def run_a(count: int) -> tuple[float, LocalRequest]:
    request = LocalRequest()
    users = Users(count, request, lambda q, choice: f"q{q} {choice}")
    seconds = await measure(handwritten(request), users)
    return users.turns / seconds, request


async def run_b(count: int, synchronous: str, limits: bool,
                profile: cProfile.Profile | None = None) -> tuple[float, LocalRequest]:
    request = LocalRequest()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        channel = lotse(bench_bundle(folder), folder, request, synchronous, limits)
        users = Users(count, request, lambda q, choice: f"{FLOW} q{q} {choice}")
        try:
            seconds = await measure(channel.application, users, profile)
            finished = channel.service.store.db.execute(
                "SELECT count(*) FROM conversations").fetchone()[0]
        finally:
            channel.service.store.close()
    assert finished == count, f"{finished} of {count} conversations stored"
    return users.turns / seconds, request


def calls(request: LocalRequest) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(request.calls.items()))


async def main_async(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    a, request_a = await run_a(args.users)
    profile = cProfile.Profile() if args.profile else None
    b, request_b = await run_b(args.users, args.sync, False, profile)
    turns = args.users * (1 + QUESTIONS)
    print(f"users                {args.users:,} x (/start + {QUESTIONS} taps) = {turns:,} turns")
    print(f"sqlite synchronous   {args.sync} (b: committed before each reply)")
    print(f"(a) ConversationHandler, in memory      {a:,.0f} turns/s")
    print(f"    calls: {calls(request_a)}")
    print(f"(b) Lotse channel, durable, no 30/s cap {b:,.0f} turns/s")
    print(f"    calls: {calls(request_b)}")
    print(f"ratio b/a            {b / a:.2f} (target >= 1.0)")
    if args.deployed_users:
        deployed, _ = await run_b(args.deployed_users, args.sync, True)
        print(f"(b) as deployed, rate limiter at 30 msgs/s ({args.deployed_users} users): "
              f"{deployed:,.1f} turns/s")
    if profile is not None:
        profile.dump_stats(args.profile)
        stats = pstats.Stats(profile)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--sync", default="NORMAL", help="SQLite synchronous: NORMAL or FULL")
    parser.add_argument("--deployed-users", type=int, default=5,
                        help="users for the short run of (b) with the 30 msgs/s limiter")
    parser.add_argument("--profile", help="cProfile (b) into this file and print the top")
    args = parser.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
