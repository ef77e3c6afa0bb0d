"""The conversation service: the async layer between channels and the pure engine.

Turns of one conversation run in order under its lock; a turn is committed before its reply is
released, so a restart loses nothing a user was told; an event delivered twice is handled once;
a confirmed report is stored exactly once (through the outbox, storage/report_outbox.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from bot.engine.commands import Command, parse_command
from bot.engine.conversation import (
    Document,
    Ended,
    Event,
    Output,
    Reminders,
    Reopen,
    Report,
    Said,
    Say,
    State,
    state_from_json,
    state_to_json,
)
from bot.engine.deadlines import prepare
from bot.engine.reminder_times import reminder_date
from bot.engine.turn import listed_reminders, step
from bot.flows.model import Bundle, Deadline
from bot.service.keys import ConversationKey, KeyHasher
from bot.service.ratelimit import RateLimit, Verdict
from bot.service.spread import spread_due
from storage import report_outbox
from storage.reminder_store import ReminderStore, StoredReminder
from storage.report_store import ReportStore, StoredReport, checked
from storage.state_store import StateStore

SEEN_LIMIT = 32
"""How many recent event ids each conversation remembers to spot duplicates."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _Locks:
    """An asyncio.Lock per conversation key, dropped once nobody holds or waits for it: the
    table holds only the conversations with a turn in flight (`drain` counts them)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)


class _GroupCommit:
    """Turns that finish in the same pass of the event loop share one commit, which each
    reply waits for. If a turn's writes or the commit fail, the whole batch fails and nothing
    of it is kept: no turn tells its user something that is not on disk."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._batch: asyncio.Future[None] | None = None

    def join(self) -> asyncio.Future[None]:
        """The commit of the writes just made, run once this pass of the event loop ends."""
        if self._batch is None:
            loop = asyncio.get_running_loop()
            self._batch = loop.create_future()
            loop.call_soon(self._commit)
        return self._batch

    def abort(self, err: BaseException) -> None:
        """A turn failed halfway through its writes: drop the whole batch."""
        self._store.rollback()
        batch, self._batch = self._batch, None
        if batch is not None and not batch.done():
            batch.set_exception(err)

    def _commit(self) -> None:
        batch, self._batch = self._batch, None
        if batch is None:
            return  # aborted; the next batch has its own call
        try:
            self._store.commit()
        except Exception as err:  # disk full, I/O error
            self._store.rollback()
            batch.set_exception(err)
        else:
            batch.set_result(None)


@dataclass(frozen=True, slots=True)
class _Stored:
    """A conversation as stored, read for a turn (and kept in `recent` after it)."""

    state: State | None
    """None: the conversation ended, or its state could not be read."""
    seen: list[str]
    expires_at: int


