"""The conversation service: the async layer between channels and the pure engine.

One lock per conversation, so two messages arriving at once are handled in order; the state is
loaded before and saved after every turn, so a restart loses nothing; idle conversations expire;
an event delivered twice is handled once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from bot.commands import Command, parse_command
from bot.conversation import (
    Document,
    Ended,
    Event,
    Output,
    Question,
    Reminders,
    Reopen,
    Report,
    Said,
    Say,
    State,
    state_from_json,
    state_to_json,
)
from bot.deadlines import prepare
from bot.engine import listed_reminders, step
from bot.flowmodel import Bundle, Deadline
from bot.keys import ConversationKey, KeyHasher
from bot.ratelimit import RateLimit, Verdict
from bot.reminder_times import reminder_date
from storage.conversation_store import ConversationStore
from storage.reminder_store import ReminderStore, StoredReminder
from storage.report_store import ReportStore

log = logging.getLogger(__name__)

SEEN_LIMIT = 32
"""How many recent event ids each conversation remembers to spot duplicates."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _KeyedLocks:
    """A FIFO mutex per conversation key: free when uncontended, dropped when released.

    Cheaper than an asyncio.Lock per key with a context manager: most turns meet no other turn
    of the same conversation and take no await at all.
    """

    def __init__(self) -> None:
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}

    def try_acquire(self, key: str) -> bool:
        """Take the lock when it is free, without a coroutine: the common case."""
        if key in self._waiting:
            return False
        self._waiting[key] = deque()
        return True

    async def acquire(self, key: str) -> None:
        queue = self._waiting.get(key)
        if queue is None:
            self._waiting[key] = deque()
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release(key)  # we were handed the lock as we were cancelled: pass it on
            else:
                queue.remove(future)
            raise

    def release(self, key: str) -> None:
        queue = self._waiting[key]
        while queue:
            future = queue.popleft()
            if not future.done():
                future.set_result(None)
                return
        del self._waiting[key]

    def __len__(self) -> int:
        return len(self._waiting)


