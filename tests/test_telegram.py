"""The Telegram channel: the real python-telegram-bot Application over HTTP to a Bot API stand-in.

Polling and webhook mode; the shipped flows; the real state store in a temporary folder.
Every wait is on a condition, bounded by a timeout.
"""

from __future__ import annotations

import copy
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import Update
from telegram.ext import ContextTypes, TypeHandler

from bot.channels.telegram import TelegramChannel
from bot.config import TelegramSettings
from bot.flows.model import Bundle
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey, KeyHasher
from storage import StateStore

from .botapi_standin import Shown, StandIn, free_port
from .helpers import Q_DANGER, Q_HOW, Q_INJURED, Q_PROTOCOL, Q_WHAT, Q_WHEN, Q_WHO, SECRET

ANNA = 501
HOOK_SECRET = "hook-secret-123"

STALE = "Dieser Knopf gehört zu einer früheren Frage"


@pytest.fixture(params=["polling", "webhook"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def new_service(bundle: Bundle, tmp_path: Path) -> ConversationService:
    return ConversationService(bundle, StateStore(tmp_path / "state.db"), KeyHasher(SECRET))


class Bot:
    """A running channel, and a way to wait until it has handled an update."""

    def __init__(self, channel: TelegramChannel, standin: StandIn) -> None:
        self.channel = channel
        self.standin = standin
        self.handled: set[int] = set()

    async def record(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.handled.add(update.update_id)
        await self.standin.notify()

    async def handled_all(self, *update_ids: int) -> None:
        await self.standin.wait_for(lambda: self.handled.issuperset(update_ids))


@asynccontextmanager
async def running(service: ConversationService, standin: StandIn,
                  mode: str = "polling") -> AsyncIterator[Bot]:
    settings = TelegramSettings(standin.token, standin.url)
    if mode == "webhook":
        port = free_port()
        settings = TelegramSettings(standin.token, standin.url,
                                    f"http://127.0.0.1:{port}/telegram-hook",
                                    f"127.0.0.1:{port}", HOOK_SECRET)
    channel = TelegramChannel(service, settings, poll_timeout=1, retry_pause=0.01)
    bot = Bot(channel, standin)
    # After the channel's handler (group 0) has finished with an update: for the tests' waits.
    channel.application.add_handler(TypeHandler(Update, bot.record), group=1)
    await channel.start()
    try:
        yield bot
    finally:
        await channel.stop()
        service.store.close()


def asking(standin: StandIn, text: str, chat: int = ANNA) -> Callable[[], Shown | None]:
    """The question that shows a keyboard now, once it is the one asking `text`."""
    def condition() -> Shown | None:
        shown = standin.last_with_keyboard(chat)
        return shown if shown is not None and text in shown.text else None
    return condition


def said_after(standin: StandIn, since: int, text: str,
               chat: int = ANNA) -> Callable[[], Shown | None]:
    def condition() -> Shown | None:
        return next((m for m in standin.bot_messages(chat)
                     if m.message_id > since and text in m.text), None)
    return condition


async def answer(standin: StandIn, question: str, label: str) -> Shown:
    """Wait for `question`, tap `label`; returns the question as it was shown."""
    shown: Shown = await standin.wait_for(asking(standin, question))
    before = copy.deepcopy(shown)
    await standin.tap(ANNA, shown, label)
    return before


async def tick_and_send(standin: StandIn, question: str, label: str) -> Shown:
    """A question of several answers: tap `label` (a tick), then "Auswahl senden"."""
    shown: Shown = await standin.wait_for(asking(standin, question))
    before = copy.deepcopy(shown)
    await tap_and_send(standin, shown, label)
    return before


async def tap_and_send(standin: StandIn, shown: Shown, label: str) -> None:
    await standin.tap(ANNA, shown, label)
    ticked = await standin.wait_for(
        lambda: "✓" in str(standin.shown[(ANNA, shown.message_id)].keyboard)
        and standin.shown[(ANNA, shown.message_id)])
    await standin.tap(ANNA, ticked, "Auswahl senden")


async def write(standin: StandIn, text: str, expect: str) -> Shown:
    since = standin.last_id()
    await standin.send_text(ANNA, text)
    shown: Shown = await standin.wait_for(said_after(standin, since, expect))
    return shown


async def first_questions(standin: StandIn) -> None:
    await standin.send_text(ANNA, "/start")
    await answer(standin, Q_DANGER, "Nein")
    await answer(standin, Q_WHO, "Es ist mir passiert")
    await answer(standin, Q_INJURED, "Nein")


PROTOCOL_BY_TEXT = [
    ("gegen 10:30 Uhr", "Wo"),
    ("Bürgerbüro Mitte, Schalter 3", ""),
    ("Er wollte nicht warten und wurde laut.", ""),
    ("Ich weiß, wo Ihr Auto steht.", ""),
    ("überspringen", ""),
    ("überspringen", ""),
    ("überspringen", ""),
    ("überspringen", ""),
    ("überspringen", ""),
    ("überspringen", ""),
]


async def test_a_whole_conversation_by_buttons_and_text_ends_with_the_document_as_files(
        shipped: Bundle, tmp_path: Path, standin: StandIn, mode: str) -> None:
    service = new_service(shipped, tmp_path)
    async with running(service, standin, mode):
        await first_questions(standin)
        answered = await tick_and_send(standin, Q_WHAT, "Drohung")
        await answer(standin, Q_HOW, "Persönlich")
        await standin.wait_for(said_after(standin, 0, Q_WHEN))
        await write(standin, "heute", Q_PROTOCOL)
        await answer(standin, Q_PROTOCOL, "Ja")
        for text, _ in PROTOCOL_BY_TEXT:
            since = standin.last_id()
            await standin.send_text(ANNA, text)
            await standin.wait_for(lambda s=since: any(  # type: ignore[misc]
                m.message_id > s for m in standin.bot_messages(ANNA)))
        review = await standin.wait_for(lambda: standin.last_with_keyboard(ANNA))
        await standin.tap(ANNA, review, "1.")  # everything is right
        documents = await standin.wait_for(
            lambda: len(standin.calls_to("sendDocument")) == 2 and standin.calls_to("sendDocument"))
    names = [call.files["document"][0] for call in documents]
    assert names[0].startswith("gedaechtnisprotokoll-") and names[0].endswith(".pdf")
    assert names[1].endswith(".txt")
    pdf, txt = (call.files["document"][1] for call in documents)
    assert pdf.startswith(b"%PDF")
    assert "Ich weiß, wo Ihr Auto steht." in txt.decode("utf-8")
    # Answered questions keep no keyboard: only the one waiting now may show one.
    shown = standin.shown[(ANNA, answered.message_id)]
    assert shown.keyboard is None and "Drohung" in str(answered.keyboard)
    assert len([m for m in standin.bot_messages(ANNA) if m.keyboard]) <= 1
    # Buttons say flow, node and choice in at most 64 bytes.
    data = [b["callback_data"] for row in answered.keyboard or [] for b in row
            if b["callback_data"] != "#send"]
    assert data and all(len(d.encode()) <= 64 and d.startswith("employee ") for d in data)
    # Commands are registered in both languages.
    assert "vergessen" in standin.commands["de"] and "forget" in standin.commands["en"]
    assert not [c for c in standin.calls if c.method == "sendMessage"
                and c.params.get("parse_mode") != "HTML"]


async def test_a_tap_on_an_old_button_gets_a_gentle_note_and_changes_nothing(
        shipped: Bundle, tmp_path: Path, standin: StandIn) -> None:
    async with running(new_service(shipped, tmp_path), standin):
        await standin.send_text(ANNA, "/start")
        old = await answer(standin, Q_DANGER, "Nein")
        await standin.wait_for(asking(standin, Q_WHO))
        since = standin.last_id()
        await standin.tap(ANNA, old, "Ja")  # "in danger: yes" on the question answered already
        await standin.wait_for(said_after(standin, since, STALE))
        again = await standin.wait_for(asking(standin, Q_WHO))
        assert again.message_id > since  # asked again, below the note
        assert not [m for m in standin.bot_messages(ANNA) if "110" in m.text]  # no emergency
        assert standin.calls_to("answerCallbackQuery")  # the spinner on the button stops


async def test_an_update_delivered_twice_is_handled_once(
        shipped: Bundle, tmp_path: Path, standin: StandIn, mode: str) -> None:
    async with running(new_service(shipped, tmp_path), standin, mode) as bot:
        await standin.send_text(ANNA, "/start")
        await standin.wait_for(asking(standin, Q_DANGER))
        twice = await standin.push_twice(standin.text_message(ANNA, "2"))  # "Nein", twice
        await bot.handled_all(twice)
        await standin.wait_for(asking(standin, Q_WHO))
        # Handled twice, the second "2" would have answered "I am a supervisor".
        await write(standin, "1", Q_INJURED)
    asked = [m for m in standin.bot_messages(ANNA) if Q_WHO in m.text]
    assert len(asked) == 1


async def test_a_429_answer_is_waited_out_and_the_reply_still_arrives(
        shipped: Bundle, tmp_path: Path, standin: StandIn) -> None:
    standin.fail("sendMessage", 429, {
        "ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1}})
    async with running(new_service(shipped, tmp_path), standin):
        await standin.send_text(ANNA, "/start")
        await standin.wait_for(asking(standin, Q_DANGER))
    texts = [m.text for m in standin.bot_messages(ANNA)]
    assert texts[0].startswith("Guten Tag")  # the message that met the 429, not lost
    assert len(standin.calls_to("sendMessage")) == len(texts) + 1


async def test_a_network_error_is_retried_without_losing_the_reply(
        shipped: Bundle, tmp_path: Path, standin: StandIn) -> None:
    standin.fail("sendMessage", 502, {"ok": False, "error_code": 502,
                                      "description": "Bad Gateway"})
    async with running(new_service(shipped, tmp_path), standin):
        await standin.send_text(ANNA, "/start")
        await standin.wait_for(asking(standin, Q_DANGER))
    assert standin.bot_messages(ANNA)[0].text.startswith("Guten Tag")


async def test_in_a_group_it_says_once_that_it_works_only_in_private_and_keeps_nothing(
        shipped: Bundle, tmp_path: Path, standin: StandIn) -> None:
    group = {"id": -900, "type": "group", "title": "Team Bürgerbüro"}
    service = new_service(shipped, tmp_path)
    async with running(service, standin) as bot:
        first = await standin.send_text(ANNA, "/start", chat=group)
        second = await standin.send_text(ANNA, "Ich wurde bedroht", chat=group)
        await bot.handled_all(first, second)
        notes = standin.bot_messages(-900)
        assert len(notes) == 1 and "privaten Chat" in notes[0].text
        assert not await service.has_conversation(ConversationKey("telegram", str(ANNA)))
    with sqlite3.connect(tmp_path / "state.db") as db:
        assert db.execute("SELECT count(*) FROM conversations").fetchone() == (0,)


async def test_a_restart_in_the_middle_continues_and_drops_what_came_while_down(
        shipped: Bundle, tmp_path: Path, standin: StandIn) -> None:
    async with running(new_service(shipped, tmp_path), standin):
        await first_questions(standin)
        waiting = copy.deepcopy(await standin.wait_for(asking(standin, Q_WHAT)))
    await standin.send_text(ANNA, "5")  # "physical attack", sent while Lotse was down
    async with running(new_service(shipped, tmp_path), standin):
        since = standin.last_id()
        # Ticks are kept in memory: after a restart, a tap on an answer sends that one.
        await standin.tap(ANNA, waiting, "Drohung")
        await standin.wait_for(asking(standin, Q_HOW))
    later = [m.text for m in standin.bot_messages(ANNA) if m.message_id > since]
    assert not any(STALE in t for t in later)
    assert not any("verletzt" in t for t in later)  # the "5" was not taken as an answer


async def test_forget_deletes_the_conversation_from_the_chat_too(
        shipped: Bundle, tmp_path: Path, standin: StandIn) -> None:
    service = new_service(shipped, tmp_path)
    async with running(service, standin):
        await first_questions(standin)
        await standin.wait_for(asking(standin, Q_WHAT))
        assert len(standin.bot_messages(ANNA)) > 4
        since = standin.last_id()
        await standin.send_text(ANNA, "/vergessen")
        note = await standin.wait_for(said_after(standin, since, "gelöscht"))
        assert not await service.has_conversation(ConversationKey("telegram", str(ANNA)))
    left = [m for (chat, _), m in standin.shown.items() if chat == ANNA]
    assert left == [note]  # every message before it is gone, the user's own ones too


async def test_a_webhook_request_without_the_secret_is_refused(
        shipped: Bundle, tmp_path: Path, standin: StandIn) -> None:
    async with running(new_service(shipped, tmp_path), standin, "webhook"):
        assert standin.webhook is not None
        url, secret = standin.webhook
        assert secret == HOOK_SECRET
        body: dict[str, Any] = {"update_id": 1, **standin.text_message(ANNA, "/start")}
        async with httpx.AsyncClient() as client:
            answer = await client.post(url, json=body, timeout=10,
                                       headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
        assert answer.status_code == 403
    assert standin.bot_messages(ANNA) == []


async def test_a_forged_update_whose_chat_is_not_the_senders_own_gets_nothing_and_changes_nothing(
        shipped: Bundle, tmp_path: Path, standin: StandIn, mode: str) -> None:
    """from = Anna (an admin, mid-conversation), chat = Mallory's private chat: the person would
    be taken from `from` and the answers sent to `chat`, so her statistics, her conversation and
    its erasure would all be in a forger's hands."""
    mallory = {"id": 666, "type": "private", "first_name": "Mallory"}
    service = ConversationService(shipped, StateStore(tmp_path / "state.db"), KeyHasher(SECRET),
                                  admins=frozenset({ConversationKey("telegram", str(ANNA))}),
                                  statistics=lambda lang: "STATISTIK-KANARIE")
    async with running(service, standin, mode) as bot:
        await first_questions(standin)
        waiting = copy.deepcopy(await standin.wait_for(asking(standin, Q_WHAT)))
        since = standin.last_id()
        calls = len(standin.calls)
        forged_tap = copy.deepcopy(waiting)
        forged_tap.chat_id = mallory["id"]
        forged = [await standin.send_text(ANNA, "/statistik", chat=dict(mallory)),
                  await standin.send_text(ANNA, "zurück", chat=dict(mallory)),
                  await standin.tap(ANNA, forged_tap, "Drohung"),
                  await standin.send_text(ANNA, "/vergessen", chat=dict(mallory))]
        await bot.handled_all(*forged)
        assert standin.bot_messages(666) == []
        assert standin.calls[calls:] == []  # not a word to anyone, no keyboard touched
        assert await service.has_conversation(ConversationKey("telegram", str(ANNA)))
        # Anna's conversation still waits at the same question, her own tap still answers it.
        await tap_and_send(standin, waiting, "Drohung")
        await standin.wait_for(asking(standin, Q_HOW))
    later = [m.text for m in standin.bot_messages(ANNA) if m.message_id > since]
    assert not any(STALE in t or "STATISTIK-KANARIE" in t for t in later)


def test_a_webhook_without_a_secret_is_refused_at_start_in_one_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    token = "123:never-shown"
    env = {**os.environ, "LOTSE_TELEGRAM_TOKEN": token,
           "LOTSE_TELEGRAM_API_URL": f"http://127.0.0.1:{free_port()}",
           "LOTSE_SECRET": "x" * 32, "LOTSE_DATA_DIR": str(tmp_path / "data"),
           "LOTSE_WEB_ENABLED": "false", "LOTSE_TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{free_port()}/hook"}
    env.pop("LOTSE_TELEGRAM_WEBHOOK_SECRET", None)
    result = subprocess.run([sys.executable, "-m", "bot", "run"], env=env, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2
    named = [line for line in result.stderr.splitlines() if "webhook_secret" in line]
    assert len(named) == 1 and named[0].startswith(
        "LOTSE_TELEGRAM_WEBHOOK_URL: 'telegram.webhook_url' needs 'telegram.webhook_secret'")
    assert "Traceback" not in result.stderr and token not in result.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was made


def test_a_webhook_secret_telegram_would_refuse_is_named_where_it_is_written(
        tmp_path: Path) -> None:
    from bot.config import Settings
    from bot.flows.problems import ContentError

    config = tmp_path / "lotse.yaml"
    config.write_text('telegram:\n  token: "1:a"\n  webhook_url: https://lotse.example/hook\n'
                      '  webhook_secret: "not allowed!"\n', encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        Settings.load(config, {})
    assert [str(p) for p in caught.value.problems] == [
        f"{config}:4:19: 'telegram.webhook_secret' must be 1 to 256 characters of "
        "A-Z a-z 0-9 _ - — Telegram accepts no other secret"]


async def test_a_channel_built_with_a_webhook_but_no_secret_does_not_start(
        shipped: Bundle, tmp_path: Path, standin: StandIn) -> None:
    from bot.channels.errors import ChannelError

    port = free_port()
    settings = TelegramSettings(standin.token, standin.url, f"http://127.0.0.1:{port}/hook",
                                f"127.0.0.1:{port}", None)
    service = new_service(shipped, tmp_path)
    channel = TelegramChannel(service, settings)
    try:
        with pytest.raises(ChannelError, match="webhook_secret"):
            await channel.start()
    finally:
        service.store.close()
    assert standin.calls == []


def test_lotse_run_without_a_channel_exits_2_and_says_what_is_missing(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from bot.cli import main

    env = {"LOTSE_TELEGRAM_TOKEN": "", "LOTSE_SECRET": "x" * 32, "LOTSE_WEB_ENABLED": "false"}
    result = CliRunner().invoke(main, ["run", "--data-dir", str(tmp_path)], env=env)
    assert result.exit_code == 2
    assert "no channel configured" in result.output and "operating.md" in result.output


async def test_lotse_run_serves_telegram_from_the_environment(
        tmp_path: Path, standin: StandIn) -> None:
    import asyncio
    import os
    import signal
    import sys

    env = {**os.environ, "LOTSE_TELEGRAM_TOKEN": standin.token,
           "LOTSE_TELEGRAM_API_URL": standin.url, "LOTSE_SECRET": "x" * 32,
           "LOTSE_DATA_DIR": str(tmp_path), "LOTSE_WEB_ENABLED": "false"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env, stderr=asyncio.subprocess.PIPE)
    try:
        # Polling drops what came before it started: write once it asked for updates.
        await standin.wait_for(lambda: standin.calls_to("deleteWebhook"), timeout=60)
        await standin.send_text(ANNA, "/start", lang="en")
        shown = await standin.wait_for(lambda: standin.last_with_keyboard(ANNA), timeout=60)
        assert "Are you in danger right now?" in shown.text  # the user's Telegram language
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert standin.token not in stderr.decode()


async def test_one_slow_conversation_does_not_hold_up_another(
        shipped: Bundle, tmp_path: Path, standin: StandIn) -> None:
    ben = 502
    async with running(new_service(shipped, tmp_path), standin) as bot:
        slow = bot.channel.chat(ANNA).lock
        await slow.acquire()  # Anna's turn is stuck (a slow disk, a slow upload …)
        try:
            await standin.send_text(ANNA, "/start")
            await standin.send_text(ben, "/start")
            await standin.wait_for(lambda: standin.last_with_keyboard(ben))
            assert standin.bot_messages(ANNA) == []
        finally:
            slow.release()
        await standin.wait_for(asking(standin, Q_DANGER))


async def test_emergency_contacts_arrive_as_html_with_the_numbers_and_links(
        shipped: Bundle, tmp_path: Path, standin: StandIn) -> None:
    async with running(new_service(shipped, tmp_path), standin):
        await standin.send_text(ANNA, "/start")
        since = standin.last_id()
        await answer(standin, Q_DANGER, "Ja")
        card = await standin.wait_for(said_after(standin, since, "<b>Polizei – Notruf</b>"))
    assert "Telefon: 110" in card.text
    sent = [c.params["text"] for c in standin.calls_to("sendMessage")]
    assert all(c.params.get("parse_mode") == "HTML" for c in standin.calls_to("sendMessage"))
    assert not any("<a href=\"tel:" in text for text in sent)  # plain numbers: the apps link them


async def test_a_reminder_arrives_in_the_chat_and_can_end_all_reminders(
        shipped: Bundle, tmp_path: Path, standin: StandIn) -> None:
    import datetime as dt

    from bot.config import ReminderSettings
    from bot.service.reminders import ReminderScheduler
    from storage.reminder_store import ReminderStore

    store = StateStore(tmp_path / "state.db")
    reminders = ReminderStore(store)
    service = ConversationService(shipped, store, KeyHasher(SECRET), reminders=reminders)
    async with running(service, standin) as bot:
        listing = await write(standin, "erinnerungen", "Erinnerungen")
        assert "keine Erinnerungen" in listing.text  # Telegram can remind; none set yet
        hashed = service.hasher(ConversationKey("telegram", str(ANNA)))
        due = dt.datetime(2027, 2, 7, 8, 0, tzinfo=dt.UTC)  # 9:00 in Berlin
        reminders.add(hashed, "telegram", str(ANNA), int(due.timestamp()), "employee.deadline",
                      "de")
        store.commit()
        clock = lambda: due + dt.timedelta(minutes=5)  # noqa: E731 - the moved clock
        rounds = ReminderScheduler(service, {"telegram": bot.channel},
                                   ReminderSettings(), clock, pause=0)
        assert await rounds.tick() == 1
        shown = await standin.wait_for(asking(standin, "Wie soll es weitergehen?"))
        said = "\n".join(m.text for m in standin.bot_messages(ANNA))
        assert "Die Frist für einen Strafantrag endet am 24.02.2027" in said
        assert "Onlinewache" in said
        reminders.add(hashed, "telegram", str(ANNA), int(due.timestamp()) + 86400,
                      "employee.checkin", "de")
        store.commit()
        since = standin.last_id()
        await standin.tap(ANNA, shown, "Keine Erinnerungen mehr")
        await standin.wait_for(said_after(standin, since, "Alle Erinnerungen sind beendet"))
        assert reminders.count() == 0
        assert await rounds.tick() == 0


async def walk_to_reminder_offer(standin: StandIn, bot: Bot, user: int) -> Shown:
    """A new user taps and types through the employee flow as in tests/test_reminders.py:
    insulted on the phone yesterday, wants to know about the police, no report. Returns the
    reminder offer as shown."""
    wanted = {"safety": "no", "role": "self", "injured": "no", "kind": "insult",
              "channel": "phone", "police_offer": "yes"}
    await bot.handled_all(await standin.send_text(user, "/start"))
    for _ in range(60):
        last = standin.bot_messages(user)[-1]
        asking_now = standin.last_with_keyboard(user)
        if asking_now is not None and asking_now.message_id == last.message_id:
            buttons = [b for row in asking_now.keyboard or [] for b in row]
            node = buttons[0]["callback_data"].split(" ")[1]
            if node.startswith("reminder_offer"):
                return asking_now
            if any(b["callback_data"] == "#send" for b in buttons):  # several answers
                if any(b["text"].startswith("✓") for b in buttons):
                    await bot.handled_all(await standin.tap(user, asking_now, "Auswahl senden"))
                    continue
                buttons = [b for b in buttons if b["callback_data"] != "#send"]
            ids = [b["callback_data"].split(" ")[2] for b in buttons]
            pick = wanted.get(node) if wanted.get(node) in ids else next(
                (i for i in ids if i in ("no", "none", "later")), ids[0])
            label = buttons[ids.index(pick)]["text"]
            update = await standin.tap(user, asking_now, label)
        else:
            update = await standin.send_text(
                user, "gestern" if "Wann" in last.text else "überspringen")
        await bot.handled_all(update)
    raise AssertionError("never offered reminders")


async def test_a_new_user_gets_the_reminders_asked_for_at_their_time_and_none_after_stop(
        shipped: Bundle, tmp_path: Path, standin: StandIn) -> None:
    import datetime as dt

    from bot.config import ReminderSettings
    from bot.service.reminders import ReminderScheduler
    from storage.reminder_store import ReminderStore

    from .helpers import NOW

    now = [NOW]
    store = StateStore(tmp_path / "state.db")
    reminders = ReminderStore(store)
    service = ConversationService(shipped, store, KeyHasher(SECRET), lambda: now[0],
                                  reminders=reminders)
    berlin = dt.timezone(dt.timedelta(hours=1))
    ben = 502
    async with running(service, standin) as bot:
        rounds = ReminderScheduler(service, {"telegram": bot.channel},
                                   ReminderSettings(), lambda: now[0], pause=0)
        for user in (ANNA, ben):
            offer = await walk_to_reminder_offer(standin, bot, user)
            assert "Soll ich Sie erinnern?" in offer.text
            since = standin.last_id()
            # A multiple choice by taps: each tap ticks in place, then "Auswahl senden".
            await bot.handled_all(await standin.tap(user, offer, "1. An die Strafantragsfrist"))
            await bot.handled_all(await standin.tap(user, offer, "2. In drei Tagen"))
            assert [b["text"][:4] for row in offer.keyboard or [] for b in row][:2] == [
                "✓ 1.", "✓ 2."]
            await bot.handled_all(await standin.tap(user, offer, "Auswahl senden"))
            assert await standin.wait_for(said_after(standin, since, "07.02.2027", user))

        # The check-in is due on 28 Nov at a random moment from 9:00 to 17:00 (spread_due)
        now[0] = dt.datetime(2026, 11, 28, 8, 59, tzinfo=berlin)
        assert await rounds.tick() == 0  # not yet
        now[0] = dt.datetime(2026, 11, 28, 17, 0, tzinfo=berlin)
        since = standin.last_id()
        assert await rounds.tick() == 2  # the check-in, to both
        for user in (ANNA, ben):
            await standin.wait_for(said_after(standin, since, "Wie geht es Ihnen", user))
        # Ben has had enough: "stopp" in answer to the reminder ends all of his.
        since = standin.last_id()
        await bot.handled_all(await standin.send_text(ben, "stopp"))
        await standin.wait_for(said_after(standin, since, "Alle Erinnerungen sind beendet", ben))

        now[0] = dt.datetime(2027, 2, 7, 8, 59, tzinfo=berlin)
        assert await rounds.tick() == 0
        now[0] = dt.datetime(2027, 2, 7, 9, 1, tzinfo=berlin)
        since = standin.last_id()
        assert await rounds.tick() == 1  # the deadline, for Anna only
        await standin.wait_for(said_after(standin, since, "endet am 24.02.2027"))
        assert not [m for m in standin.bot_messages(ben) if m.message_id > since]
        assert reminders.count() == 0


async def test_a_multiple_choice_is_ticked_by_taps_and_sent_with_one_button(
        shipped: Bundle, tmp_path: Path, standin: StandIn) -> None:
    from bot.flows.checker import Sources, check

    from .helpers import write_flows

    flow = """
        flow: pick
        version: 1
        title: {de: Wahl, en: Choice}
        start: which
        nodes:
          which:
            ask: {de: Was trifft zu?, en: What applies?}
            slot: which
            multiple: true
            choices:
              - {id: a, label: {de: Erstens, en: First}}
              - {id: b, label: {de: Zweitens, en: Second}}
              - {id: c, label: {de: Drittens, en: Third}}
            next: shown
          shown:
            say: {de: "Gewählt: {which}", en: "Chosen: {which}"}
            end: true
    """
    result = check(Sources((*Sources.shipped().flow_files,
                            *write_flows(tmp_path / "flows", flow)),
                           Sources.shipped().content_dirs))
    assert result.bundle is not None, result.errors
    service = new_service(result.bundle, tmp_path)
    async with running(service, standin) as bot:
        from bot.engine.conversation import Start

        # Telegram has no way to name a flow: begin this one as the service would
        await bot.channel.push(str(ANNA), await service.handle(
            ConversationKey("telegram", str(ANNA)), Start("de", "pick")), "de")
        question = await standin.wait_for(asking(standin, "Was trifft zu?"))
        await bot.handled_all(await standin.tap(ANNA, question, "Auswahl senden"))
        assert standin.last_with_keyboard(ANNA) is question  # nothing sent, still asking
        await bot.handled_all(await standin.tap(ANNA, question, "1. Erstens"))
        await bot.handled_all(await standin.tap(ANNA, question, "3. Drittens"))
        await bot.handled_all(await standin.tap(ANNA, question, "1. Erstens"))  # untick
        labels = [b["text"] for row in question.keyboard or [] for b in row]
        assert labels == ["1. Erstens", "2. Zweitens", "✓ 3. Drittens", "Auswahl senden"]
        since = standin.last_id()
        await bot.handled_all(await standin.tap(ANNA, question, "Auswahl senden"))
        done = await standin.wait_for(said_after(standin, since, "Gewählt: Drittens"))
        assert "Erstens" not in done.text
        assert question.keyboard in (None, [])  # the answered question's keyboard is gone
