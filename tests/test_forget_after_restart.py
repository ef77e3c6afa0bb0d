"""`vergessen` after a restart deletes the chat's messages from before it (issue #26, item 11).

Telegram through python-telegram-bot and the Bot API stand-in, Matrix through matrix-nio and a
real Synapse (one for this module): a conversation, a stop of channel and service, new ones on
the same data folder, then `vergessen`. The ids kept in between are sealed: state.db's bytes
never hold one in the clear; and they are erased with their conversation when it expires.
"""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3
from pathlib import Path

from nio import RedactedEvent

from bot.engine.conversation import Said, Start
from bot.flows.model import Bundle
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey, KeyHasher
from bot.service.sent_messages import SentMessages
from storage import StateStore
from storage.state_keys import KEY_BYTES

from . import test_matrix as matrix
from . import test_telegram as telegram
from .botapi_standin import StandIn
from .helpers import Q_WHAT, SECRET, Clock
from .synapse import Synapse


def stored_bytes(data: Path) -> bytes:
    """Everything state.db holds on disk, its WAL included."""
    return b"".join(p.read_bytes() for p in data.glob("state.db*") if p.is_file())


def kept_rows(data: Path) -> int:
    with sqlite3.connect(data / "state.db") as db:
        return int(db.execute("SELECT count(*) FROM sent_messages").fetchone()[0])


async def test_telegram_forget_after_a_restart_deletes_the_messages_from_before_it(
        shipped: Bundle, tmp_path: Path, standin: StandIn) -> None:
    standin._message_ids = itertools.count(7_340_001)  # ids no other bytes look like
    async with telegram.running(telegram.new_service(shipped, tmp_path), standin):
        await telegram.first_questions(standin)
        await standin.wait_for(telegram.asking(standin, Q_WHAT))
    before = {mid for chat, mid in standin.shown if chat == telegram.ANNA}
    assert len(before) >= 7  # four questions asked and three answers given
    on_disk = stored_bytes(tmp_path)
    assert kept_rows(tmp_path) == 1
    assert not [mid for mid in before if str(mid).encode() in on_disk]

    service = telegram.new_service(shipped, tmp_path)
    async with telegram.running(service, standin):
        since = standin.last_id()
        await standin.send_text(telegram.ANNA, "/vergessen")
        note = await standin.wait_for(telegram.said_after(standin, since, "gelöscht"))
        assert not await service.has_conversation(ConversationKey("telegram",
                                                                  str(telegram.ANNA)))
    deleted = {int(i) for call in standin.calls_to("deleteMessages")
               for i in call.params["message_ids"]}
    assert before <= deleted
    left = [m for (chat, _), m in standin.shown.items() if chat == telegram.ANNA]
    assert left == [note]
    assert kept_rows(tmp_path) == 1  # the confirmation only, for a later `vergessen`


synapse = matrix.synapse
"""A homeserver of this module's own, started once for it (tests/test_matrix.py)."""


async def test_matrix_forget_after_a_restart_redacts_the_messages_from_before_it(
        shipped: Bundle, tmp_path: Path, synapse: Synapse) -> None:
    bot = synapse.register()
    settings = matrix.bot_settings(synapse, bot)
    async with matrix.employee(synapse, tmp_path / "anna") as anna:
        async with matrix.running(matrix.new_service(shipped, tmp_path), settings, tmp_path):
            await anna.open_dm(bot.user_id, encrypted=True)
            await matrix.first_questions(anna)
            await anna.said(Q_WHAT)
        before = {s.event_id for s in anna.seen}
        assert len(before) >= 4
        on_disk = stored_bytes(tmp_path)
        assert kept_rows(tmp_path) == 1
        assert anna.room_id.encode() not in on_disk
        assert not [e for e in before if e.encode() in on_disk]

        service = matrix.new_service(shipped, tmp_path)
        async with matrix.running(service, settings, tmp_path):
            await anna.write("vergessen", "gelöscht")
            assert not await service.has_conversation(
                ConversationKey("matrix", anna.account.user_id))
            timeline = await anna.client.room_messages(anna.room_id, start="", limit=100)
    redacted = {e.event_id for e in timeline.chunk if isinstance(e, RedactedEvent)}
    assert before <= redacted  # every question Lotse asked before the restart
    assert len(redacted) >= 7  # and the three answers given


async def test_the_kept_ids_go_with_their_conversation_when_it_expires(
        shipped: Bundle, tmp_path: Path) -> None:
    clock = Clock()
    store = StateStore(tmp_path / "state.db")
    service = ConversationService(shipped, store, KeyHasher(SECRET), clock)
    sent = SentMessages(store, service.hasher)
    anna, ben = ConversationKey("telegram", "501"), ConversationKey("telegram", "502")
    for key in (anna, ben):
        await service.handle(key, Start(), f"start {key.user}", key.user)
        sent.keep(key, key.user, ["7340001", "7340002"])
    sent.write()
    assert kept_rows(tmp_path) == 2
    clock.now += dt.timedelta(hours=23)
    await service.handle(ben, Said("Nein"), "ben again", ben.user)  # Ben is still talking
    clock.now += dt.timedelta(hours=2)
    assert service.purge_expired() == 1  # Anna's conversation, idle for 25 hours
    assert kept_rows(tmp_path) == 1
    assert SentMessages(store, service.hasher).of(anna, anna.user) == []
    assert SentMessages(store, service.hasher).of(ben, ben.user) == ["7340001", "7340002"]
    store.close()
    keys = (tmp_path / "state.keys").read_bytes()
    records = {keys[i:i + KEY_BYTES] for i in range(0, len(keys), KEY_BYTES)}
    assert len(records - {bytes(KEY_BYTES)}) == 2  # Ben's state and Ben's ids; Anna's are zeros