class _GroupCommit:
    """Turns that finish together share one COMMIT, and so one disk sync.

    A turn's reply is released only after its write is committed, so what a user was told is
    always on disk. Where the commit holds the event loop, at most `limit` turns wait for one,
    which bounds the latency. Where the writer process commits, one batch is on its way at a
    time, and the turns that finish meanwhile make the next: the busier, the larger the batches.
    """

    def __init__(self, store: ConversationStore, on_failure: Callable[[], None],
                 limit: int = 16) -> None:
        self._store = store
        self._on_failure = on_failure
        self._limit = limit
        self._waiting: list[asyncio.Future[None]] = []
        self._scheduled: asyncio.Handle | None = None
        self._scrub = False
        self._committing = False
        """A batch is with the writer process."""
        self._upkeep: asyncio.Handle | None = None

    def wait(self, scrub: bool = False) -> asyncio.Future[None]:
        """The commit to await (a future, not a coroutine: one step less on every turn);
        `scrub`: also fold the WAL into the database and empty it, because the turn forgot a
        conversation whose older versions still sit in the WAL."""
        self._scrub = self._scrub or scrub
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._waiting.append(future)
        if self._committing:
            return future  # goes with the next batch, when this one is committed
        if len(self._waiting) >= self._limit:
            self.flush()
        elif self._scheduled is None:
            self._scheduled = loop.call_soon(self.flush)
        return future

    def flush(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        if self._committing or not self._waiting:
            return
        waiting, self._waiting = self._waiting, []
        scrub, self._scrub = self._scrub, False
        try:
            committing = self._store.commit_async(scrub)
        except Exception as err:  # disk full, I/O error: every waiting turn fails, none lies
            self._settle(waiting, err)
            return
        if committing is None:
            self._settle(waiting, None)
            return
        self._committing = True
        committing.add_done_callback(lambda done: self._committed(waiting, done))

    def _committed(self, waiting: list[asyncio.Future[None]],
                   done: asyncio.Future[None]) -> None:
        self._committing = False
        self._settle(waiting, asyncio.CancelledError() if done.cancelled() else done.exception())
        self.flush()  # the turns that finished meanwhile

    def _settle(self, waiting: list[asyncio.Future[None]], err: BaseException | None) -> None:
        if err is not None:
            self._on_failure()
        for future in waiting:
            if future.done():
                continue
            if err is None:
                future.set_result(None)
            else:
                future.set_exception(err)
        if err is None and self._upkeep is None:
            # Scheduled after the waiting turns resume, so their replies go out first.
            self._upkeep = asyncio.get_running_loop().call_soon(self._run_upkeep)

    def _run_upkeep(self) -> None:
        self._upkeep = None
        try:
            self._store.upkeep()
        except Exception:  # upkeep that fails is tried again after the next batch
            log.exception("state store upkeep failed")


@dataclass(slots=True)
class _Known:
    """A conversation as last saved, kept in memory so a turn needs one SQL statement, not two."""

    state: State | None
    seen: list[str]
    expires_at: int


class ConversationService:
    def __init__(self, bundle: Bundle, store: ConversationStore, hasher: KeyHasher,
                 clock: Callable[[], dt.datetime] = utc_now,
                 idle: dt.timedelta = dt.timedelta(hours=24),
                 cache_size: int = 10_000, reports: ReportStore | None = None,
                 admins: frozenset[ConversationKey] = frozenset(),
                 statistics: Callable[[str], str] | None = None,
                 reminders: ReminderStore | None = None) -> None:
        self.bundle = bundle
        self.reminders = reminders
        """Where reminders are kept; None: no channel here can deliver them (none offered)."""
        self.reports = reports
        self.admins = admins
        self.statistics = statistics
        self.store = store
        self.hasher = hasher
        self.clock = clock
        self.idle = idle
        self.locks = _KeyedLocks()
        self._cache_size = cache_size
        self._known: OrderedDict[str, _Known] = OrderedDict()
        self._commits = _GroupCommit(store, self._known.clear)
        self.rate_limit: RateLimit | None = None
        """How fast one conversation may write; None: no limit (the console, tests). A channel
        open to the public sets one, so that one flooding user cannot slow down the others."""
        prepare((node.region for flow in bundle.flows.values() for node in flow.nodes.values()
                 if isinstance(node, Deadline)), clock().date())

    async def handle(self, key: ConversationKey, event: Event, event_id: str | None = None,
                     reply_to: str | None = None) -> tuple[Output, ...]:
        """Run one turn; returns what to send. A duplicate event id returns nothing.

        `reply_to`: where the channel could write on its own later (a chat, a room); given only
        by channels that can, and only then are reminders offered and kept."""
        hashed = self.hasher(key)
        if self.rate_limit is not None:
            verdict = self.rate_limit.check(hashed)
            # `forget` always passes: erasing must never wait for a flood to calm down.
            if verdict is not Verdict.ALLOW and _command(event) != (Command.FORGET, None):
                return self._refused(hashed, event, verdict)
        if not self.locks.try_acquire(hashed):
            await self.locks.acquire(hashed)
        try:
            return await self._turn(key, hashed, event, event_id, reply_to)
        finally:
            self.locks.release(hashed)

    async def open_reminder(self, reminder: StoredReminder) -> tuple[Output, ...]:
        """A due reminder opens its place in the flow; returns what to send to its address.
        Nothing when the flows no longer have that reminder."""
        item = self.bundle.reminders.get(reminder.kind)
        if item is None:
            return ()
        due = dt.datetime.fromtimestamp(reminder.due_at, dt.UTC)
        event = Reopen(item.open_flow, item.open_node, item.id, reminder_date(item, due),
                       reminder.lang)
        await self.locks.acquire(reminder.conversation)
        try:
            return await self._turn(None, reminder.conversation, event, None, reminder.address,
                                    reminder.channel)
        finally:
            self.locks.release(reminder.conversation)

    async def _turn(self, key: ConversationKey | None, hashed: str, event: Event,
                    event_id: str | None, reply_to: str | None = None,
                    platform: str | None = None) -> tuple[Output, ...]:
        """One turn under the conversation's lock. `platform`: the channel a reminder came on,
        when there is no key (a reminder knows only the hashed conversation)."""
        now = self.clock()
        known = self._load(hashed)
        state: State | None = None
        seen: list[str] = []
        stamp = int(now.timestamp())
        if known is not None and known.expires_at >= stamp:
            state, seen = known.state, known.seen
        digest = self.hasher.event(event_id) if event_id else None
        if digest is not None:
            if digest in seen:
                return ()
            seen = [*seen, digest][-SEEN_LIMIT:]
        # (An empty set first: hashing a key is a Python-level call on every turn.)
        statistics = self.statistics if self.admins and key in self.admins else None
        can_remind = reply_to is not None and self.reminders is not None
        # Only where the service answers a command itself; the engine parses the rest.
        command = _command(event) if statistics is not None or can_remind else None
        lang = state.lang if state else self.bundle.default_language
        if statistics is not None and command is not None and command[0] is Command.STATS:
            return (Say(statistics(lang)),)
        if can_remind and command == (Command.REMINDERS, None):
            # The list is kept here, not in the engine; "reminders stop" goes on to the engine.
            return (Say(self.reminder_list(hashed, lang)),)
        turn = step(self.bundle, state, event, now, can_remind)
        outputs = turn.outputs
        changes: list[Reminders] = []
        reports: list[Report] = []
        erased = handed_over = False
        for output in outputs:  # one pass; most outputs are words and questions
            if isinstance(output, (Say, Question)):
                continue
            if isinstance(output, Reminders):
                changes.append(output)
            elif isinstance(output, Report):
                reports.append(output)
            elif isinstance(output, Document):
                handed_over = True
            elif isinstance(output, Ended) and output.erased:
                erased = True
        for change in changes:
            self._set_reminders(hashed, key.platform if key else platform, reply_to, change)
        if changes or reports:  # for the service only, never for a channel
            outputs = tuple(o for o in outputs if not isinstance(o, (Reminders, Report)))
        # A document was handed over: its typed answers are erased from the state, and the
        # older versions of the row that hold them must become unreadable where they linger
        # (the WAL): a new key for the state, the old one overwritten. A forgotten conversation
        # also leaves the WAL at once, sealed or not.
        if handed_over:
            self.store.rekey(hashed)
        if erased and self.reminders is not None:
            self.reminders.cancel(hashed)
        kept = not (erased or (turn.state is None and not seen))
        expires = stamp + int(self.keep_for(turn.state).total_seconds())
        if kept:
            encoded = state_to_json(turn.state) if turn.state is not None else None
            self.store.save(hashed, encoded, " ".join(seen), stamp, expires)
        else:
            self.store.delete(hashed)
        self._known.pop(hashed, None)
        await self._commits.wait(scrub=erased)
        if kept:
            self._remember(hashed, _Known(turn.state, seen, expires))
        # Reports only after the turn's state, with this event's id, is committed: a failed
        # commit or a kill before it stores none, and the message delivered again stores it
        # once. (A kill in between loses this one report: never a doubled one.)
        for report in reports:
            if self.reports is not None:
                self.reports.add(report.report_month, report.incident_month, report.flow,
                                 report.flow_version, report.answers)
        return outputs

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
            self.reminders.add(hashed, platform, reply_to, int(due.timestamp()), kind,
                               change.lang)

    def reminder_list(self, hashed: str, lang: str) -> str:
        """The reminders still to come, as the `reminders` command shows them."""
        pending = self.reminders.of(hashed) if self.reminders is not None else []
        return listed_reminders(self.bundle, [
            (r.kind, dt.datetime.fromtimestamp(r.due_at, dt.UTC)) for r in pending], lang)

    def _refused(self, hashed: str, event: Event, verdict: Verdict) -> tuple[Output, ...]:
        """Over the rate limit: one notice, then silence. No lock, no database, no engine: a
        flood costs the others nothing but this."""
        if verdict is Verdict.DROP:
            return ()
        known = self._load(hashed)  # once per flood: one read at most
        lang = self.bundle.pick_language(known.state.lang if known and known.state
                                         else event.lang)
        return (Say(self.bundle.text("rate_limited", lang)),)

    def _load(self, hashed: str) -> _Known | None:
        known = self._known.get(hashed)
        if known is not None:
            self._known.move_to_end(hashed)
            return known
        stored = self.store.load(hashed)
        if stored is None:
            return None
        known = _Known(_decode(stored.state), _seen(stored.seen),
                       stored.expires_at)
        self._remember(hashed, known)
        return known

    def _remember(self, hashed: str, known: _Known) -> None:
        self._known[hashed] = known
        self._known.move_to_end(hashed)
        if len(self._known) > self._cache_size:
            self._known.popitem(last=False)

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
        known = self._load(self.hasher(key))
        if known is None or known.state is None:
            return False
        return known.expires_at >= int(self.clock().timestamp())  # as a turn compares

    def language(self, key: ConversationKey) -> str | None:
        """The language of a running conversation, for a channel's own words around it."""
        known = self._load(self.hasher(key))
        return known.state.lang if known and known.state else None

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
        self._known.clear()
        return self.store.purge_expired(int(self.clock().timestamp()))


def _command(event: Event) -> tuple[Command, str | None] | None:
    """The command a typed message is, if any (none is longer than 100 characters)."""
    if not isinstance(event, Said) or len(event.text) > 100:
        return None
    return parse_command(event.text)


def _seen(text: str) -> list[str]:
    """The recent event digests: space-separated (a JSON list in rows written before 0.2)."""
    if not text.startswith("["):
        return text.split()
    try:
        seen = orjson.loads(text)
    except orjson.JSONDecodeError:
        return []  # lost de-duplication memory is better than a crashed conversation
    return [str(s) for s in seen] if isinstance(seen, list) else []


def _decode(text: str | None) -> State | None:
    if text is None:
        return None
    try:
        return state_from_json(text)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None  # an unreadable state starts afresh rather than crash the conversation