class ConversationService:
    def __init__(self, bundle: Bundle, store: StateStore, hasher: KeyHasher,
                 clock: Callable[[], dt.datetime] = utc_now,
                 idle: dt.timedelta = dt.timedelta(hours=24),
                 reports: ReportStore | None = None,
                 admins: frozenset[ConversationKey] = frozenset(),
                 statistics: Callable[[str], str] | None = None,
                 reminders: ReminderStore | None = None, recent_size: int = 10_000,
                 batched: bool = False) -> None:
        self.bundle = bundle
        self.batched = batched
        """Confirmed reports wait in the outbox for a batch (`lotse run`'s ReportBatches, each
        start), so that reports.db does not change when one is filed; False: on after each turn
        (tests)."""
        self.reminders = reminders
        """Where reminders are kept; None: no channel here can deliver them (none offered)."""
        self.reports = reports
        self.admins = admins
        self.statistics = statistics
        self.store = store
        self.hasher = hasher
        self.clock = clock
        self.idle = idle
        self.locks = _Locks()
        self._commits = _GroupCommit(store)
        self.recent: OrderedDict[str, _Stored] = OrderedDict()
        """The last committed state of the most recent conversations, so that a turn need not
        read and decrypt it again (the Telegram target in docs/benchmarks.md); bounded."""
        self.recent_size = recent_size
        self.write_failed_at: dt.datetime | None = None
        """When the last write of a turn failed (a full disk); None once one succeeded since:
        `/healthz` answers 503 meanwhile."""
        self.rate_limit: RateLimit | None = None
        """How fast one conversation may write; None: no limit (the console, tests)."""
        prepare((node.region for flow in bundle.flows.values() for node in flow.nodes.values()
                 if isinstance(node, Deadline)), clock().date())
        if reports is not None:  # reports a kill left between their commit and reports.db
            report_outbox.deliver(store, reports)

    async def handle(self, key: ConversationKey, event: Event, event_id: str | None = None,
                     reply_to: str | None = None) -> tuple[Output, ...]:
        """Run one turn; returns what to send (nothing for a duplicate event id). `reply_to`:
        where the channel can write on its own later; only then are reminders offered."""
        hashed = self.hasher(key)
        if self.rate_limit is not None:
            verdict = self.rate_limit.check(hashed)
            # `forget` always passes: erasing must never wait for a flood to calm down.
            if verdict is not Verdict.ALLOW and _command(event) != (Command.FORGET, None):
                return self._refused(hashed, event, verdict)
        async with self.locks.hold(hashed):
            return await self._turn(key, hashed, event, event_id, reply_to)

    async def open_reminder(self, reminder: StoredReminder) -> tuple[Output, ...]:
        """Reopen a due reminder's place in the flow; nothing if the flows no longer have it."""
        item = self.bundle.reminders.get(reminder.kind)
        if item is None:
            return ()
        due = dt.datetime.fromtimestamp(reminder.due_at, dt.UTC)
        event = Reopen(item.open_flow, item.open_node, item.id, reminder_date(item, due),
                       reminder.lang)
        async with self.locks.hold(reminder.conversation):
            return await self._turn(None, reminder.conversation, event, None, reminder.address,
                                    reminder.channel)

    async def _turn(self, key: ConversationKey | None, hashed: str, event: Event,
                    event_id: str | None, reply_to: str | None = None,
                    platform: str | None = None) -> tuple[Output, ...]:
        """One turn under the lock; `platform`: a reminder's channel, as it has no key."""
        now = self.clock()
        stored = self._load(hashed)
        state: State | None = None
        seen: list[str] = []
        stamp = int(now.timestamp())
        if stored is not None and stored.expires_at >= stamp:
            state, seen = stored.state, stored.seen
        digest = self.hasher.event(event_id) if event_id else None
        if digest is not None:
            if digest in seen:
                return ()
            seen = [*seen, digest][-SEEN_LIMIT:]
        statistics = self.statistics if key in self.admins else None
        can_remind = reply_to is not None and self.reminders is not None
        # Two commands the service answers itself; the engine handles the rest.
        command = _command(event)
        lang = state.lang if state else self.bundle.default_language
        if statistics is not None and command is not None and command[0] is Command.STATS:
            return (Say(statistics(lang)),)
        if can_remind and command == (Command.REMINDERS, None):
            # The list is kept here, not in the engine; "reminders stop" goes on to the engine.
            return (Say(self.reminder_list(hashed, lang)),)
        turn = step(self.bundle, state, event, now, can_remind)
        changes = [o for o in turn.outputs if isinstance(o, Reminders)]
        # Checked before the first write: one reports.db would refuse fails this turn alone.
        reports = [checked(StoredReport(o.report_month, o.incident_month, o.flow, o.flow_version,
                                        o.answers))
                   for o in turn.outputs if isinstance(o, Report) and self.reports is not None]
        handed_over = any(isinstance(o, Document) for o in turn.outputs)
        erased = any(isinstance(o, Ended) and o.erased for o in turn.outputs)
        kept = not (erased or (turn.state is None and not seen))
        expires = stamp + int(self.keep_for(turn.state).total_seconds())
        if erased or handed_over:
            # Erase by key first, whatever the commit does (issue #26, item 10): overwriting a
            # key record needs no new space, so on a full disk too the stored state (typed text
            # and all) is unreadable from here on and reads as none; if the commit then fails,
            # the turn fails, and a retry or a restart finds no conversation to go on with.
            self.recent.pop(hashed, None)
            try:
                self.store.erase_key(hashed)
            except Exception:
                self._write_failed()
                raise
        # No await from the first write to joining the batch (`_GroupCommit`).
        try:
            for change in changes:
                self._set_reminders(hashed, key.platform if key else platform, reply_to, change)
            # A document was handed over: older versions of the row still hold its answers in
            # the WAL, so the state gets a new key (the old one is zeros already, above).
            if handed_over:
                self.store.rekey(hashed)
            if erased and self.reminders is not None:
                self.reminders.cancel(hashed)
            for report in reports:
                report_outbox.post(self.store, report)
            if kept:
                encoded = state_to_json(turn.state) if turn.state is not None else None
                self.store.save(hashed, encoded, " ".join(seen), stamp, expires)
            else:
                self.store.delete(hashed)
        except BaseException as err:
            self.recent.clear()
            self._commits.abort(err)
            if isinstance(err, Exception):
                self._write_failed()
            raise
        try:
            await asyncio.shield(self._commits.join())
        except BaseException as err:
            self.recent.clear()  # the batch's other turns were not kept either
            if not isinstance(err, asyncio.CancelledError):
                self._write_failed()
            raise
        self.write_failed_at = None
        if erased:  # a forgotten conversation also leaves the WAL at once
            self.store.checkpoint()
        self._remember(hashed, _Stored(turn.state, seen, expires) if kept else None)
        # The reports were committed to the outbox with the state holding this event's id, so
        # a message delivered again posts none twice; now they move on to reports.db (a kill
        # before that leaves them to the next start).
        if reports and self.reports is not None and not self.batched:
            report_outbox.deliver(self.store, self.reports)
        return tuple(o for o in turn.outputs if not isinstance(o, (Reminders, Report)))

    def _write_failed(self) -> None:
        self.write_failed_at = self.clock()

    def _set_reminders(self, hashed: str, platform: str | None, reply_to: str | None,
                       change: Reminders) -> None:
        if self.reminders is None:
            return
        if change.cancel:
            self.reminders.cancel(hashed)
            return
        if reply_to is None or platform is None:
            return
        for kind, due in change.items:
            item = self.bundle.reminders.get(kind)
            if item is not None and item.after_days is not None:
                due = spread_due(due)  # not three days to the second after this turn
            self.reminders.add(hashed, platform, reply_to, int(due.timestamp()), kind,
                               change.lang)

    def reminder_list(self, hashed: str, lang: str) -> str:
        """The reminders still to come, as the `reminders` command shows them."""
        pending = self.reminders.of(hashed) if self.reminders is not None else []
        return listed_reminders(self.bundle, [
            (r.kind, dt.datetime.fromtimestamp(r.due_at, dt.UTC)) for r in pending], lang)

    def _refused(self, hashed: str, event: Event, verdict: Verdict) -> tuple[Output, ...]:
        """Over the rate limit: one notice, then silence; no lock, no write, no engine."""
        if verdict is Verdict.DROP:
            return ()
        stored = self._load(hashed)
        lang = self.bundle.pick_language(stored.state.lang if stored and stored.state
                                         else event.lang)
        return (Say(self.bundle.text("rate_limited", lang)),)

    def _load(self, hashed: str) -> _Stored | None:
        if hashed in self.recent:
            self.recent.move_to_end(hashed)
            return self.recent[hashed]
        stored = self.store.load(hashed)
        if stored is None:
            return None
        return _Stored(_decode(stored.state), stored.seen.split(), stored.expires_at)

    def _remember(self, hashed: str, stored: _Stored | None) -> None:
        self.recent.pop(hashed, None)
        if stored is not None:
            self.recent[hashed] = stored
            if len(self.recent) > self.recent_size:
                self.recent.popitem(last=False)

    async def drain(self, timeout: float = 10.0) -> bool:
        """Wait until no turn is in flight, so a stopping process has saved every answer it
        accepted; False when turns were still running after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.locks) and loop.time() < deadline:
            await asyncio.sleep(0.01)
        return not len(self.locks)

    async def has_conversation(self, key: ConversationKey) -> bool:
        """True when a conversation is waiting to be resumed (not ended, not expired)."""
        stored = self._load(self.hasher(key))
        if stored is None or stored.state is None:
            return False
        return stored.expires_at >= int(self.clock().timestamp())  # as a turn compares

    def state_of(self, key: ConversationKey) -> State | None:
        """A running conversation's state, read only: for a command that prints what it holds
        (`lotse checklist --chat`)."""
        stored = self._load(self.hasher(key))
        return stored.state if stored else None

    def language(self, key: ConversationKey) -> str | None:
        """The language of a running conversation, for a channel's own words around it."""
        stored = self._load(self.hasher(key))
        return stored.state.lang if stored and stored.state else None

    def keep_for(self, state: State | None) -> dt.timedelta:
        """How long this conversation may stay idle: its flow's `keep_days`, or the default."""
        longest = self.idle
        for frame in state.frames if state else ():
            flow = self.bundle.flows.get(frame.flow)
            if flow is not None and flow.keep_days:
                longest = max(longest, dt.timedelta(days=flow.keep_days))
        return longest

    def purge_expired(self) -> int:
        """Erase every conversation that was idle for longer than it may be kept."""
        self.recent.clear()
        return self.store.purge_expired(int(self.clock().timestamp()))


def _command(event: Event) -> tuple[Command, str | None] | None:
    """The command a typed message is, if any (none is longer than 100 characters)."""
    if not isinstance(event, Said) or len(event.text) > 100:
        return None
    return parse_command(event.text)


def _decode(text: str | None) -> State | None:
    if text is None:
        return None
    try:
        return state_from_json(text)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None  # an unreadable state starts afresh rather than crash the conversation
