"""A small Telegram Bot API stand-in, served over HTTP on 127.0.0.1 for the Telegram tests.

It speaks the part of the Bot API python-telegram-bot uses for Lotse: form-encoded and
multipart requests (non-string values JSON-encoded), `{"ok": ..., "result": ...}` answers,
long polling with offsets, a webhook it posts updates to, and canned errors (429 with
retry_after) for the robustness tests. It keeps the chat as a phone would show it: messages
with their keyboards, gone when deleted.

Tests act as users (`send_text`, `tap`) and wait on conditions (`wait_for`), never on sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import tornado.httpserver
import tornado.web

BOT_ID = 4242
STRING_FIELDS = {"text", "caption", "callback_query_id", "url", "secret_token",
                 "language_code", "parse_mode", "data"}
"""Fields python-telegram-bot sends as plain strings; all others are JSON-encoded values."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)


@dataclass
class Shown:
    """A message as the chat shows it."""

    chat_id: int
    message_id: int
    from_bot: bool
    text: str = ""
    keyboard: list[list[dict[str, Any]]] | None = None
    file: tuple[str, bytes] | None = None

    def button(self, label: str) -> dict[str, Any]:
        for row in self.keyboard or []:
            for button in row:
                if label in button["text"]:
                    return button
        raise AssertionError(f"no button {label!r} in {self.keyboard}")


class StandIn:
    def __init__(self, token: str = "123:standin") -> None:
        self.token = token
        self.port = free_port()
        self.calls: list[Call] = []
        self.shown: dict[tuple[int, int], Shown] = {}
        self.pending: list[dict[str, Any]] = []
        self.webhook: tuple[str, str | None] | None = None
        self.commands: dict[str, list[str]] = {}
        self.fail_next: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._server: tornado.httpserver.HTTPServer | None = None
        self._client = httpx.AsyncClient()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = tornado.web.Application([(r"/bot([^/]+)/(\w+)", _Handler, {"standin": self})])
        self._server = app.listen(self.port, address="127.0.0.1")

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
        await self._client.aclose()

    # --- what a user does -------------------------------------------------------------------

    async def send_text(self, user: int, text: str, lang: str = "de",
                        chat: dict[str, Any] | None = None) -> int:
        """The user writes `text`; returns the update id."""
        update = self.text_message(user, text, lang)
        message = update["message"]
        if chat is not None:
            del self.shown[(user, message["message_id"])]
            message["chat"] = chat
            self.shown[(chat["id"], message["message_id"])] = Shown(
                chat["id"], message["message_id"], False, text)
        if text.startswith("/"):
            word = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(word)}]
        return await self.push(update)

    async def tap(self, user: int, shown: Shown, label: str, lang: str = "de") -> int:
        """The user taps the button labelled `label` under message `shown`."""
        button = shown.button(label)
        message = {"message_id": shown.message_id, "date": int(time.time()),
                   "chat": {"id": shown.chat_id, "type": "private"},
                   "from": _user(BOT_ID, None, bot=True), "text": shown.text}
        return await self.push({"callback_query": {
            "id": f"cq{next(self._update_ids)}", "from": _user(user, lang),
            "chat_instance": "ci", "message": message, "data": button["callback_data"]}})

    async def push(self, update: dict[str, Any], update_id: int | None = None) -> int:
        """Deliver an update: to the webhook when one is set, else queued for getUpdates."""
        update = {"update_id": update_id if update_id is not None else next(self._update_ids),
                  **update}
        if self.webhook is not None:
            url, secret = self.webhook
            headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
            answer = await self._client.post(url, json=update, headers=headers, timeout=10)
            assert answer.status_code == 200, answer.text
        else:
            async with self._changed:
                self.pending.append(update)
                self._changed.notify_all()
        return int(update["update_id"])

    # --- what a test waits for --------------------------------------------------------------

    async def wait_for(self, condition: Callable[[], Any], timeout: float = 15) -> Any:
        """Wait until `condition()` is truthy (checked after every API call); return it."""
        async with asyncio.timeout(timeout), self._changed:
            while not (result := condition()):
                await self._changed.wait()
        return result

    async def notify(self) -> None:
        """Wake the waiters: something they may wait for happened outside the API."""
        async with self._changed:
            self._changed.notify_all()

    def last_id(self) -> int:
        return max((m for _, m in self.shown), default=0)

    async def push_twice(self, update: dict[str, Any]) -> int:
        """Deliver one update twice, as Telegram does when it did not see it acknowledged."""
        update = {"update_id": next(self._update_ids), **update}
        if self.webhook is not None:
            await self.push(update, update["update_id"])
            await self.push(update, update["update_id"])
        else:
            async with self._changed:
                self.pending.extend([update, dict(update)])
                self._changed.notify_all()
        return int(update["update_id"])

    def text_message(self, user: int, text: str, lang: str = "de") -> dict[str, Any]:
        """A private text message from `user`, as an update body without its id."""
        message_id = next(self._message_ids)
        self.shown[(user, message_id)] = Shown(user, message_id, False, text)
        return {"message": {"message_id": message_id, "date": int(time.time()),
                            "chat": {"id": user, "type": "private", "first_name": "Anna"},
                            "from": _user(user, lang), "text": text}}

    def bot_messages(self, chat_id: int) -> list[Shown]:
        return [m for (c, _), m in sorted(self.shown.items()) if c == chat_id and m.from_bot]

    def last_with_keyboard(self, chat_id: int) -> Shown | None:
        shown = [m for m in self.bot_messages(chat_id) if m.keyboard]
        return shown[-1] if shown else None

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def fail(self, method: str, status: int, answer: dict[str, Any]) -> None:
        self.fail_next.setdefault(method, []).append((status, answer))

    # --- the API ----------------------------------------------------------------------------

    async def api(self, method: str, params: dict[str, Any],
                  files: dict[str, tuple[str, bytes]]) -> tuple[int, dict[str, Any]]:
        if method != "getUpdates":
            async with self._changed:
                self.calls.append(Call(method, params, files))
                self._changed.notify_all()
        canned = self.fail_next.get(method)
        if canned:
            return canned.pop(0)
        handler = getattr(self, f"m_{method}", None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        try:
            result = await handler(params, files)
        except _ApiError as err:
            return 400, {"ok": False, "error_code": 400, "description": str(err)}
        return 200, {"ok": True, "result": result}

    async def m_getMe(self, params: dict[str, Any], files: Any) -> Any:
        return {**_user(BOT_ID, None, bot=True), "can_join_groups": True,
                "can_read_all_group_messages": False, "supports_inline_queries": False}

    async def m_getUpdates(self, params: dict[str, Any], files: Any) -> Any:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        async with self._changed:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
            if not self.pending and timeout:
                with contextlib.suppress(TimeoutError):  # a long poll that ends empty
                    async with asyncio.timeout(timeout):
                        await self._changed.wait_for(lambda: bool(self.pending))
            return self.pending[:int(params.get("limit") or 100)]

    async def m_deleteWebhook(self, params: dict[str, Any], files: Any) -> Any:
        self.webhook = None
        if params.get("drop_pending_updates"):
            async with self._changed:
                self.pending.clear()
        return True

    async def m_setWebhook(self, params: dict[str, Any], files: Any) -> Any:
        self.webhook = (params["url"], params.get("secret_token"))
        if params.get("drop_pending_updates"):
            self.pending.clear()
        return True

    async def m_setMyCommands(self, params: dict[str, Any], files: Any) -> Any:
        self.commands[params.get("language_code") or ""] = [
            c["command"] for c in params["commands"]]
        return True

    async def m_sendMessage(self, params: dict[str, Any], files: Any) -> Any:
        keyboard = (params.get("reply_markup") or {}).get("inline_keyboard")
        return self._show(params, Shown(int(params["chat_id"]), 0, True, params["text"],
                                        keyboard))

    async def m_sendDocument(self, params: dict[str, Any],
                             files: dict[str, tuple[str, bytes]]) -> Any:
        name, data = files["document"]
        message = self._show(params, Shown(int(params["chat_id"]), 0, True,
                                           params.get("caption") or "", None, (name, data)))
        message["document"] = {"file_id": f"f{message['message_id']}", "file_unique_id": "u",
                               "file_name": name, "file_size": len(data)}
        return message

    async def m_editMessageReplyMarkup(self, params: dict[str, Any], files: Any) -> Any:
        shown = self.shown.get((int(params["chat_id"]), int(params["message_id"])))
        if shown is None:
            raise _ApiError("Bad Request: message to edit not found")
        keyboard = (params.get("reply_markup") or {}).get("inline_keyboard")
        if keyboard == shown.keyboard or (not keyboard and not shown.keyboard):
            raise _ApiError("Bad Request: message is not modified")
        shown.keyboard = keyboard
        return _message(shown)

    async def m_answerCallbackQuery(self, params: dict[str, Any], files: Any) -> Any:
        return True

    async def m_deleteMessage(self, params: dict[str, Any], files: Any) -> Any:
        if self.shown.pop((int(params["chat_id"]), int(params["message_id"])), None) is None:
            raise _ApiError("Bad Request: message to delete not found")
        return True

    async def m_deleteMessages(self, params: dict[str, Any], files: Any) -> Any:
        for message_id in params["message_ids"]:
            self.shown.pop((int(params["chat_id"]), int(message_id)), None)
        return True

    def _show(self, params: dict[str, Any], shown: Shown) -> dict[str, Any]:
        shown.message_id = next(self._message_ids)
        self.shown[(shown.chat_id, shown.message_id)] = shown
        return _message(shown)


class _ApiError(Exception):
    pass


def _user(user_id: int, lang: str | None, bot: bool = False) -> dict[str, Any]:
    user: dict[str, Any] = {"id": user_id, "is_bot": bot,
                            "first_name": "Lotse" if bot else "Anna"}
    if bot:
        user["username"] = "lotse_test_bot"
    if lang:
        user["language_code"] = lang
    return user


def _message(shown: Shown) -> dict[str, Any]:
    chat_type = "private" if shown.chat_id > 0 else "group"
    message: dict[str, Any] = {
        "message_id": shown.message_id, "date": int(time.time()),
        "chat": {"id": shown.chat_id, "type": chat_type},
        "from": _user(BOT_ID, None, bot=True), "text": shown.text}
    if shown.keyboard:
        message["reply_markup"] = {"inline_keyboard": shown.keyboard}
    return message


class _Handler(tornado.web.RequestHandler):
    def initialize(self, standin: StandIn) -> None:
        self.standin = standin

    async def post(self, token: str, method: str) -> None:
        if token != self.standin.token:
            self.set_status(401)
            self.finish({"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        params: dict[str, Any] = {}
        for name, values in self.request.body_arguments.items():
            text = values[-1].decode("utf-8")
            if name in STRING_FIELDS:
                params[name] = text
            else:
                try:
                    params[name] = json.loads(text)
                except ValueError:
                    params[name] = text
        files = {name: (parts[0].filename, parts[0].body)
                 for name, parts in self.request.files.items()}
        status, answer = await self.standin.api(method, params, files)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(answer))

    get = post
